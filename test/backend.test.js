'use strict';
// backendInfo() and deviceCounters() shapes, the CUDA_SSIM_BACKEND environment variable (in
// child processes), and backend 'cpu' always working.

const assert = require('assert');
const path = require('path');
const { spawnSync } = require('child_process');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair, DTYPE_NAMES } = require('./helpers/images');
const { assertClose, assertRelL2 } = require('./helpers/check');
const ref = require('./reference');
const { valueCases, build, checkValueType, valueTol } = require('./helpers/cases');

function isNonNegInt(v) {
  return Number.isInteger(v) && v >= 0;
}

// Runs `body` in a fresh node with the given CUDA_SSIM_BACKEND (undefined: unset). The child
// gets the package as `api` and the images as `x`, `y` (JSON), and prints one JSON line.
function runChild(envValue, body, images) {
  const env = { ...process.env };
  delete env.CUDA_SSIM_BACKEND;
  if (envValue !== undefined) env.CUDA_SSIM_BACKEND = envValue;
  const script = `
    const api = require(${JSON.stringify(pkg.root)});
    const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const img = (o) => ({ ...o, data: Float32Array.from(o.data) });
    const x = img(input.x), y = img(input.y);
    const result = {};
    try { ${body} } catch (e) { result.error = { code: e.code, message: e.message, name: e.name }; }
    process.stdout.write(JSON.stringify(result) + '\\n');
  `;
  const input = JSON.stringify({
    x: { ...images.x, data: Array.from(images.x.data) },
    y: { ...images.y, data: Array.from(images.y.data) },
  });
  const r = spawnSync(process.execPath, ['-e', script], { env, input, encoding: 'utf8', timeout: 60000, cwd: path.join(pkg.root) });
  assert.strictEqual(r.status, 0, `child (CUDA_SSIM_BACKEND=${envValue}) exited with ${r.status} ${r.signal || ''}\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop();
  return JSON.parse(line);
}

describe('backend: backendInfo() and deviceCounters()', function () {
  it('backendInfo() has the documented shape', function () {
    const info = pkg.api().backendInfo();
    assert.ok(['cuda', 'cpu'].includes(info.backend), `backend ${info.backend}`);
    const c = info.cuda;
    assert.strictEqual(typeof c.compiled, 'boolean', 'cuda.compiled');
    assert.strictEqual(typeof c.available, 'boolean', 'cuda.available');
    assert.ok(c.reason === null || typeof c.reason === 'string', 'cuda.reason');
    assert.ok(c.runtimeVersion === null || isNonNegInt(c.runtimeVersion), `cuda.runtimeVersion ${c.runtimeVersion}`);
    assert.ok(c.driverVersion === null || isNonNegInt(c.driverVersion), `cuda.driverVersion ${c.driverVersion}`);
    assert.ok(Array.isArray(c.devices), 'cuda.devices');
    c.devices.forEach((d, i) => {
      assert.strictEqual(d.index, i, 'device index');
      assert.strictEqual(typeof d.name, 'string');
      assert.ok(d.name.length > 0, 'device name');
      assert.match(d.computeCapability, /^\d+\.\d+$/, 'computeCapability like "9.0"');
      assert.ok(Number.isFinite(d.totalMemory) && d.totalMemory > 0, 'totalMemory');
      assert.ok(Number.isInteger(d.multiProcessorCount) && d.multiProcessorCount > 0, 'multiProcessorCount');
    });
    assert.ok(Number.isInteger(info.cpu.threads) && info.cpu.threads >= 1, `cpu.threads ${info.cpu.threads}`);
    if (c.available) {
      assert.strictEqual(c.compiled, true, 'available implies compiled');
      assert.ok(c.devices.length >= 1, 'available implies a device');
    } else {
      assert.strictEqual(info.backend, 'cpu', "'auto' must pick the CPU when CUDA is not available");
      assert.strictEqual(typeof c.reason, 'string', 'unavailable: reason is a string');
      assert.ok(c.reason.length > 0, 'unavailable: reason is not empty');
    }
    if (!c.compiled) assert.strictEqual(c.available, false, 'not compiled implies not available');
    if (c.available && process.env.CUDA_SSIM_BACKEND === undefined) assert.strictEqual(info.backend, 'cuda', "'auto' picks CUDA when it is available");
  });

  it('deviceCounters() has the documented shape', function () {
    const k = pkg.api().deviceCounters();
    for (const key of ['allocations', 'frees', 'memsets', 'copies', 'bytesInUse']) assert.ok(isNonNegInt(k[key]), `${key}: ${k[key]}`);
    assert.ok(k.frees <= k.allocations, 'frees <= allocations');
  });

  it('host calls on the CPU backend make no device calls', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 30, height: 20, channels: 2 });
    const before = api.deviceCounters();
    api.ssimWithGradient(x, y, { backend: 'cpu' });
    api.dssimInto(new Float32Array(1), x, y, { backend: 'cpu' });
    const after = api.deviceCounters();
    for (const key of ['allocations', 'memsets', 'copies']) assert.strictEqual(after[key], before[key], key);
  });
});

describe("backend: option 'cpu' always works", function () {
  for (const c of valueCases().filter((_, i) => i % 4 === 0)) {
    it(`values: ${c.title}`, function () {
      const rng = testRng(this);
      const t = build(rng, c, { backend: 'cpu' });
      const v = pkg.api().ssim(t.x, t.y, t.opts);
      checkValueType(v, t.x, `ssim ${t.desc}`);
      assertClose(v, ref.ssimRef(t.x, t.y, t.opts), valueTol(t.x, t.opts), `ssim ${t.desc}`);
    });
  }

  it('gradient on the CPU backend', function () {
    const rng = testRng(this);
    for (const dtype of DTYPE_NAMES) {
      const { x, y } = makePair(rng, { width: rng.int(5, 30), height: rng.int(5, 30), channels: rng.int(1, 3), dtype, layout: rng.pick(['hwc', 'chw']) });
      assertRelL2(pkg.api().ssimGradient(x, y, { backend: 'cpu' }), ref.ssimGradientRef(x, y), 1e-4, dtype);
    }
  });

  it("backend 'auto' works and equals 'cpu' or 'cuda' (whichever backendInfo() names)", function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 25, height: 31, channels: 3 });
    const picked = api.backendInfo().backend;
    const auto = api.ssim(x, y, { backend: 'auto' });
    assertClose([auto], [api.ssim(x, y, { backend: picked })], 1.2e-7, `auto vs ${picked}`);
  });

  it("a CPU workspace works with backend 'cpu'", function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 25, height: 31, channels: 3 });
    const ws = api.Workspace.for({ width: 25, height: 31, channels: 3, batch: 1 }, { backend: 'cpu' });
    try {
      assert.strictEqual(ws.backend, 'cpu');
      assertClose([api.ssim(x, y, { backend: 'cpu', workspace: ws })], [api.ssim(x, y, { backend: 'cpu' })], 0, 'workspace');
    } finally {
      ws.dispose();
    }
  });
});

describe('backend: CUDA_SSIM_BACKEND environment variable (child processes)', function () {
  const body = `
    const before = api.deviceCounters();
    result.value = api.ssim(x, y);
    const after = api.deviceCounters();
    result.deviceCalls = (after.allocations - before.allocations) + (after.copies - before.copies) + (after.memsets - before.memsets);
    result.info = api.backendInfo();
    result.explicitCpu = api.ssim(x, y, { backend: 'cpu' });
  `;

  it('CUDA_SSIM_BACKEND=cpu: default calls run on the CPU (no device calls) and equal backend cpu', function () {
    const rng = testRng(this);
    const images = makePair(rng, { width: 40, height: 33, channels: 2, dtype: 'float32' });
    const r = runChild('cpu', body, images);
    assert.ok(!r.error, `child error ${JSON.stringify(r.error)}`);
    const expected = pkg.api().ssim(images.x, images.y, { backend: 'cpu' });
    assert.strictEqual(r.value, expected, 'value equals the parent\'s backend cpu result');
    assert.strictEqual(r.explicitCpu, expected);
    assert.strictEqual(r.deviceCalls, 0, 'a default call made device calls although CUDA_SSIM_BACKEND=cpu');
    assertClose([r.value], ref.ssimRef(images.x, images.y), valueTol(images.x), 'reference');
  });

  it('CUDA_SSIM_BACKEND=cuda: default calls use CUDA (device calls, or ERR_SSIM_CUDA_UNAVAILABLE without it); explicit backend cpu still works', function () {
    const rng = testRng(this);
    const images = makePair(rng, { width: 40, height: 33, channels: 2, dtype: 'float32' });
    const r = runChild('cuda', body, images);
    const expected = pkg.api().ssim(images.x, images.y, { backend: 'cpu' });
    if (pkg.cudaAvailable()) {
      assert.ok(!r.error, `child error ${JSON.stringify(r.error)}`);
      assert.ok(r.deviceCalls > 0, 'a default host call under CUDA_SSIM_BACKEND=cuda made no device calls');
      assertClose([r.value], [expected], 2 * valueTol(images.x), 'cuda vs cpu');
    } else {
      assert.ok(r.error, 'a default call under CUDA_SSIM_BACKEND=cuda did not fail without CUDA');
      assert.strictEqual(r.error.code, 'ERR_SSIM_CUDA_UNAVAILABLE', JSON.stringify(r.error));
      const r2 = runChild('cuda', "result.value = api.ssim(x, y, { backend: 'cpu' }); result.auto = api.ssim(x, y, { backend: 'auto' });", images);
      assert.ok(!r2.error, `explicit backend under CUDA_SSIM_BACKEND=cuda: ${JSON.stringify(r2.error)}`);
      assert.strictEqual(r2.value, expected);
      assert.strictEqual(r2.auto, expected);
    }
  });

  it('CUDA_SSIM_BACKEND unset: default calls follow backendInfo().backend', function () {
    const rng = testRng(this);
    const images = makePair(rng, { width: 40, height: 33, channels: 2, dtype: 'float32' });
    const r = runChild(undefined, body, images);
    assert.ok(!r.error, `child error ${JSON.stringify(r.error)}`);
    if (r.info.backend === 'cuda') assert.ok(r.deviceCalls > 0, "'auto' picked cuda but made no device calls");
    else assert.strictEqual(r.deviceCalls, 0, "'auto' picked cpu but made device calls");
    assertClose([r.value], ref.ssimRef(images.x, images.y), valueTol(images.x), 'reference');
  });
});
