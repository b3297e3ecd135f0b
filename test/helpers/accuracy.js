'use strict';
// Accuracy cases where float32 E[x^2] - E[x]^2 used to cancel (flat, near-flat, saturated,
// tiny-variance images, extreme scales): values, ssimMap means and gradients against the
// float64 reference. Shared by accuracy.test.js (CPU backend) and gpu.test.js (CUDA backend).

const ref = require('../reference');
const assert = require('assert');
const { assertClose, assertAllFinite, poisoned, l2 } = require('./check');

const VALUE_TOL = 1e-6; // |value - reference|, and |mean of ssimMap - reference|
const GRAD_TOL = 5e-5; // relative L2 of the gradient, plus an absolute floor (gradTol)

// ||g - ref|| <= GRAD_TOL ||ref|| + 4e-6 sqrt(N) / M: the floor (an RMS error of 4e-6 / M per
// element, M = channels * map pixels: the scale of one pixel's share of the mean) serves
// gradients that are ~0 (flat pairs), where a relative error means nothing. 4e-6, not 1e-6: a
// level near 0 with noise of 1e-6 (float32 holds such noise to ~1e-3 relative) came out at
// 1.6e-6 in one draw of many; flat regions before the shifted moments were ~1e-3 off.
function assertGradient(g, expected, mapCount, what) {
  let num = 0;
  for (let i = 0; i < g.length; i++) num += (g[i] - expected[i]) ** 2;
  const err = Math.sqrt(num);
  const tol = GRAD_TOL * l2(expected) + (4e-6 * Math.sqrt(g.length)) / mapCount;
  if (!(err <= tol)) assert.fail(`${what}: ||g - ref|| ${err} > ${tol} (|ref| = ${l2(expected)})`);
}

// An image pair from per-plane generators fx(plane), fy(plane) (plane = b * channels + c), in
// a random layout, with a batch key when batch > 1.
function pair(width, height, channels, fx, fy, Ctor = Float32Array, layout = 'hwc', batch = 1) {
  const n = width * height * channels * batch;
  const x = new Ctor(n);
  const y = new Ctor(n);
  const hw = width * height;
  for (let i = 0; i < n; i++) {
    const b = Math.floor(i / (hw * channels));
    const k = i - b * hw * channels;
    const c = layout === 'hwc' ? k % channels : Math.floor(k / hw);
    x[i] = fx(b * channels + c);
    y[i] = fy(b * channels + c);
  }
  const img = (data) => ({ data, width, height, channels, layout, ...(batch > 1 ? { batch } : {}) });
  return { x: img(x), y: img(y) };
}

// Mostly small (narrow planes are packed side by side on the GPU), sometimes wider than a few
// GPU strips; 1 or 3 channels, either layout, batches up to 3.
function size(rng) {
  const big = rng.bool(0.15);
  return {
    w: big ? rng.int(200, 400) : rng.int(16, 90),
    h: big ? rng.int(40, 140) : rng.int(16, 90),
    c: rng.pick([1, 1, 3]),
    layout: rng.pick(['hwc', 'chw']),
    batch: rng.pick([1, 1, 2, 3]),
  };
}

// A uint8 RGB page, x at 255 against y at 250: x dark (0) in every channel at the pixels
// marks(w, h) lists ([row, column]) and at 3 random values.
function page(rng, marks) {
  const { w, h } = size(rng);
  const t = pair(w, h, 3, () => 255, () => 250, Uint8Array);
  for (const [r, col] of marks(w, h)) for (let c = 0; c < 3; c++) t.x.data[(r * w + col) * 3 + c] = 0;
  for (let k = 0; k < 3; k++) t.x.data[rng.int(0, t.x.data.length - 1)] = 0;
  return { ...t, opts: {}, desc: `${w}x${h}` };
}

// Each case: make(rng) -> { x, y, opts, desc }.
const CASES = [
  {
    title: 'flat 64x64 pair 0.968 / 0.965, padding valid (was 6.6e-4 off)',
    make: () => ({ ...pair(64, 64, 1, () => 0.968, () => 0.965), opts: { padding: 'valid' }, desc: '' }),
  },
  {
    title: 'flat pairs at random levels in [0, 1] (one per plane)',
    make: (rng) => {
      const { w, h, c, layout, batch } = size(rng);
      const a = [], b = [];
      for (let p = 0; p < c * batch; p++) {
        a.push(rng.next());
        b.push(rng.bool(0.3) ? a[p] : Math.min(1, Math.max(0, a[p] + rng.uniform(-0.02, 0.02))));
      }
      const padding = rng.pick(['same', 'valid']);
      return {
        ...pair(w, h, c, (p) => a[p], (p) => b[p], Float32Array, layout, batch),
        opts: { padding },
        desc: `${w}x${h}x${c}x${batch} ${layout} ${a} / ${b} ${padding}`,
      };
    },
  },
  {
    title: 'near-flat: a level in [0, 1] plus noise of 1e-3 .. 1e-5',
    make: (rng) => {
      const { w, h, c, layout, batch } = size(rng);
      const a = [];
      for (let p = 0; p < c * batch; p++) a.push(rng.next());
      const d = rng.uniform(-0.01, 0.01);
      const amp = 10 ** rng.uniform(-5, -3);
      const padding = rng.pick(['same', 'valid']);
      return {
        ...pair(w, h, c, (p) => a[p] + amp * rng.normal(), (p) => a[p] + d + amp * rng.normal(), Float32Array, layout, batch),
        opts: { padding },
        desc: `${w}x${h}x${c}x${batch} ${layout} levels ${a} + ${d}, noise ${amp} ${padding}`,
      };
    },
  },
  {
    title: 'tiny variance: noise of 1e-6 on a level, k2 0.03 and 0.01',
    make: (rng) => {
      const { w, h, c } = size(rng);
      const a = rng.next();
      const k2 = rng.pick([0.03, 0.01]);
      return {
        ...pair(w, h, c, () => a + 1e-6 * rng.normal(), () => a + 1e-6 * rng.normal()),
        opts: { k2 },
        desc: `${w}x${h}x${c} level ${a} k2 ${k2}`,
      };
    },
  },
  {
    title: 'saturated: flat 0 and 1 in every combination',
    make: (rng) => {
      const { w, h, c, layout, batch } = size(rng);
      const a = [], b = [];
      for (let p = 0; p < c * batch; p++) {
        a.push(rng.pick([0, 1]));
        b.push(rng.pick([0, 1]));
      }
      return {
        ...pair(w, h, c, (p) => a[p], (p) => b[p], Float32Array, layout, batch),
        opts: {},
        desc: `${w}x${h}x${c}x${batch} ${layout} ${a} / ${b}`,
      };
    },
  },
  {
    title: 'uint8 RGB screenshot-like pair: 255 against 250 with a few dark pixels (was 1e-4 off)',
    make: (rng) => page(rng, () => []),
  },
  {
    title: 'uint8 RGB page, 255 against 250, dark at every channel\'s centre and at one more sample pixel (was 1.5e-6 off on the GPU)',
    // The shift's sample pixels sit at 1/6, 1/2 and 5/6 of each side (ssim_math.h, planeReference).
    make: (rng) => page(rng, (w, h) => [
      [Math.floor(h / 2), Math.floor(w / 2)],
      [Math.floor(h / 6), Math.floor((5 * w) / 6)],
    ]),
  },
  {
    title: 'ordinary random images at an offset in [0, 1]',
    make: (rng) => {
      const { w, h, c, layout, batch } = size(rng);
      const off = rng.next();
      const amp = rng.uniform(0.05, 1 - off + 0.05);
      return {
        ...pair(w, h, c, () => off + amp * rng.next(), () => off + amp * rng.next(), Float32Array, layout, batch),
        opts: { padding: rng.pick(['same', 'valid']) },
        desc: `${w}x${h}x${c}x${batch} ${layout} offset ${off} amplitude ${amp}`,
      };
    },
  },
  {
    title: 'extreme scales: data times s with dataRange s, s in [1e-6, 1e6] and 1e-30, 1e30',
    make: (rng) => {
      const { w, h, c } = size(rng);
      const s = rng.bool(0.2) ? rng.pick([1e-30, 1e30, 1e-10]) : 10 ** rng.uniform(-6, 6);
      const flat = rng.bool(0.3);
      const a = rng.next();
      const t = flat
        ? pair(w, h, c, () => a * s, () => (a + 0.003) * s)
        : pair(w, h, c, () => (0.3 + 0.2 * rng.next()) * s, () => (0.3 + 0.2 * rng.next()) * s);
      return { ...t, opts: { dataRange: s }, desc: `${w}x${h}x${c} s ${s} ${flat ? 'flat' : 'random'}` };
    },
  },
  {
    title: 'a window of one pixel (sigma 0.001, k2 0.003; sigma 1e-200): S = A1 / B1 exactly',
    make: (rng) => {
      const { w, h, c } = size(rng);
      const sigma = rng.pick([0.001, 1e-200]);
      return {
        ...pair(w, h, c, () => rng.next(), () => rng.next()),
        opts: { sigma, k2: 0.003 },
        refOpts: { sigma: 0.01, k2: 0.003 }, // the same window in float64
        desc: `${w}x${h}x${c} sigma ${sigma}`,
      };
    },
  },
];

// One check of a case on `backend`: values (ssimInto on a poisoned out), ssimMap means
// (ssimMapInto on a poisoned map) and the gradient (ssimGradientInto on a poisoned grad).
function checkCase(api, t, backend) {
  const opts = { ...t.opts, backend };
  const rOpts = { ...t.opts, ...(t.refOpts || {}) };
  const what = `${t.desc} ${JSON.stringify(t.opts)} [${backend}]`;
  const batch = t.x.batch || 1;
  const expected = Array.from(ref.ssimRef(t.x, t.y, rOpts));
  const bx = { ...t.x, batch };
  const by = { ...t.y, batch };

  const out = poisoned(batch);
  api.ssimInto(out, bx, by, opts);
  assertAllFinite(out, `out ${what}`);
  assertClose(out, expected, VALUE_TOL, `ssim ${what}`);

  const r = opts.padding === 'valid' ? ((opts.windowSize || 11) - 1) / 2 : 0;
  const m = (t.x.width - 2 * r) * (t.x.height - 2 * r);
  const map = poisoned(batch * m);
  api.ssimMapInto(map, t.x, t.y, opts);
  assertAllFinite(map, `map ${what}`);
  const means = [];
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let i = b * m; i < (b + 1) * m; i++) sum += map[i];
    means.push(sum / m);
  }
  assertClose(means, expected, VALUE_TOL, `ssimMap mean ${what}`);

  const grad = poisoned(t.x.data.length);
  api.ssimGradientInto(grad, t.x, t.y, opts);
  assertAllFinite(grad, `grad ${what}`);
  assertGradient(grad, ref.ssimGradientRef(t.x, t.y, rOpts), t.x.channels * m, `gradient ${what}`);
}

module.exports = { CASES, checkCase, assertGradient, VALUE_TOL, GRAD_TOL, pair };
