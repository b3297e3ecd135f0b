'use strict';
// Issue 15, host side of the CUDA backend (skipped without a GPU):
// - promise calls whose host copies fit page-locked blocks (every device-array call, and host
//   arrays up to 4 MiB each) are enqueued on the JavaScript thread and settle from the device's
//   stream (binding/stream_job.cc): same results as the sync call, in order, with the safety of the
//   worker path (a transferred output, a terminated worker thread, process.exit with calls in flight);
// - large pageable host arrays go through pinned staging buffers in chunks
//   (binding/host_staging.cc): the same bits as the same call on device arrays.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair } = require('./helpers/images');
const { assertClose, assertSameArray, poisoned } = require('./helpers/check');

const { runChild, expectClean } = require('./helpers/child');

const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);
const CUDA = { backend: 'cuda' };

const CHILD = `
  'use strict';
  const root = process.env.SSIM_PKG_ROOT;
  const api = require(root);
  const P = require(root + '/dist/promises.js');
  let seed = Number(process.env.CHILD_SEED) >>> 0;
  function rand() { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 4294967296; }
  function image(w, h, c) {
    const n = w * h * c, data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = 0.5 + 0.3 * Math.sin(i * 0.013) + 0.2 * rand();
    return { data, width: w, height: h, channels: c };
  }
  function report(obj) { console.log('RESULT ' + JSON.stringify(obj)); }
`;

function child(ctx, body, opts = {}) {
  return runChild(CHILD + body, { ...opts, env: { CHILD_SEED: String(testRng(ctx).u32()), ...(opts.env || {}) } });
}

describe(`gpu transfers: stream-completed promise calls and staged host arrays${gpu ? '' : ' (skipped: no usable CUDA device)'}`, function () {
  before(function () {
    if (!gpu) this.skip();
  });

  it('small host arrays and device arrays: 48 promise calls in flight resolve in the order queued, each equal to its sync call', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const P = pkg.promises();
    const calls = [];
    const order = [];
    const checks = [];
    for (let i = 0; i < 48; i++) {
      const spec = { width: rng.int(11, 140), height: rng.int(11, 120), channels: rng.int(1, 3), batch: rng.int(1, 3), layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(['float32', 'uint8']) };
      const { x, y } = makePair(rng, spec);
      const device = rng.bool(0.4) && spec.dtype === 'float32';
      const dx = device ? { ...x, data: api.DeviceArray.from(x.data) } : x;
      const dy = device ? { ...y, data: api.DeviceArray.from(y.data) } : y;
      const want = api.dssimWithGradient(dx, dy, CUDA);
      const wantGrad = device ? want.gradient.toHost() : want.gradient;
      const kind = rng.pick(['withGradient', 'into']);
      let p;
      if (kind === 'withGradient') {
        p = P.dssimWithGradient(dx, dy, CUDA).then((got) => {
          const g = device ? got.gradient.toHost() : got.gradient;
          return { value: got.value, grad: g };
        });
      } else {
        const out = poisoned(new Float32Array(spec.batch));
        const grad = device ? api.DeviceArray.alloc('float32', x.data.length) : poisoned(new Float32Array(x.data.length));
        p = P.dssimWithGradientInto(out, grad, dx, dy, CUDA).then(() => ({ value: out, grad: device ? grad.toHost() : grad }));
      }
      calls.push(p.then((got) => { order.push(i); return got; }));
      checks.push({ want, wantGrad, device, dx, dy, batch: spec.batch });
    }
    const results = await Promise.all(calls);
    assert.deepStrictEqual(order, Array.from({ length: 48 }, (_, i) => i), 'settled in the order queued');
    for (let i = 0; i < results.length; i++) {
      const { want, wantGrad } = checks[i];
      const values = (v) => (typeof v === 'number' ? [v] : Array.from(v));
      assertSameArray(values(results[i].value), values(want.value), `call ${i} values`);
      assertSameArray(results[i].grad, wantGrad, `call ${i} gradient`);
    }
    for (const c of checks) {
      if (c.device) c.want.gradient.dispose();
      if (c.device) { c.dx.data.dispose(); c.dy.data.dispose(); }
    }
  });

  it('a small host output transferred while a stream call is in flight: ERR_SSIM_DETACHED, the new owner\'s memory untouched', function () {
    const r = expectClean(child(this, `
      (async () => {
        const x = image(200, 150, 3), y = image(200, 150, 3);
        const grad = new Float32Array(x.data.length).fill(NaN);
        const q = P.ssimGradientInto(grad, x, y, { backend: 'cuda' });
        const moved = new Float32Array(structuredClone(grad.buffer, { transfer: [grad.buffer] })).fill(42);
        let code = 'resolved';
        try { await q; } catch (e) { code = e.code; }
        const ok = await P.ssim(x, y, { backend: 'cuda' });
        report({ code, untouched: moved.every((v) => v === 42), after: ok, sync: api.ssim(x, y, { backend: 'cuda' }) });
      })();
    `), 'stream call, transferred output');
    assert.strictEqual(r.code, 'ERR_SSIM_DETACHED');
    assert.ok(r.untouched, 'the call wrote into memory that belongs to the new owner');
    assert.strictEqual(r.after, r.sync, 'a later call still settles right');
  });

  it('terminating a worker thread with hundreds of stream calls in flight (small host and device arrays) ends only the worker', function () {
    const r = expectClean(child(this, `
      const { Worker } = require('worker_threads');
      const w = new Worker(\`
        const root = process.env.SSIM_PKG_ROOT;
        const api = require(root);
        const P = require(root + '/dist/promises.js');
        const n = 512 * 384 * 3, a = new Float32Array(n), b = new Float32Array(n);
        for (let i = 0; i < n; i++) { a[i] = (i % 251) / 251; b[i] = (i % 241) / 241; }
        const img = (d) => ({ data: d, width: 512, height: 384, channels: 3 });
        const da = api.DeviceArray.from(a), db = api.DeviceArray.from(b);
        for (let i = 0; i < 150; i++) { P.ssimWithGradient(img(a), img(b), { backend: 'cuda' }); P.ssimGradient(img(da), img(db)); }
        da.dispose(); db.dispose();
        require('worker_threads').parentPort.postMessage('queued');
      \`, { eval: true });
      w.once('message', () => setImmediate(() => w.terminate().then(async (code) => {
        const x = image(256, 256, 3), y = image(256, 256, 3);
        report({ workerExit: code, value: await P.ssim(x, y, { backend: 'cuda' }), cpu: api.ssim(x, y, { backend: 'cpu' }) });
      })));
    `), 'worker terminate');
    assert.strictEqual(r.workerExit, 1);
    assert.ok(Math.abs(r.value - r.cpu) <= 2e-5, `the main thread still computes: ${r.value} vs cpu ${r.cpu}`);
  });

  it('process.exit() with stream calls in flight exits cleanly; a process whose calls have settled ends by itself', function () {
    const a = child(this, `
      const x = image(640, 480, 3), y = image(640, 480, 3);
      const dx = api.DeviceArray.from(x.data), dy = api.DeviceArray.from(y.data);
      for (let i = 0; i < 100; i++) { P.ssimWithGradient(x, y, { backend: 'cuda' }); P.ssim({ ...x, data: dx }, { ...y, data: dy }); }
      report({ queued: true });
      process.exit(0);
    `);
    expectClean(a, 'process.exit in flight');
    const b = child(this, `
      const x = image(64, 48, 1), y = image(64, 48, 1);
      P.ssim(x, y, { backend: 'cuda' }).then((v) => report({ v }));
    `, { timeout: 30000 });
    const r = expectClean(b, 'ends by itself');
    assert.ok(Number.isFinite(r.v));
  });

  it('large host arrays (staged through pinned chunks, sizes not multiples of a chunk, uint8 and float32): the same bits as on device arrays', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const P = pkg.promises();
    const specs = [
      { width: 1920, height: 1080, channels: 3, layout: 'chw', dtype: 'float32' },
      { width: rng.int(1400, 1700), height: rng.int(1300, 1500), channels: 1, dtype: 'float32' },
      { width: 3840, height: 2160, channels: 3, dtype: 'uint8' },
    ];
    for (const spec of specs) {
      const { x, y } = makePair(rng, spec);
      const dx = { ...x, data: api.DeviceArray.from(x.data) }, dy = { ...y, data: api.DeviceArray.from(y.data) };
      const onDevice = api.ssimWithGradient(dx, dy, CUDA);
      const wantGrad = onDevice.gradient.toHost();
      const what = `${spec.width}x${spec.height}x${spec.channels} ${spec.dtype}`;
      const sync = api.ssimWithGradient(x, y, CUDA);
      assertClose(sync.value, onDevice.value, 0, `${what} value (sync)`);
      assertSameArray(sync.gradient, wantGrad, `${what} gradient (sync)`);
      const grad = poisoned(new Float32Array(x.data.length));
      const out = poisoned(new Float32Array(1));
      await P.ssimWithGradientInto(out, grad, x, y, CUDA);
      assertClose(out[0], onDevice.value, 0, `${what} value (promise)`);
      assertSameArray(grad, wantGrad, `${what} gradient (promise)`);
      onDevice.gradient.dispose();
      dx.data.dispose();
      dy.data.dispose();
    }
  });
});
