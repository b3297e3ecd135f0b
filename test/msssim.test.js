'use strict';
// MS-SSIM (msssim* / msdssim*): the CPU backend against the float64 reference
// (test/reference-msssim.js), the reference against finite differences, the pooling of odd sides,
// clamped terms, options and errors; on CUDA (skipped without a device, visibly) the same against
// the CPU backend and in-place calls with a Workspace that make no allocation, memset or copy.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair } = require('./helpers/images');
const { assertClose, assertRelL2, assertAllFinite, expectThrow, expectReject, poisoned, toArray, relL2 } = require('./helpers/check');
const ref = require('./reference');
const msref = require('./reference-msssim');

const VALUE_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);
const why = info ? `CUDA not available: ${info.cuda && info.cuda.reason}` : 'package not loadable';

// |value - reference| allowed: 1e-5, plus (as for SSIM, helpers/cases.js valueTol) a float32
// allowance of 6e-5 / sqrt(pixels) for each scale's map, weighted by its exponent: the coarse
// scales of small test images have few pixels.
function msValueTol(x, opts) {
  const s = ref.shapeOf(x);
  const weights = (opts && opts.weights) || msref.DEFAULT_WEIGHTS;
  const win = (opts && opts.windowSize) || 11;
  const r = opts && opts.padding === 'valid' ? (win - 1) / 2 : 0;
  let h = s.height, w = s.width, tol = VALUE_TOL;
  for (let j = 0; j < weights.length; j++) {
    tol += weights[j] * 6e-5 / Math.sqrt(s.channels * Math.max(1, (h - 2 * r) * (w - 2 * r)));
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
  }
  return tol;
}

// Cases: spec for images.makePair, opts.
const CASES = [
  { title: '3 channels hwc float32, odd sides, default weights', spec: { width: 67, height: 45, channels: 3 }, opts: {} },
  { title: 'chw float32 batch 2, 2 channels', spec: { width: 48, height: 64, channels: 2, batch: 2, layout: 'chw' }, opts: {} },
  { title: 'uint8 hwc, window 7, sigma 1.2', spec: { width: 53, height: 37, channels: 3, dtype: 'uint8' }, opts: { windowSize: 7, sigma: 1.2 } },
  { title: 'uint16 chw, 3 weights', spec: { width: 40, height: 33, channels: 1, dtype: 'uint16', layout: 'chw' }, opts: { weights: [0.2, 0.5, 0.3] } },
  { title: "float64 hwc, padding 'valid', 3 scales, window 7", spec: { width: 31, height: 29, channels: 2, dtype: 'float64' }, opts: { padding: 'valid', windowSize: 7, weights: [0.3, 0.3, 0.4] } },
  { title: 'float32 with dataRange 2 (data in [0, 2]), k1/k2 set', spec: { width: 35, height: 50, channels: 1, range: [0, 2] }, opts: { dataRange: 2, k1: 0.02, k2: 0.05 } },
  { title: 'tiny image (5 x 3, smaller than the window), same', spec: { width: 5, height: 3, channels: 2, batch: 2 }, opts: {} },
  { title: 'one scale = SSIM', spec: { width: 30, height: 22, channels: 3 }, opts: { weights: [1] } },
  { title: 'six scales, weights as a Float64Array', spec: { width: 70, height: 66, channels: 1 }, opts: { weights: new Float64Array([0.1, 0.2, 0.2, 0.2, 0.2, 0.1]) } },
  // more scales than one pass of the CUDA path's pyramid holds (5 levels), sides down to 1
  { title: 'ten scales, chw batch 2, window 7', spec: { width: 131, height: 97, channels: 2, batch: 2, layout: 'chw' }, opts: { windowSize: 7, weights: [0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15] } },
];

function makeCase(rng, c) {
  const { x, y, desc } = makePair(rng, c.spec);
  return { x, y, opts: c.opts, desc: `${c.title} (${desc})` };
}

function checkAgainstRef(api, t, backend) {
  const opts = { ...t.opts, backend };
  const full = msref.msssimRefFull(t.x, t.y, t.opts, true);
  const r = api.msssimWithGradient(t.x, t.y, opts);
  const values = toArray(t.x.batch === undefined ? [r.value] : r.value);
  assertClose(values, full.values, msValueTol(t.x, t.opts), `${backend} value ${t.desc}`);
  assertRelL2(r.gradient, full.gradient, GRAD_TOL, `${backend} gradient ${t.desc}`);
  return { r, full };
}

describe(`msssim (cpu): values within ${VALUE_TOL} of the float64 reference, gradients within ${GRAD_TOL} relative L2`, function () {
  for (const c of CASES) {
    it(c.title, function () {
      const rng = testRng(this);
      const api = pkg.api();
      for (let k = 0; k < 2; k++) checkAgainstRef(api, makeCase(rng, c), 'cpu');
    });
  }

  it('msdssim = 1 - msssim (divideByTwo: (1 - msssim) / 2), gradients negated (halved)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 41, height: 39, channels: 3, batch: 2 });
    const o = { backend: 'cpu' };
    const s = api.msssimWithGradient(x, y, o);
    const d = api.msdssimWithGradient(x, y, o);
    const d2 = api.msdssimWithGradient(x, y, { ...o, divideByTwo: true });
    assertClose(d.value, Array.from(s.value, (v) => 1 - v), 1e-7, 'msdssim');
    assertClose(d2.value, Array.from(s.value, (v) => (1 - v) / 2), 1e-7, 'msdssim / 2');
    assertRelL2(d.gradient, Array.from(s.gradient, (g) => -g), 1e-6, 'msdssim gradient');
    assertRelL2(d2.gradient, Array.from(s.gradient, (g) => -g / 2), 1e-6, 'msdssim / 2 gradient');
    assert.ok(s.value.every((v) => v > 0.05 && v < 0.999), `values away from the ends: ${s.value}`);
  });

  it('all 12 functions and their promise versions agree; Into calls write their outputs', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const papi = pkg.promises();
    const { x, y } = makePair(rng, { width: 37, height: 34, channels: 2, batch: 3, layout: rng.pick(['hwc', 'chw']) });
    const o = { backend: 'cpu', windowSize: 9 };
    const n = x.data.length;
    const full = api.msssimWithGradient(x, y, o);
    const loss = api.msdssimWithGradient(x, y, o);
    for (const m of [api, papi]) {
      const tag = m === api ? 'sync' : 'promises';
      assertClose(await m.msssim(x, y, o), full.value, 0, `${tag} msssim`);
      assertClose(await m.msdssim(x, y, o), loss.value, 0, `${tag} msdssim`);
      assertRelL2(await m.msssimGradient(x, y, o), full.gradient, 0, `${tag} msssimGradient`);
      assertRelL2(await m.msdssimGradient(x, y, o), loss.gradient, 0, `${tag} msdssimGradient`);
      const w = await m.msdssimWithGradient(x, y, o);
      assertClose(w.value, loss.value, 0, `${tag} msdssimWithGradient`);
      const out = poisoned(3), grad = poisoned(n);
      assert.strictEqual(await m.msssimInto(out, x, y, o), out);
      assertClose(out, full.value, 0, `${tag} msssimInto`);
      assert.strictEqual(await m.msdssimInto(out.fill(NaN), x, y, o), out);
      assertClose(out, loss.value, 0, `${tag} msdssimInto`);
      assert.strictEqual(await m.msssimGradientInto(grad, x, y, o), grad);
      assertRelL2(grad, full.gradient, 0, `${tag} msssimGradientInto`);
      await m.msdssimGradientInto(grad.fill(NaN), x, y, o);
      assertRelL2(grad, loss.gradient, 0, `${tag} msdssimGradientInto`);
      const r = await m.msssimWithGradientInto(out.fill(NaN), grad.fill(NaN), x, y, o);
      assert.strictEqual(r.value, out);
      assert.strictEqual(r.gradient, grad);
      assertClose(out, full.value, 0, `${tag} msssimWithGradientInto value`);
      assertRelL2(grad, full.gradient, 0, `${tag} msssimWithGradientInto gradient`);
      await m.msdssimWithGradientInto(out.fill(NaN), grad.fill(NaN), x, y, o);
      assertClose(out, loss.value, 0, `${tag} msdssimWithGradientInto value`);
      assertRelL2(grad, loss.gradient, 0, `${tag} msdssimWithGradientInto gradient`);
    }
    const single = { ...x, batch: undefined, data: x.data.subarray(0, n / 3) };
    const singleY = { ...y, batch: undefined, data: y.data.subarray(0, n / 3) };
    delete single.batch;
    delete singleY.batch;
    assert.strictEqual(typeof api.msssim(single, singleY, o), 'number', 'no batch: a number');
  });

  it('hwc and chw give the same values and gradients', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 29, height: 43, channels: 3, batch: 2, layout: 'chw' });
    const s = ref.shapeOf(x);
    const toHwc = (img) => {
      const d = new Float32Array(img.data.length);
      const hs = { ...s, layout: 'hwc' };
      for (let i = 0; i < d.length; i++) {
        const p = ref.decodeIndex(s, i);
        d[ref.dataIndex(hs, p.b, p.c, p.y, p.x)] = img.data[i];
      }
      return { ...img, data: d, layout: 'hwc' };
    };
    const a = api.msssimWithGradient(x, y, { backend: 'cpu' });
    const hx = toHwc(x);
    const b = api.msssimWithGradient(hx, toHwc(y), { backend: 'cpu' });
    assertClose(b.value, a.value, 0, 'values');
    const back = new Float32Array(a.gradient.length);
    const hs = { ...s, layout: 'hwc' };
    for (let i = 0; i < back.length; i++) {
      const p = ref.decodeIndex(s, i);
      back[i] = b.gradient[ref.dataIndex(hs, p.b, p.c, p.y, p.x)];
    }
    assertRelL2(back, a.gradient, 0, 'gradients');
  });

  it('negative contrast-structure terms are clamped at zero: value 0 for that channel, zero (finite) gradient', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const W = 40, H = 36;
    // channel 0: y = 1 - x (cs < 0 at scale 0); channel 1: a correlated pair
    // (x uniform noise: every window's variance is far above C2, so that cs < 0 for y = 1 - x)
    const x = { data: new Float32Array(2 * W * H), width: W, height: H, channels: 2, layout: 'chw' };
    const y = { ...x, data: new Float32Array(2 * W * H) };
    for (let i = 0; i < 2 * W * H; i++) {
      x.data[i] = rng.next();
      y.data[i] = i < W * H ? 1 - x.data[i] : Math.min(1, Math.max(0, x.data[i] + 0.2 * (rng.next() - 0.5)));
    }
    const full = msref.msssimRefFull(x, y, {}, true);
    assert.strictEqual(full.terms[0][0][0], 0, 'the reference clamps channel 0 at scale 0');
    const r = api.msssimWithGradient(x, y, { backend: 'cpu' });
    assertAllFinite(r.gradient, 'gradient');
    for (let i = 0; i < W * H; i++) assert.ok(r.gradient[i] === 0, `channel 0 gradient[${i}] = ${r.gradient[i]}`);
    assertClose([r.value], full.values, msValueTol(x, {}), 'value');
    assertRelL2(r.gradient, full.gradient, GRAD_TOL, 'gradient');
    // every channel clamped: value 0, gradient 0, loss 1
    for (let i = 0; i < 2 * W * H; i++) y.data[i] = 1 - x.data[i];
    const z = api.msdssimWithGradient(x, y, { backend: 'cpu' });
    assert.strictEqual(z.value, 1);
    assert.ok(z.gradient.every((g) => g === 0), 'zero gradient');
  });

  it('x == y: MS-SSIM 1, gradient 0', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x } = makePair(rng, { width: 33, height: 47, channels: 3 });
    const r = api.msssimWithGradient(x, x, { backend: 'cpu' });
    assert.ok(Math.abs(r.value - 1) < 1e-6, `value ${r.value}`);
    assert.ok(Math.max(...Array.from(r.gradient, Math.abs)) < 1e-5, 'gradient ~ 0');
  });

  it("padding 'valid': the smallest size works, one pixel less is ERR_SSIM_TOO_SMALL naming the remedies", function () {
    const rng = testRng(this);
    const api = pkg.api();
    const opts = { backend: 'cpu', padding: 'valid', windowSize: 7, weights: [0.25, 0.25, 0.5] };
    const side = 6 * 4 + 1; // (7 - 1) * 2^2 + 1
    const ok = makePair(rng, { width: side, height: side + 2 });
    const r = api.msssimWithGradient(ok.x, ok.y, opts);
    assert.ok(Number.isFinite(r.value));
    const full = msref.msssimRefFull(ok.x, ok.y, opts, true);
    assertClose([r.value], full.values, msValueTol(ok.x, opts), 'value at the limit');
    assertRelL2(r.gradient, full.gradient, GRAD_TOL, 'gradient at the limit');
    const small = makePair(rng, { width: side - 1, height: side + 2 });
    expectThrow(() => api.msssim(small.x, small.y, opts), { code: 'ERR_SSIM_TOO_SMALL', type: RangeError, message: /25 x 25.*3 scales.*weights.*windowSize.*'same'/ }, 'too small');
    const def = makePair(rng, { width: 160, height: 200 });
    expectThrow(() => api.msssim(def.x, def.y, { backend: 'cpu', padding: 'valid' }), { code: 'ERR_SSIM_TOO_SMALL', type: RangeError, message: /161 x 161/ }, 'default 5 scales');
  });

  it('bad weights are ERR_SSIM_OPTION naming opts.weights', async function () {
    const api = pkg.api();
    const papi = pkg.promises();
    const img = { data: new Float32Array(64).fill(0.5), width: 8, height: 8 };
    const bad = [[[], RangeError], [new Array(17).fill(0.1), RangeError], [[0.5, 0], RangeError], [[0.5, -1], RangeError],
      [[0.5, NaN], RangeError], [[Infinity], RangeError], [[1e39], RangeError], [['0.5'], TypeError], ['0.5', TypeError], [0.5, TypeError]];
    for (const [weights, type] of bad) {
      expectThrow(() => api.msssim(img, img, { weights, backend: 'cpu' }), { code: 'ERR_SSIM_OPTION', type, message: /opts\.weights/ }, `weights ${String(weights)}`);
    }
    await expectReject(() => papi.msdssim(img, img, { weights: [], backend: 'cpu' }), { code: 'ERR_SSIM_OPTION', message: /opts\.weights/ }, 'promise');
    // read through intrinsics: a revoked Proxy is a coded TypeError, a DataView no list, and a
    // typed array's own `length` does not change its element count
    const { proxy, revoke } = Proxy.revocable([0.5, 0.5], {});
    revoke();
    expectThrow(() => api.msssim(img, img, { weights: proxy, backend: 'cpu' }), { code: 'ERR_SSIM_OPTION', type: TypeError, message: /opts\.weights/ }, 'revoked Proxy');
    expectThrow(() => api.msssim(img, img, { weights: new DataView(new ArrayBuffer(8)), backend: 'cpu' }), { code: 'ERR_SSIM_OPTION', type: TypeError, message: /opts\.weights/ }, 'DataView');
    const lying = Object.defineProperty(new Float64Array(17).fill(0.1), 'length', { value: 2 });
    expectThrow(() => api.msssim(img, img, { weights: lying, backend: 'cpu' }), { code: 'ERR_SSIM_OPTION', type: RangeError, message: /opts\.weights/ }, 'own length');
    // the SSIM functions ignore weights
    assert.strictEqual(api.ssim(img, img, { weights: 'anything', backend: 'cpu' }), 1);
  });

  it('Workspace.for(shape, { msssim }) checks its option; a CPU workspace serves MS-SSIM calls', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 30, height: 20, channels: 3 });
    const ws = api.Workspace.for({ width: 30, height: 20, channels: 3 }, { backend: 'cpu', msssim: true });
    assertClose([api.msssim(x, y, { workspace: ws, backend: 'cpu' })], [api.msssim(x, y, { backend: 'cpu' })], 0, 'with a workspace');
    for (const bad of [0, 17, 2.5, 'yes', {}]) {
      expectThrow(() => api.Workspace.for({ width: 3, height: 3 }, { backend: 'cpu', msssim: bad }), { code: 'ERR_SSIM_OPTION', message: /opts\.msssim/ }, `msssim ${String(bad)}`);
    }
    expectThrow(() => api.Workspace.for({ width: 3, height: 3, layout: 'xyz' }, { backend: 'cpu' }), { code: 'ERR_SSIM_LAYOUT', type: RangeError, message: /shape\.layout/ }, 'layout');
  });
});

describe('msssim reference (float64): pooling and finite differences', function () {
  it('pooling pads an odd side on both sides and divides by 4 (pytorch-msssim)', function () {
    // 3 x 3 plane 1..9: padded rows/cols -1 and 3 are zero; windows start at -1
    const p = msref.poolPlane(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), 3, 3);
    assert.deepStrictEqual([p.h, p.w], [2, 2]);
    assert.deepStrictEqual(Array.from(p.plane), [1 / 4, (2 + 3) / 4, (4 + 7) / 4, (5 + 6 + 8 + 9) / 4]);
    const q = msref.poolPlane(Float64Array.from([1, 2, 3, 4, 5, 6]), 2, 3); // even rows, odd columns
    assert.deepStrictEqual([q.h, q.w], [1, 2]);
    assert.deepStrictEqual(Array.from(q.plane), [(1 + 4) / 4, (2 + 3 + 5 + 6) / 4]);
  });

  it('the reference gradient matches central differences of the reference value', function () {
    const rng = testRng(this);
    for (const [spec, opts] of [
      [{ width: 23, height: 19, channels: 2, dtype: 'float64' }, { windowSize: 7 }],
      [{ width: 26, height: 27, channels: 1, dtype: 'float64', layout: 'chw' }, { windowSize: 7, padding: 'valid', weights: [0.4, 0.6] }],
      [{ width: 17, height: 21, channels: 1, dtype: 'float64', range: [0, 3] }, { windowSize: 9, dataRange: 3, weights: [0.2, 0.3, 0.5] }],
    ]) {
      const { x, y } = makePair(rng, spec);
      const g = msref.msssimGradientRef(x, y, opts);
      const idx = Array.from({ length: 10 }, () => rng.int(0, x.data.length - 1));
      const fd = msref.msssimFiniteDifference(x, y, opts, idx, 1e-6);
      const got = idx.map((i) => g[i]);
      const err = relL2(got, fd);
      assert.ok(err < 1e-5, `relative L2 ${err} of the analytic gradient against finite differences (${JSON.stringify(spec)})`);
    }
  });
});

describe(`msssim (gpu)${gpu ? '' : ` (skipped: ${why})`}`, function () {
  const CUDA = { backend: 'cuda' };
  const keep = [];
  after(function () {
    for (const d of keep.splice(0)) d.dispose();
  });
  const dev = (api, data) => {
    const d = api.DeviceArray.from(data);
    keep.push(d);
    return d;
  };

  for (const c of CASES) {
    it(`cuda vs reference and cpu: ${c.title}`, function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const t = makeCase(rng, c);
      const { r } = checkAgainstRef(api, t, 'cuda');
      const cpu = api.msssimWithGradient(t.x, t.y, { ...t.opts, backend: 'cpu' });
      assertClose(toArray(t.x.batch === undefined ? [r.value] : r.value), toArray(t.x.batch === undefined ? [cpu.value] : cpu.value), 2 * msValueTol(t.x, t.opts), 'cuda vs cpu value');
      assertRelL2(r.gradient, cpu.gradient, GRAD_TOL, 'cuda vs cpu gradient');
    });
  }

  it('large images: 2 x 3 x 480 x 640 hwc and chw, cuda vs cpu (values 1e-5, gradients 1e-4)', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    for (const layout of ['hwc', 'chw']) {
      const { x, y } = makePair(rng, { width: 640, height: 480, channels: 3, batch: 2, layout });
      const g = api.msssimWithGradient(x, y, CUDA);
      const c = api.msssimWithGradient(x, y, { backend: 'cpu' });
      assertClose(g.value, c.value, VALUE_TOL, `${layout} value`);
      assertRelL2(g.gradient, c.gradient, GRAD_TOL, `${layout} gradient`);
    }
  });

  it('calls in flight together (promises and sync calls, which share the coarse scales\' stream) each get their own answer', async function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const papi = pkg.promises();
    const pairs = [];
    for (let i = 0; i < 6; i++) pairs.push(makePair(rng, { width: 300 + 17 * i, height: 200 + 9 * i, channels: 3, batch: 2 }));
    const pending = pairs.map(({ x, y }, i) => (i % 2 ? papi.msssimWithGradient(x, y, CUDA) : papi.msssim(x, y, CUDA)));
    const sync = pairs.map(({ x, y }) => api.msssim(x, y, CUDA));
    const got = await Promise.all(pending);
    for (let i = 0; i < pairs.length; i++) {
      const { x, y } = pairs[i];
      const cpu = api.msssimWithGradient(x, y, { backend: 'cpu' });
      assertClose(i % 2 ? got[i].value : got[i], cpu.value, VALUE_TOL, `promise ${i} value`);
      if (i % 2) assertRelL2(got[i].gradient, cpu.gradient, GRAD_TOL, `promise ${i} gradient`);
      assertClose(sync[i], cpu.value, VALUE_TOL, `sync ${i} value`);
    }
  });

  // A value call's first kernel may start before the previous call's last one has finished
  // (cuda/gpu/launch_order.h): here one workspace serves calls whose layouts differ (5 and 3
  // scales over 16 planes: the 3-scale call's pooled scale 1 lies over the 5-scale call's
  // values, its values over the 5-scale call's reduction states, which each switch of layout
  // zeroes first), gradient calls come between, and nothing waits until the end.
  it('value calls back to back on one workspace (layouts differ, gradient calls between) each get their own answer', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const shape = { width: 96, height: 80, channels: 2, batch: 8, layout: 'chw' };
    const pairs = [0, 1, 2].map(() => makePair(rng, { ...shape, dtype: 'float32' }));
    const three = { weights: [0.2, 0.3, 0.5] };
    const ws = api.Workspace.for(shape, { ...CUDA, msssim: true, gradient: true });
    const dx = pairs.map(({ x }) => ({ ...x, data: dev(api, x.data) }));
    const dy = pairs.map(({ y }) => ({ ...y, data: dev(api, y.data) }));
    const calls = [];
    for (let i = 0; i < 24; i++) {
      const k = i % 3, opts = i % 2 ? { ...three, workspace: ws } : { workspace: ws };
      const out = dev(api, poisoned(shape.batch));
      if (i % 5 === 4) {
        const grad = dev(api, poisoned(pairs[k].x.data.length));
        api.msssimWithGradientInto(out, grad, dx[k], dy[k], opts);
      } else {
        api.msssimInto(out, dx[k], dy[k], opts);
      }
      calls.push({ k, weighted: i % 2 === 1, out });
    }
    const want = (k, weighted) => api.msssim(pairs[k].x, pairs[k].y, weighted ? { ...three, backend: 'cpu' } : { backend: 'cpu' });
    const expected = new Map();
    for (const { k, weighted, out } of calls) {
      const key = `${k}${weighted}`;
      if (!expected.has(key)) expected.set(key, toArray(want(k, weighted)));
      assertClose(out.toHost(), expected.get(key), 2 * msValueTol(pairs[k].x, weighted ? three : {}), `pair ${k}, ${weighted ? 3 : 5} scales`);
    }
    ws.dispose();
  });

  // Two sizes with the same planes and scales lay out the same reduction-state spans in one
  // workspace, so nothing is zeroed between their calls: every launch of each must leave its
  // states at zero, whatever its grid (the sizes' launches differ in blocks and segments), and a
  // value call's scale-0 forward may start behind the other size's combination (launch_order.h).
  // Sides odd and even; both sizes pool scale 1 in scale 0's forward (packing their planes side
  // by side would not save a tenth of the strips) and group their coarse scales in one launch.
  it('value calls of two sizes back to back on one workspace (no zeroing between them) each get their own answer', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const specs = [
      { width: 330, height: 250, channels: 3, layout: 'chw', dtype: 'float32' },  // scale 1: 165 wide
      { width: 232, height: 97, channels: 3, layout: 'chw', dtype: 'float32' },  // scale 1: 116 wide, 49 high
    ];
    const pairs = specs.map((spec) => makePair(rng, spec));
    const ws = api.Workspace.for({ width: 330, height: 250, channels: 3, layout: 'chw' }, { ...CUDA, msssim: true });
    const dx = pairs.map(({ x }) => ({ ...x, data: dev(api, x.data) }));
    const dy = pairs.map(({ y }) => ({ ...y, data: dev(api, y.data) }));
    const k0 = api.deviceCounters();
    const calls = [];
    for (let i = 0; i < 20; i++) {
      const k = (i >> 1) % 2;  // two of each in a row, then the other size
      const out = dev(api, poisoned(1));
      api.msssimInto(out, dx[k], dy[k], { workspace: ws });
      calls.push({ k, out });
    }
    assert.strictEqual(api.deviceCounters().memsets, k0.memsets, 'no memset between the sizes');
    const expected = pairs.map(({ x, y }) => toArray([api.msssim(x, y, { backend: 'cpu' })]));
    for (const { k, out } of calls) assertClose(out.toHost(), expected[k], 2 * msValueTol(pairs[k].x, {}), `size ${k}`);
    ws.dispose();
  });

  // A value call of one image whose coarse scales share a launch has that launch combine the
  // values, counting them in the workspace (cuda/gpu/ssim_parts_kernels.cuh, "Folded
  // combination"): here such calls (5 scales, 3 scales, 6 channels: 30 terms) come between calls
  // that combine in a kernel of their own (a gradient, two images, 7 channels: 35 terms) on one
  // workspace, nothing waiting until the end. Each count must be left at zero, and each fold
  // must combine its own call's values.
  it('value calls of one image, which combine in the coarse scales\' launch, between calls that do not, each get their own answer', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const side = { width: 200, height: 150, layout: 'chw', dtype: 'float32' };
    const three = { weights: [0.2, 0.3, 0.5] };
    const kinds = [
      { name: '1 x 3, 5 scales', spec: { ...side, channels: 3 }, opts: {} },
      { name: '1 x 3, 3 scales', spec: { ...side, channels: 3 }, opts: three },
      { name: '1 x 6, 5 scales', spec: { ...side, channels: 6 }, opts: {} },
      { name: '1 x 3, gradient', spec: { ...side, channels: 3 }, opts: {}, gradient: true },
      { name: '2 x 3, 5 scales', spec: { ...side, channels: 3, batch: 2 }, opts: {} },
      { name: '1 x 7, 5 scales', spec: { ...side, channels: 7 }, opts: {} },
    ];
    const ws = api.Workspace.for({ ...side, channels: 7 }, { ...CUDA, msssim: true, gradient: true });
    const data = kinds.map((k) => {
      const { x, y } = makePair(rng, k.spec);
      return { x, y, dx: { ...x, data: dev(api, x.data) }, dy: { ...y, data: dev(api, y.data) } };
    });
    const calls = [];
    for (let i = 0; i < 30; i++) {
      const k = [0, 1, 0, 3, 2, 0, 4, 1, 5, 2][i % 10];
      const { dx, dy, x } = data[k];
      const out = dev(api, poisoned(kinds[k].spec.batch || 1));
      const opts = { ...kinds[k].opts, workspace: ws };
      if (kinds[k].gradient) api.msssimWithGradientInto(out, dev(api, poisoned(x.data.length)), dx, dy, opts);
      else api.msssimInto(out, dx, dy, opts);
      calls.push({ k, out });
    }
    const expected = kinds.map((kind, k) => toArray(api.msssim(data[k].x, data[k].y, { ...kind.opts, backend: 'cpu' })));
    for (const { k, out } of calls) assertClose(out.toHost(), expected[k], 2 * msValueTol(data[k].x, kinds[k].opts), kinds[k].name);
    ws.dispose();
  });

  it('in-place calls with device arrays and an MS-SSIM Workspace make no allocation, memset or copy', async function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const papi = pkg.promises();
    for (const spec of [
      { width: 97, height: 61, channels: 3, batch: 2, dtype: 'float32', layout: 'hwc' },
      { width: 64, height: 80, channels: 2, batch: 3, dtype: 'uint8', layout: 'chw' },
      { width: 50, height: 45, channels: 1, dtype: 'float64', layout: 'chw' },
    ]) {
      const { x, y } = makePair(rng, spec);
      const B = spec.batch || 1;
      const n = x.data.length;
      const dx = { ...x, data: dev(api, x.data) };
      const dy = { ...y, data: dev(api, y.data) };
      const ws = api.Workspace.for({ width: spec.width, height: spec.height, channels: spec.channels, batch: B, layout: spec.layout }, { ...CUDA, msssim: true });
      const out = dev(api, poisoned(B));
      const out2 = dev(api, poisoned(B));
      const grad = dev(api, poisoned(n));
      const opts = { workspace: ws };
      const k0 = api.deviceCounters();
      api.msssimInto(out, dx, dy, opts);
      api.msssimInto(out, dx, dy, opts);
      const k1 = api.deviceCounters();
      for (const key of ['allocations', 'memsets', 'copies']) assert.strictEqual(k1[key], k0[key], `${key} (${JSON.stringify(spec)})`);
      // A gradient call lays the workspace out otherwise: its first call zeroes its 5 scales'
      // reduction states (the value calls' scratch lies there), the next one nothing.
      api.msdssimWithGradientInto(out2, grad, dx, dy, opts);
      api.msdssimWithGradientInto(out2, grad, dx, dy, opts); // twice: the SSIM state is left zeroed
      const k2 = api.deviceCounters();
      for (const key of ['allocations', 'copies']) assert.strictEqual(k2[key], k0[key], `${key} (${JSON.stringify(spec)})`);
      assert.strictEqual(k2.memsets - k1.memsets, 5, `memsets on the switch to the gradient layout (${JSON.stringify(spec)})`);
      const cpu = api.msssimWithGradient(x, y, { backend: 'cpu' });
      const sv = toArray(B === 1 && spec.batch === undefined ? [cpu.value] : cpu.value);
      assertClose(out.toHost(), sv, 2 * msValueTol(x, {}), 'msssimInto');
      assertClose(out2.toHost(), sv.map((v) => 1 - v), 2 * msValueTol(x, {}), 'msdssimWithGradientInto value');
      assertRelL2(grad.toHost(), Array.from(cpu.gradient, (g) => -g), GRAD_TOL, 'msdssimWithGradientInto gradient');
      await papi.msssimGradientInto(grad, dx, dy, opts);
      assertRelL2(grad.toHost(), cpu.gradient, GRAD_TOL, 'promises msssimGradientInto');
      // a workspace too small for the call (a value-only SSIM one) is refused with a message that
      // says how to make one (an SSIM workspace with gradient room may hold enough for MS-SSIM values)
      const small = api.Workspace.for({ width: spec.width, height: spec.height, channels: spec.channels, batch: B }, { ...CUDA, gradient: false });
      expectThrow(() => api.msssimInto(out, dx, dy, { workspace: small }), { code: 'ERR_SSIM_WORKSPACE', message: /msssim/ }, 'SSIM workspace');
      small.dispose();
      ws.dispose();
    }
  });
});
