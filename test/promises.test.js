'use strict';
// cuda-ssim/promises: the 12 functions exist and equal the sync ones; invalid input rejects
// (never throws synchronously) with the sync error's code and class; a long CPU call lets the
// event loop run while it is pending.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair, makeNoisePair, DTYPE_NAMES } = require('./helpers/images');
const { assertClose, assertSameArray, assertAllFinite, expectThrow, expectReject, poisoned, toArray } = require('./helpers/check');
const ref = require('./reference');
const { valueTol } = require('./helpers/cases');

const VALUE_EXACT = 1.2e-7;

describe('promises: cuda-ssim/promises', function () {
  it('exports the 12 functions', function () {
    const p = pkg.promises();
    for (const name of pkg.FUNCTION_NAMES) assert.strictEqual(typeof p[name], 'function', `promises.${name}`);
  });

  it('the package.json "exports" map points ./promises at dist/promises.js', function () {
    const manifest = require(require('path').join(pkg.root, 'package.json'));
    const target = manifest.exports['./promises'];
    const file = typeof target === 'string' ? target : target.default || target.require;
    assert.strictEqual(require('path').resolve(pkg.root, file), pkg.promisesPath);
  });

  it('each of the 12 returns a Promise with the sync result (values, gradients, in-place outputs)', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const spec = { width: rng.int(9, 40), height: rng.int(9, 40), channels: rng.int(1, 4), batch: rng.pick([undefined, 3]), layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(DTYPE_NAMES) };
    const { x, y } = makePair(rng, spec);
    const common = { windowSize: rng.pick([7, 9, 11]), sigma: rng.uniform(0.8, 2.5) };
    // divideByTwo belongs to the dssim functions only
    const optsOf = { ssim: common, dssim: { ...common, divideByTwo: rng.bool() } };
    const n = x.data.length;
    const B = spec.batch || 1;
    const what = JSON.stringify(spec);
    // reference sanity: the values are the right ones, not just equal to each other
    assertClose(toArray(await p.ssim(x, y, common)), ref.ssimRef(x, y, common), valueTol(x, common), `promises.ssim vs reference ${what}`);
    for (const base of ['ssim', 'dssim']) {
      const opts = optsOf[base];
      const v = api[base](x, y, opts);
      const g = api[`${base}Gradient`](x, y, opts);

      const pv = p[base](x, y, opts);
      assert.ok(pv instanceof Promise, `${base} returns a Promise`);
      const av = await pv;
      assert.strictEqual(typeof av, typeof v, `${base}: type`);
      assertClose(toArray(av), toArray(v), VALUE_EXACT, `${base} ${what}`);

      const ag = await p[`${base}Gradient`](x, y, opts);
      assert.ok(ag instanceof Float32Array);
      assertSameArray(ag, g, `${base}Gradient ${what}`);

      const awg = await p[`${base}WithGradient`](x, y, opts);
      assertClose(toArray(awg.value), toArray(v), VALUE_EXACT, `${base}WithGradient value`);
      assertSameArray(awg.gradient, g, `${base}WithGradient gradient`);

      const out = poisoned(B);
      assert.strictEqual(await p[`${base}Into`](out, x, y, opts), out, `${base}Into resolves to out`);
      assertAllFinite(out, `${base}Into out`);
      assertClose(out, toArray(v), VALUE_EXACT, `${base}Into`);

      const grad = poisoned(n);
      assert.strictEqual(await p[`${base}GradientInto`](grad, x, y, opts), grad, `${base}GradientInto resolves to grad`);
      assertSameArray(grad, g, `${base}GradientInto`);

      const out2 = poisoned(B);
      const grad2 = poisoned(n);
      const r = await p[`${base}WithGradientInto`](out2, grad2, x, y, opts);
      assert.ok(r.value === out2 && r.gradient === grad2, `${base}WithGradientInto resolves to { value: out, gradient: grad }`);
      assertClose(out2, toArray(v), VALUE_EXACT, `${base}WithGradientInto value`);
      assertSameArray(grad2, g, `${base}WithGradientInto gradient`);
    }
  });

  it('several calls in flight at once resolve to their own results', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const pairs = Array.from({ length: 6 }, () => makePair(rng, { width: rng.int(10, 60), height: rng.int(10, 60), channels: rng.int(1, 3), dtype: rng.pick(DTYPE_NAMES) }));
    const results = await Promise.all(pairs.map(({ x, y }) => p.ssimWithGradient(x, y)));
    pairs.forEach(({ x, y }, i) => {
      const s = api.ssimWithGradient(x, y);
      assertClose([results[i].value], [s.value], VALUE_EXACT, `call ${i} value`);
      assertSameArray(results[i].gradient, s.gradient, `call ${i} gradient`);
    });
  });
});

describe('promises: invalid input rejects with the sync error', function () {
  const cases = [
    ['x.width 0', (f, x, y) => f.ssim({ ...x, width: 0 }, y)],
    ['x is null', (f, x, y) => f.dssimGradient(null, y)],
    ['Int16Array data', (f, x, y) => f.ssimWithGradient({ ...x, data: new Int16Array(x.data.length).fill(3) }, { ...y, data: new Int16Array(y.data.length).fill(5) })],
    ["layout 'nchw'", (f, x, y) => f.dssim({ ...x, layout: 'nchw' }, { ...y, layout: 'nchw' })],
    ["'valid' smaller than the window", (f, x, y) => f.ssim(x, y, { padding: 'valid', windowSize: 11 })],
    ['windowSize 8', (f, x, y) => f.ssimGradient(x, y, { windowSize: 8 })],
    ["k1 '0.01'", (f, x, y) => f.dssimWithGradient(x, y, { k1: '0.01' })],
    ['sigma NaN', (f, x, y) => f.ssim(x, y, { sigma: NaN })],
    ["backend 'gpu'", (f, x, y) => f.ssim(x, y, { backend: 'gpu' })],
    ['out too long', (f, x, y) => f.ssimInto(new Float32Array(3), x, y)],
    ['out Float64Array', (f, x, y) => f.dssimInto(new Float64Array(1), x, y)],
    ['grad too short', (f, x, y) => f.ssimGradientInto(new Float32Array(x.data.length - 1), x, y)],
    ['grad null', (f, x, y) => f.dssimGradientInto(null, x, y)],
    ['out wrong (WithGradientInto)', (f, x, y) => f.ssimWithGradientInto(new Float32Array(2), new Float32Array(x.data.length), x, y)],
    ['grad wrong (dssimWithGradientInto)', (f, x, y) => f.dssimWithGradientInto(new Float32Array(1), new Float32Array(1), x, y)],
    ['workspace not a Workspace', (f, x, y) => f.ssim(x, y, { workspace: {} })],
  ];
  for (const [title, call] of cases) {
    it(title, async function () {
      const rng = testRng(this);
      const { x, y } = makePair(rng, { width: 9, height: 8, channels: 2 });
      let syncErr;
      try {
        call(pkg.api(), x, y);
      } catch (e) {
        syncErr = e;
      }
      assert.ok(syncErr && syncErr.code, `the sync call did not throw a coded error (${syncErr})`);
      const type = [TypeError, RangeError].find((T) => syncErr instanceof T) || Error;
      await expectReject(() => call(pkg.promises(), x, y), { code: syncErr.code, type }, title);
    });
  }

  it("backend 'cuda' without CUDA rejects with ERR_SSIM_CUDA_UNAVAILABLE (skipped when a GPU is usable)", async function () {
    if (pkg.cudaAvailable()) this.skip();
    const rng = testRng(this);
    const { x, y } = makePair(rng, { width: 9, height: 8 });
    expectThrow(() => pkg.api().ssim(x, y, { backend: 'cuda' }), { code: 'ERR_SSIM_CUDA_UNAVAILABLE' }, 'sync');
    await expectReject(() => pkg.promises().ssimGradient(x, y, { backend: 'cuda' }), { code: 'ERR_SSIM_CUDA_UNAVAILABLE', type: Error }, 'async');
  });
});

describe('promises: the event loop runs during a long call', function () {
  it("CPU backend, batch of four 1920x1080 images with gradient: a 2 ms setInterval fires while pending", async function () {
    this.timeout(300000);
    const rng = testRng(this);
    const p = pkg.promises();
    const B = 4;
    const { x, y } = makeNoisePair(rng, { width: 1920, height: 1080, channels: 1, batch: B, dtype: 'float32' });
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 2);
    let settled = false;
    const t0 = process.hrtime.bigint();
    try {
      const pending = p.ssimWithGradient(x, y, { backend: 'cpu' });
      pending.then(() => { settled = true; }, () => { settled = true; });
      assert.strictEqual(settled, false);
      const r = await pending;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(r.value instanceof Float32Array && r.value.length === B);
      assertAllFinite(r.value, 'value');
      assert.strictEqual(r.gradient.length, x.data.length);
      // independent uniform noise: SSIM is near 0
      for (const v of r.value) assert.ok(Math.abs(v) < 0.1, `value ${v}`);
      assert.ok(ticks >= 3, `the timer fired ${ticks} times during a ${ms.toFixed(1)} ms call (event loop blocked?)`);
    } finally {
      clearInterval(timer);
    }
  });
});
