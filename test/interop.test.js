'use strict';
// Other libraries' device memory and streams: DeviceArray.fromPointer, DeviceArray#pointer,
// opts.stream and defaultStream().
// CPU part (runs everywhere, CI included): the argument checks, which come before any device is
// needed. GPU part: a second, independent native addon (test/native/interop_addon, built with
// `npm run build:test-addon`; its own copy of the CUDA runtime) allocates memory and a stream,
// writes images with its own kernel and reads our gradient back; skipped visibly without a device
// or without that addon.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { assertClose, assertRelL2, expectThrow } = require('./helpers/check');
const ref = require('./reference');
const msref = require('./reference-msssim');

const INVALID = { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError };
const INVALID_RANGE = { code: 'ERR_SSIM_INVALID_ARGUMENT', type: RangeError };
const GRAD_TOL = 1e-4;
const VALUE_TOL = 2e-5;

describe('interop: argument checks (no device needed)', function () {
  let api;
  before(function () {
    api = pkg.api();
  });

  it('DeviceArray.fromPointer rejects a bad address, dtype or length before looking for a device', function () {
    const { DeviceArray } = api;
    expectThrow(() => DeviceArray.fromPointer(4096, 'float32', 4), INVALID, 'number address');
    expectThrow(() => DeviceArray.fromPointer('0x1000', 'float32', 4), INVALID, 'string address');
    expectThrow(() => DeviceArray.fromPointer(undefined, 'float32', 4), INVALID, 'no address');
    expectThrow(() => DeviceArray.fromPointer(0n, 'float32', 4), INVALID_RANGE, 'address 0');
    expectThrow(() => DeviceArray.fromPointer(-4096n, 'float32', 4), INVALID_RANGE, 'negative address');
    expectThrow(() => DeviceArray.fromPointer(1n << 64n, 'float32', 4), INVALID_RANGE, 'address >= 2^64');
    expectThrow(() => DeviceArray.fromPointer(4098n, 'float32', 4), INVALID_RANGE, 'misaligned float32 address');
    expectThrow(() => DeviceArray.fromPointer(4100n, 'float64', 4), INVALID_RANGE, 'misaligned float64 address');
    expectThrow(() => DeviceArray.fromPointer(4096n, 'int32', 4), { code: 'ERR_SSIM_DTYPE' }, 'dtype');
    expectThrow(() => DeviceArray.fromPointer(4096n, undefined, 4), { code: 'ERR_SSIM_DTYPE' }, 'no dtype');
    for (const length of [0, -1, 1.5, NaN, '4', 2 ** 53, undefined]) {
      expectThrow(() => DeviceArray.fromPointer(4096n, 'float32', length), INVALID, `length ${String(length)}`);
    }
    const err = expectThrow(() => DeviceArray.fromPointer(4096n, 'uint8', 3, 'cuda'), { code: api.backendInfo().cuda.available ? 'ERR_SSIM_INVALID_ARGUMENT' : 'ERR_SSIM_CUDA_UNAVAILABLE' }, 'opts');
    assert.ok(/opts|CUDA/.test(err.message), err.message);
  });

  it('DeviceArray.fromPointer with good arguments and no CUDA device says CUDA is unavailable', function () {
    if (api.backendInfo().cuda.available) this.skip();
    expectThrow(() => api.DeviceArray.fromPointer(4096n, 'uint16', 8), { code: 'ERR_SSIM_CUDA_UNAVAILABLE' });
    expectThrow(() => api.DeviceArray.fromPointer(4096n, 'float32', 8, { device: 0 }), { code: 'ERR_SSIM_CUDA_UNAVAILABLE' });
    expectThrow(() => api.defaultStream(), { code: 'ERR_SSIM_CUDA_UNAVAILABLE' });
  });

  it('opts.stream must be a bigint handle in [0, 2^64), on the CUDA backend', function () {
    const rng = testRng(this);
    const n = 16 * 16;
    const x = { data: rng.fill(new Float32Array(n)), width: 16, height: 16 };
    const y = { data: rng.fill(new Float32Array(n)), width: 16, height: 16 };
    for (const fn of ['ssim', 'dssimGradient', 'ssimMap']) {
      expectThrow(() => api[fn](x, y, { stream: 1 }), INVALID, `${fn} number stream`);
      expectThrow(() => api[fn](x, y, { stream: '0x10' }), INVALID, `${fn} string stream`);
      expectThrow(() => api[fn](x, y, { stream: null }), INVALID, `${fn} null stream`);
      expectThrow(() => api[fn](x, y, { stream: -1n }), INVALID_RANGE, `${fn} negative stream`);
      expectThrow(() => api[fn](x, y, { stream: 1n << 64n }), INVALID_RANGE, `${fn} stream >= 2^64`);
      expectThrow(() => api[fn](x, y, { backend: 'cpu', stream: 0n }), { code: 'ERR_SSIM_BACKEND' }, `${fn} CPU with a stream`);
    }
    // undefined is the default stream; the call runs.
    const v = api.ssim(x, y, { backend: 'cpu', stream: undefined });
    assertClose([v], [ref.ssimRef(x, y)[0]], VALUE_TOL, 'ssim with stream undefined');
  });

  it('opts.stream is checked after the workspace and before the outputs', function () {
    const rng = testRng(this);
    const x = { data: rng.fill(new Float32Array(64)), width: 8, height: 8 };
    expectThrow(() => api.ssimInto(new Float32Array(3), x, x, { backend: 'cpu', workspace: 1, stream: 'x' }), { code: 'ERR_SSIM_WORKSPACE' });
    expectThrow(() => api.ssimInto(new Float32Array(3), x, x, { backend: 'cpu', stream: 'x' }), INVALID);
  });
});

// --- GPU -----------------------------------------------------------------------------------------

const ADDON = path.join(__dirname, '..', 'build', 'interop_addon', 'interop_addon.node');
const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);
// With a GPU and nvcc but no test addon yet, build it (npm run build:test-addon does the same).
function buildAddon() {
  const r = require('child_process').spawnSync(process.execPath, [path.join(__dirname, 'native', 'interop_addon', 'build.js')], { encoding: 'utf8', timeout: 200000 });
  if (r.status !== 0) console.log(`    (test addon build failed: ${`${r.stderr || ''}${r.error || ''}`.trim().split('\n').slice(-3).join(' | ')})`);
}
if (gpu && !fs.existsSync(ADDON)) buildAddon();
const haveAddon = fs.existsSync(ADDON);
const skipWhy = !gpu ? 'CUDA not available' : !haveAddon ? 'test addon not built (npm run build:test-addon)' : null;

describe(`interop: another addon's memory and stream on the GPU${skipWhy ? ` (skipped: ${skipWhy})` : ''}`, function () {
  let api;
  let other; // the other addon
  let s; // its stream
  const frees = [];

  before(function () {
    if (skipWhy) this.skip();
    api = pkg.api();
    other = require(ADDON);
    s = other.createStream();
  });
  after(function () {
    if (skipWhy) return;
    other.sync(s);
    for (const p of frees) other.free(p);
    other.destroyStream(s);
  });

  function devAlloc(floats) {
    const p = other.alloc(floats * 4);
    frees.push(p);
    return p;
  }
  function read(p, n, stream = s) {
    const h = new Float32Array(n);
    other.download(p, h, stream);
    return h;
  }
  const W = 56;
  const H = 40;
  const C = 3;
  const B = 2;
  const N = W * H * C * B;
  const img = (data) => ({ data, width: W, height: H, channels: C, batch: B });

  it('fromPointer views the other addon\'s memory (pointer round trip, no allocation, dispose frees nothing)', function () {
    const p = devAlloc(N);
    const before = api.deviceCounters();
    const v = api.DeviceArray.fromPointer(p, 'float32', N);
    assert.strictEqual(v.pointer, p);
    assert.strictEqual(v.length, N);
    assert.strictEqual(v.device, 0);
    const seed = testRng(this).int(1, 1e9);
    other.fill(p, N, seed, 0, s);
    other.sync(s);
    const host = v.toHost(); // our stream reads what their kernel wrote
    assert.deepStrictEqual(host, read(p, N));
    v.dispose();
    assert.throws(() => v.pointer, { code: 'ERR_SSIM_DISPOSED' });
    const after = api.deviceCounters();
    assert.strictEqual(after.allocations, before.allocations, 'a view allocates nothing');
    assert.strictEqual(after.frees, before.frees, 'disposing a view frees nothing');
    // The memory is still theirs and alive.
    other.fill(p, N, seed + 1, 0, s);
    assert.notDeepStrictEqual(read(p, N), host);
    // Ours as a bigint.
    const own = api.DeviceArray.alloc('float32', 16);
    assert.strictEqual(typeof own.pointer, 'bigint');
    assert.ok(own.pointer > 0n);
    own.dispose();
  });

  it('fromPointer rejects host memory and another device with coded errors', function () {
    const h = other.allocHost(64);
    try {
      expectThrow(() => api.DeviceArray.fromPointer(h, 'float32', 16), INVALID, 'pinned host memory');
    } finally {
      other.freeHost(h);
    }
    expectThrow(() => api.DeviceArray.fromPointer(devAlloc(4), 'float32', 4, { device: info.cuda.devices.length }), { code: 'ERR_SSIM_OPTION' }, 'no such device');
  });

  it('a loss on the caller\'s stream is ordered after their render kernel and before their read, without a host sync', function () {
    const rng = testRng(this);
    const px = devAlloc(N);
    const py = devAlloc(N);
    const pg = devAlloc(N);
    const x = api.DeviceArray.fromPointer(px, 'float32', N);
    const y = api.DeviceArray.fromPointer(py, 'float32', N);
    const grad = api.DeviceArray.fromPointer(pg, 'float32', N);
    const out = api.DeviceArray.alloc('float32', B);
    const ws = api.Workspace.for(img(x), { gradient: true });
    try {
      const sx = rng.int(1, 1e9);
      const sy = rng.int(1, 1e9);
      other.fill(px, N, sx + 1, 0, s);
      other.fill(py, N, sy + 1, 0, s);
      // warm-up (first-use setup outside the measured call)
      api.dssimWithGradientInto(out, grad, img(x), img(y), { workspace: ws, stream: s });
      other.sync(s);
      // Their slow render kernels (20 ms sleep first), then our call, then their copy: all on s.
      other.fill(px, N, sx, 20e6, s);
      other.fill(py, N, sy, 0, s);
      const c0 = api.deviceCounters();
      api.dssimWithGradientInto(out, grad, img(x), img(y), { workspace: ws, stream: s });
      const c1 = api.deviceCounters();
      for (const k of ['allocations', 'frees', 'memsets', 'copies']) assert.strictEqual(c1[k], c0[k], `in-place call on a caller stream: ${k}`);
      const g = read(pg, N); // their copy on s, then their sync
      const xs = read(px, N);
      const ys = read(py, N);
      const values = new Float32Array(B);
      other.download(out.pointer, values, s);
      const opts = {};
      assertRelL2(g, ref.dssimGradientRef(img(xs), img(ys), opts), GRAD_TOL, 'gradient read back by the other addon');
      assertClose(values, ref.dssimRef(img(xs), img(ys), opts), VALUE_TOL, 'values');
    } finally {
      other.sync(s);
      ws.dispose();
      out.dispose();
      x.dispose();
      y.dispose();
      grad.dispose();
    }
  });

  it('render -> loss -> optimizer step, three times on one stream, matches the float64 reference loop', function () {
    const rng = testRng(this);
    const px = devAlloc(N);
    const py = devAlloc(N);
    const pg = devAlloc(N);
    const x = api.DeviceArray.fromPointer(px, 'float32', N);
    const y = api.DeviceArray.fromPointer(py, 'float32', N);
    const grad = api.DeviceArray.fromPointer(pg, 'float32', N);
    const opts = { windowSize: 7, sigma: 1.2 };
    const ws = api.Workspace.for(img(x), { gradient: true });
    const lr = 20; // gradient entries are ~5e-4 (rms) here: steps of about 1% of the range
    try {
      other.fill(px, N, rng.int(1, 1e9), 0, s);
      other.fill(py, N, rng.int(1, 1e9), 0, s);
      const x0 = read(px, N);
      const ys = read(py, N);
      for (let k = 0; k < 3; k++) {
        api.dssimGradientInto(grad, img(x), img(y), { ...opts, workspace: ws, stream: s });
        other.sgd(px, pg, N, lr, s);
      }
      const xEnd = read(px, N);
      const xr = Float64Array.from(x0);
      for (let k = 0; k < 3; k++) {
        const g = ref.dssimGradientRef(img(xr), img(ys), opts);
        for (let i = 0; i < N; i++) xr[i] -= lr * g[i];
      }
      const moved = xr.map((v, i) => v - x0[i]);
      const movedGpu = Float64Array.from(xEnd, (v, i) => v - x0[i]);
      assertRelL2(movedGpu, moved, 1e-3, 'the three steps');
      assert.ok(Math.max(...moved.map(Math.abs)) > 1e-3, 'the steps moved x');
    } finally {
      other.sync(s);
      ws.dispose();
      x.dispose();
      y.dispose();
      grad.dispose();
    }
  });

  // SSIM, and MS-SSIM (whose coarse scales run on a second stream outside a capture)
  const CAPTURED = [
    {
      name: 'ssimWithGradientInto',
      workspace: (x) => api.Workspace.for(img(x), { gradient: true }),
      call: (out, grad, x, y, opts) => api.ssimWithGradientInto(out, grad, x, y, opts),
      expected: (x, y) => ({ values: ref.ssimRef(x, y), gradient: ref.ssimGradientRef(x, y) }),
    },
    {
      name: 'msssimWithGradientInto',
      workspace: (x) => api.Workspace.for(img(x), { gradient: true, msssim: true }),
      call: (out, grad, x, y, opts) => api.msssimWithGradientInto(out, grad, x, y, opts),
      expected: (x, y) => {
        const r = msref.msssimRefFull(x, y, {}, true);
        return { values: r.values, gradient: r.gradient };
      },
    },
  ];
  for (const kind of CAPTURED) it(`an in-place call (${kind.name}) on the caller's stream can be captured into a CUDA graph and replayed on new data`, function () {
    const rng = testRng(this);
    const px = devAlloc(N);
    const py = devAlloc(N);
    const pg = devAlloc(N);
    const x = api.DeviceArray.fromPointer(px, 'float32', N);
    const y = api.DeviceArray.fromPointer(py, 'float32', N);
    const grad = api.DeviceArray.fromPointer(pg, 'float32', N);
    const out = api.DeviceArray.alloc('float32', B);
    const ws = kind.workspace(x);
    let exec = null;
    try {
      const call = () => kind.call(out, grad, img(x), img(y), { workspace: ws, stream: s });
      other.fill(px, N, 1, 0, s);
      other.fill(py, N, 2, 0, s);
      call(); // first-use setup outside the capture
      other.sync(s);
      other.beginCapture(s);
      let callError = null;
      try {
        call();
      } catch (e) {
        callError = e;
      }
      let g;
      try {
        g = other.endCapture(s);
      } catch (e) {
        throw new Error(`capture failed: our call ${callError ? `threw ${callError.code}: ${callError.message}` : 'returned'}; endCapture: ${e.message}`);
      }
      exec = g.exec;
      if (callError) throw callError;
      assert.ok(g.nodes >= 1, `the graph holds our kernels (${g.nodes} nodes)`);
      for (let round = 0; round < 2; round++) {
        // y = x - 0.3 noise: correlated, so that MS-SSIM's coarse terms stay positive
        const seed = rng.int(1, 1e9);
        other.fill(px, N, seed, 0, s);
        other.fill(py, N, seed, 0, s);
        other.fill(pg, N, rng.int(1, 1e9), 0, s);
        other.sgd(py, pg, N, 0.3, s);
        other.fill(pg, N, 7, 0, s); // overwritten by the graph
        other.launchGraph(exec, s);
        const xs = read(px, N);
        const ys = read(py, N);
        const values = new Float32Array(B);
        other.download(out.pointer, values, s);
        const want = kind.expected(img(xs), img(ys));
        assertRelL2(read(pg, N), want.gradient, GRAD_TOL, `replay ${round}: gradient`);
        assertClose(values, want.values, VALUE_TOL, `replay ${round}: values`);
      }
    } finally {
      if (exec !== null) other.destroyGraph(exec);
      other.sync(s);
      ws.dispose();
      out.dispose();
      x.dispose();
      y.dispose();
      grad.dispose();
    }
  });

  it('defaultStream() is the stream calls without opts.stream use: the other addon orders its work on it', function () {
    const rng = testRng(this);
    const ours = api.defaultStream();
    assert.strictEqual(typeof ours, 'bigint');
    assert.ok(ours > 0n);
    assert.strictEqual(api.defaultStream(0), ours);
    const px = devAlloc(N);
    const py = devAlloc(N);
    const x = api.DeviceArray.fromPointer(px, 'float32', N);
    const y = api.DeviceArray.fromPointer(py, 'float32', N);
    try {
      other.fill(px, N, rng.int(1, 1e9), 20e6, ours); // slow, on our stream
      other.fill(py, N, rng.int(1, 1e9), 0, ours);
      const g = api.dssimGradient(img(x), img(y)); // queued after them, allocates its output
      const gh = g.toHost();
      g.dispose();
      const xs = read(px, N, ours);
      const ys = read(py, N, ours);
      assertRelL2(gh, ref.dssimGradientRef(img(xs), img(ys)), GRAD_TOL, 'gradient on the default stream');
    } finally {
      x.dispose();
      y.dispose();
    }
  });

  it('host-array and promise calls with a stream wait for it and return the right values', async function () {
    const rng = testRng(this);
    const xs = rng.fill(new Float32Array(N));
    const ys = rng.fill(new Float32Array(N));
    const v = api.dssimWithGradient(img(xs), img(ys), { stream: s });
    assertClose(v.value, ref.dssimRef(img(xs), img(ys)), VALUE_TOL, 'host values on a stream');
    assertRelL2(v.gradient, ref.dssimGradientRef(img(xs), img(ys)), GRAD_TOL, 'host gradient on a stream');
    const p = await pkg.promises().ssim(img(xs), img(ys), { stream: s });
    assertClose(p, ref.ssimRef(img(xs), img(ys)), VALUE_TOL, 'promise values on a stream');
    const m = api.ssimMap(img(xs), img(ys), { stream: 0n }); // the legacy default stream
    assert.strictEqual(m.length, B * W * H);
  });
});
