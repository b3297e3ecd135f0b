'use strict';
// Value and gradient cases shared by values.test.js, gradient.test.js and gpu.test.js, and the
// checks that compare the package with the float64 reference.
//
// A case is { title, make(rng) -> { spec, opts } }; spec goes to images.makePair. Shapes that
// are drawn at random are reported in the failure message (desc).

const assert = require('assert');
const ref = require('../reference');
const { makePair, DTYPE_NAMES, describeSpec } = require('./images');
const { assertClose, assertRelL2, relL2, toArray } = require('./check');

const VALUE_TOL = 1e-5; // |value - reference| for maps of many pixels
const GRAD_TOL = 1e-4; // relative L2 of the gradient against the reference
const SAME_TOL = 1e-6; // relative L2 between two outputs of the package that must agree

// |value - reference| allowed for one image: 1e-5, plus a float32 allowance for tiny maps.
// An SSIM map pixel computed in float32 (E[x^2] - E[x]^2 cancels) is off by up to ~4e-5 for
// low-contrast windows, even with a careful implementation (checked with a Math.fround
// emulation of the separable float32 pipeline); the mean over M = channels * map pixels
// averages that down, though not as 1/sqrt(M) exactly, since neighbouring windows share
// pixels. With M >= 10^4 this is 1e-5 + 6e-7.
function valueTol(x, opts) {
  const s = ref.shapeOf(x);
  const win = (opts && opts.windowSize) || 11;
  const r = opts && opts.padding === 'valid' ? (win - 1) / 2 : 0;
  const m = s.channels * Math.max(1, (s.width - 2 * r) * (s.height - 2 * r));
  return VALUE_TOL + 6e-5 / Math.sqrt(m);
}
const LAYOUTS = ['hwc', 'chw'];
const WINDOWS = [7, 9, 11];
// sizes that are not multiples of 8, 16 or 32 (and some just above/below)
const ODD_SIZES = [13, 15, 17, 23, 31, 33, 37, 47, 53, 63, 65, 71, 97];

function randomOpts(rng) {
  const o = {};
  if (rng.bool(0.6)) o.windowSize = rng.pick(WINDOWS);
  if (rng.bool(0.4)) o.sigma = rng.uniform(0.5, 3.5);
  if (rng.bool(0.3)) o.k1 = rng.uniform(0.005, 0.05);
  if (rng.bool(0.3)) o.k2 = rng.uniform(0.01, 0.1);
  return o;
}

// Everything random: shape (up to maxDim), dtype, layout, channels, batch, options, padding.
function randomCase(rng, maxDim) {
  const opts = randomOpts(rng);
  const win = opts.windowSize || 11;
  const valid = rng.bool(0.35);
  const lo = valid ? win : 1;
  const spec = {
    width: rng.bool(0.15) ? 1 : rng.int(lo, Math.max(lo, maxDim)),
    height: rng.bool(0.15) ? 1 : rng.int(lo, Math.max(lo, maxDim)),
    channels: rng.int(1, 5),
    batch: rng.pick([undefined, undefined, 1, rng.int(2, 3)]),
    layout: rng.pick(LAYOUTS),
    dtype: rng.pick(DTYPE_NAMES),
    omitChannels: rng.bool(0.3),
  };
  if (valid && spec.width >= win && spec.height >= win) opts.padding = 'valid';
  if (spec.dtype.startsWith('float') && rng.bool(0.25)) {
    spec.range = [0, 255];
    opts.dataRange = 255;
  }
  return { spec, opts };
}

function valueCases() {
  const cases = [
    { title: '1x1 image (single pixel), float32', make: (rng) => ({ spec: { width: 1, height: 1, channels: rng.int(1, 3), dtype: 'float32' }, opts: {} }) },
    { title: '1xN strip (width 1), float64 chw', make: (rng) => ({ spec: { width: 1, height: rng.int(2, 300), channels: 2, layout: 'chw', dtype: 'float64' }, opts: {} }) },
    { title: 'Nx1 strip (height 1), uint8 RGB hwc', make: (rng) => ({ spec: { width: rng.int(2, 300), height: 1, channels: 3, dtype: 'uint8' }, opts: { windowSize: rng.pick(WINDOWS) } }) },
    { title: '3000x7, window 7, same', make: (rng) => ({ spec: { width: 3000, height: 7, channels: rng.int(1, 2), dtype: rng.pick(DTYPE_NAMES) }, opts: { windowSize: 7 } }) },
    { title: '3000x7, window 7, valid (a one-row map)', make: (rng) => ({ spec: { width: 3000, height: 7, dtype: rng.pick(DTYPE_NAMES) }, opts: { windowSize: 7, padding: 'valid' } }) },
    { title: '7x3000 chw, window 11', make: (rng) => ({ spec: { width: 7, height: 3000, channels: 2, layout: 'chw', dtype: rng.pick(DTYPE_NAMES) }, opts: {} }) },
    { title: '37x53 uint8 RGB hwc', make: () => ({ spec: { width: 37, height: 53, channels: 3, dtype: 'uint8' }, opts: {} }) },
    { title: '61x129 uint16 chw, 2 channels, batch 3', make: () => ({ spec: { width: 61, height: 129, channels: 2, batch: 3, layout: 'chw', dtype: 'uint16' }, opts: {} }) },
    { title: '129x61 float32 hwc, 5 channels, valid', make: () => ({ spec: { width: 129, height: 61, channels: 5, dtype: 'float32' }, opts: { padding: 'valid' } }) },
    {
      title: 'canvas ImageData (Uint8ClampedArray RGBA, channels omitted)',
      make: (rng) => ({ spec: { width: rng.int(20, 60), height: rng.int(20, 60), channels: 4, dtype: 'uint8c', omitChannels: true }, opts: {} }),
    },
    {
      title: 'batch 4 with channels omitted, chw float64',
      make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: rng.int(1, 3), batch: 4, layout: 'chw', dtype: 'float64', omitChannels: true }, opts: {} }),
    },
    { title: 'batch: 1 given explicitly', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 1, batch: 1, dtype: rng.pick(DTYPE_NAMES) }, opts: {} }) },
    { title: 'float data in [0, 255] with dataRange 255', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 3, dtype: rng.pick(['float32', 'float64']), range: [0, 255] }, opts: { dataRange: 255 } }) },
    { title: 'float data in [-0.5, 1.5] with dataRange 2', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 2, dtype: 'float32', range: [-0.5, 1.5], layout: 'chw' }, opts: { dataRange: 2 } }) },
    { title: 'k1 = 0.02, k2 = 0.05', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 3, dtype: rng.pick(DTYPE_NAMES) }, opts: { k1: 0.02, k2: 0.05 } }) },
    { title: 'random k1, k2', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), dtype: rng.pick(DTYPE_NAMES) }, opts: { k1: rng.uniform(0.005, 0.05), k2: rng.uniform(0.01, 0.1) } }) },
    // C1 C2 below 2^-122: the GPU forward takes the full-range reciprocal (cuda/common/MATH.md)
    { title: 'tiny k1, k2 (1e-12)', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 2, dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS) }, opts: { k1: 1e-12, k2: 1e-12 } }) },
    { title: 'unknown option keys ignored, undefined options mean default', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 2 }, opts: { foo: 1, sigma: undefined, windowSize: undefined, padding: undefined, k1: undefined } }) },
  ];
  for (const sigma of [0.6, 2.7]) {
    cases.push({ title: `sigma ${sigma}`, make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels: 2, dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS) }, opts: { sigma, windowSize: rng.pick(WINDOWS) } }) });
  }
  cases.push({ title: 'random sigma in [0.3, 5]', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), dtype: rng.pick(DTYPE_NAMES) }, opts: { sigma: rng.uniform(0.3, 5), windowSize: rng.pick(WINDOWS) } }) });
  for (const win of WINDOWS) {
    for (const padding of ['same', 'valid']) {
      cases.push({ title: `window ${win}, ${padding}`, make: (rng) => ({ spec: { width: rng.int(win, 80), height: rng.int(win, 80), channels: rng.int(1, 3), dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS) }, opts: { windowSize: win, padding } }) });
    }
    cases.push({ title: `window ${win}, valid, image exactly ${win}x${win} (a one-pixel map)`, make: (rng) => ({ spec: { width: win, height: win, channels: rng.int(1, 3), dtype: rng.pick(DTYPE_NAMES) }, opts: { windowSize: win, padding: 'valid' } }) });
  }
  for (let channels = 1; channels <= 5; channels++) {
    cases.push({ title: `${channels} channel(s), random dtype and layout`, make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.pick(ODD_SIZES), channels, dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS), batch: rng.pick([undefined, 2]) }, opts: {} }) });
  }
  for (const dtype of DTYPE_NAMES) {
    for (const layout of LAYOUTS) {
      cases.push({
        title: `${dtype} ${layout}, random shape, channels, batch`,
        make: (rng) => ({ spec: { width: rng.int(1, 70), height: rng.int(1, 70), channels: rng.int(1, 5), batch: rng.pick([undefined, 1, rng.int(2, 3)]), layout, dtype, omitLayout: rng.bool() }, opts: randomOpts(rng) }),
      });
    }
  }
  for (let i = 1; i <= 8; i++) cases.push({ title: `random case #${i}`, make: (rng) => randomCase(rng, 90) });
  return cases;
}

function gradientCases() {
  const cases = [
    { title: '1xN strip, float32', make: (rng) => ({ spec: { width: 1, height: rng.int(2, 60), channels: rng.int(1, 3), dtype: 'float32' }, opts: {} }) },
    { title: 'Nx1 strip, uint8 chw', make: (rng) => ({ spec: { width: rng.int(2, 60), height: 1, channels: 3, layout: 'chw', dtype: 'uint8' }, opts: { windowSize: rng.pick(WINDOWS) } }) },
    { title: '1x1 image, 3 channels, float64', make: () => ({ spec: { width: 1, height: 1, channels: 3, dtype: 'float64' }, opts: {} }) },
    { title: '37x29 uint8 RGB hwc', make: () => ({ spec: { width: 37, height: 29, channels: 3, dtype: 'uint8' }, opts: {} }) },
    { title: '33x17 uint16 chw, 2 channels, batch 3', make: () => ({ spec: { width: 33, height: 17, channels: 2, batch: 3, layout: 'chw', dtype: 'uint16' }, opts: {} }) },
    { title: 'canvas ImageData RGBA (Uint8ClampedArray, channels omitted)', make: (rng) => ({ spec: { width: rng.int(10, 30), height: rng.int(10, 30), channels: 4, dtype: 'uint8c', omitChannels: true }, opts: {} }) },
    { title: 'float data in [0, 255] with dataRange 255', make: (rng) => ({ spec: { width: rng.pick(ODD_SIZES), height: rng.int(5, 30), channels: 2, dtype: 'float32', range: [0, 255] }, opts: { dataRange: 255 } }) },
    { title: 'non-default sigma, k1, k2', make: (rng) => ({ spec: { width: rng.int(5, 40), height: rng.int(5, 40), channels: 2, dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS) }, opts: { sigma: rng.uniform(0.5, 3.5), k1: rng.uniform(0.005, 0.05), k2: rng.uniform(0.01, 0.1), windowSize: rng.pick(WINDOWS) } }) },
    { title: 'batch 2, 5 channels, chw float64', make: (rng) => ({ spec: { width: rng.int(8, 30), height: rng.int(8, 30), channels: 5, batch: 2, layout: 'chw', dtype: 'float64' }, opts: {} }) },
    { title: 'tiny k1, k2 (1e-12: the full-range reciprocal on the GPU)', make: (rng) => ({ spec: { width: rng.int(5, 40), height: rng.int(5, 40), channels: 2, dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS) }, opts: { k1: 1e-12, k2: 1e-12 } }) },
  ];
  for (const win of WINDOWS) {
    for (const padding of ['same', 'valid']) {
      cases.push({ title: `window ${win}, ${padding}`, make: (rng) => ({ spec: { width: rng.int(win, win + 30), height: rng.int(win, win + 30), channels: rng.int(1, 3), dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(LAYOUTS) }, opts: { windowSize: win, padding } }) });
    }
  }
  for (const dtype of DTYPE_NAMES) {
    for (const layout of LAYOUTS) {
      cases.push({ title: `${dtype} ${layout}, random shape`, make: (rng) => ({ spec: { width: rng.int(1, 40), height: rng.int(1, 40), channels: rng.int(1, 4), batch: rng.pick([undefined, 2]), layout, dtype }, opts: randomOpts(rng) }) });
    }
  }
  for (let i = 1; i <= 6; i++) cases.push({ title: `random case #${i}`, make: (rng) => randomCase(rng, 40) });
  return cases;
}

// Images and options of a case, plus a description for failure messages.
function build(rng, c, extraOpts) {
  const { spec, opts } = c.make(rng);
  const { x, y } = makePair(rng, spec);
  const o = { ...opts, ...(extraOpts || {}) };
  const desc = `[${describeSpec(spec)}${spec.omitChannels ? ' (channels omitted)' : ''}; opts ${JSON.stringify(o, (k, v) => (typeof v === 'number' ? +v.toPrecision(6) : v))}]`;
  return { x, y, opts: o, desc };
}

// number without batch, Float32Array(batch) when batch is given (even 1)
function checkValueType(v, x, what) {
  if (x.batch === undefined) {
    assert.strictEqual(typeof v, 'number', `${what}: expected a number (no batch), got ${v && v.constructor && v.constructor.name}`);
  } else {
    assert.ok(v instanceof Float32Array, `${what}: expected a Float32Array (batch given), got ${v && v.constructor && v.constructor.name}`);
    assert.strictEqual(v.length, x.batch, `${what}: length`);
  }
}

// ssim, dssim and dssim/2 against the reference.
function checkValues(api, { x, y, opts, desc }) {
  const s = ref.ssimRef(x, y, opts);
  const tol = valueTol(x, opts);
  const v = api.ssim(x, y, opts);
  checkValueType(v, x, `ssim ${desc}`);
  assertClose(v, s, tol, `ssim ${desc}`);
  const d = api.dssim(x, y, opts);
  checkValueType(d, x, `dssim ${desc}`);
  assertClose(d, s.map((t) => 1 - t), tol, `dssim ${desc}`);
  assertClose(d, toArray(v).map((t) => 1 - t), 1.2e-7, `dssim = 1 - ssim ${desc}`);
  const d2 = api.dssim(x, y, { ...opts, divideByTwo: true });
  assertClose(d2, s.map((t) => (1 - t) / 2), tol / 2, `dssim divideByTwo ${desc}`);
  return { ref: s, value: v };
}

function checkGradientArray(g, x, what) {
  assert.ok(g instanceof Float32Array, `${what}: expected a Float32Array, got ${g && g.constructor && g.constructor.name}`);
  assert.strictEqual(g.length, x.data.length, `${what}: length`);
}

// The six gradient functions against the reference; returns the ssim gradient.
function checkGradients(api, { x, y, opts, desc }) {
  const gRef = ref.ssimGradientRef(x, y, opts);
  const sRef = ref.ssimRef(x, y, opts);
  const tol = valueTol(x, opts);
  const g = api.ssimGradient(x, y, opts);
  checkGradientArray(g, x, `ssimGradient ${desc}`);
  assertRelL2(g, gRef, GRAD_TOL, `ssimGradient ${desc}`);

  const wg = api.ssimWithGradient(x, y, opts);
  checkValueType(wg.value, x, `ssimWithGradient value ${desc}`);
  assertClose(wg.value, sRef, tol, `ssimWithGradient value ${desc}`);
  checkGradientArray(wg.gradient, x, `ssimWithGradient gradient ${desc}`);
  assertRelL2(wg.gradient, gRef, GRAD_TOL, `ssimWithGradient gradient ${desc}`);
  assertRelL2(wg.gradient, g, SAME_TOL, `ssimWithGradient gradient vs ssimGradient ${desc}`);

  const dg = api.dssimGradient(x, y, opts);
  checkGradientArray(dg, x, `dssimGradient ${desc}`);
  assertRelL2(dg, Array.from(g, (v) => -v), SAME_TOL, `dssimGradient = -ssimGradient ${desc}`);
  assertRelL2(dg, gRef.map((v) => -v), GRAD_TOL, `dssimGradient vs reference ${desc}`);

  const half = { ...opts, divideByTwo: true };
  const dg2 = api.dssimGradient(x, y, half);
  assertRelL2(dg2, Array.from(g, (v) => -v / 2), SAME_TOL, `dssimGradient (divideByTwo) = -ssimGradient / 2 ${desc}`);

  const dwg = api.dssimWithGradient(x, y, half);
  checkValueType(dwg.value, x, `dssimWithGradient value ${desc}`);
  assertClose(dwg.value, sRef.map((t) => (1 - t) / 2), tol / 2, `dssimWithGradient (divideByTwo) value ${desc}`);
  assertRelL2(dwg.gradient, Array.from(g, (v) => -v / 2), SAME_TOL, `dssimWithGradient (divideByTwo) gradient ${desc}`);
  const dwg1 = api.dssimWithGradient(x, y, opts);
  assertClose(dwg1.value, sRef.map((t) => 1 - t), tol, `dssimWithGradient value ${desc}`);
  assertRelL2(dwg1.gradient, Array.from(g, (v) => -v), SAME_TOL, `dssimWithGradient gradient ${desc}`);
  return { g, gRef, sRef };
}

module.exports = {
  VALUE_TOL,
  valueTol,
  GRAD_TOL,
  SAME_TOL,
  LAYOUTS,
  WINDOWS,
  ODD_SIZES,
  randomOpts,
  randomCase,
  valueCases,
  gradientCases,
  build,
  checkValueType,
  checkValues,
  checkGradientArray,
  checkGradients,
  relL2,
};
