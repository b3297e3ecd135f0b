'use strict';
// Checks of the float64 reference (test/reference.js) on its own: known window values, hand
// derived closed forms, invariances, two independent value paths, ssim.js (a line-by-line port
// of Wang's MATLAB ssim_index) as an external implementation, and its gradient against its own
// finite differences. Does not need the package to be built.

const assert = require('assert');
const ref = require('./reference');
const { testRng } = require('./helpers/random');
const { makePair, relayout, relayoutArray, imageAt, DTYPE_NAMES } = require('./helpers/images');
const { assertClose, assertRelL2, maxAbs } = require('./helpers/check');

const matlab = require('ssim.js/dist/matlab');
const { originalSsim } = require('ssim.js/dist/originalSsim');

function sum(a) {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

describe('reference: Gaussian window', function () {
  for (const win of [3, 7, 9, 11]) {
    it(`window ${win}: 1-D taps symmetric, decreasing from the centre, sum to 1; 2-D window = outer product, sums to 1`, function () {
      const rng = testRng(this);
      for (const sigma of [1.5, rng.uniform(0.3, 5)]) {
        const t = ref.gaussianWindow1D(win, sigma);
        const r = (win - 1) / 2;
        assert.ok(Math.abs(sum(t) - 1) < 1e-15, `sum ${sum(t)}`);
        for (let k = 0; k < win; k++) assert.strictEqual(t[k], t[win - 1 - k]);
        for (let k = 0; k < r; k++) assert.ok(t[k] < t[k + 1]);
        const w2 = ref.gaussianWindow2D(win, sigma);
        assert.ok(Math.abs(sum(w2) - 1) < 1e-14, `2-D sum ${sum(w2)}`);
        // exp(-(a + b)) against exp(-a) exp(-b): rounding the exponent costs about its size in
        // ulps (e^-111 for window 9 at sigma 0.3), so the relative bound grows with it.
        for (let i = 0; i < win; i++) {
          for (let j = 0; j < win; j++) {
            const exponent = ((i - r) ** 2 + (j - r) ** 2) / (2 * sigma * sigma);
            const tol = (16 + 4 * exponent) * Number.EPSILON * t[i] * t[j];
            assert.ok(Math.abs(w2[i * win + j] - t[i] * t[j]) <= tol, `2-D [${i}][${j}] (sigma ${sigma})`);
          }
        }
      }
    });
  }

  it('known values: window 11 sigma 1.5 (centre 0.266011, edge 0.00102838), fspecial(3, 1.5)', function () {
    // Hand: sum = 1 + 2 (e^-1/4.5 + e^-4/4.5 + e^-9/4.5 + e^-16/4.5 + e^-25/4.5) = 3.759230...
    const t = ref.gaussianWindow1D(11, 1.5);
    assert.ok(Math.abs(t[5] - 0.2660117) < 1e-6, `centre ${t[5]}`);
    assert.ok(Math.abs(t[0] - 0.00102838) < 1e-7, `edge ${t[0]}`);
    // MATLAB fspecial('gaussian', 3, 1.5) (values from the ssim.js docs)
    const w = ref.gaussianWindow2D(3, 1.5);
    assertClose(w, [0.094742, 0.118318, 0.094742, 0.118318, 0.147761, 0.118318, 0.094742, 0.118318, 0.094742], 1e-6, 'fspecial 3');
    for (const win of [7, 9, 11]) {
      assertClose(ref.gaussianWindow2D(win, 1.5), matlab.fspecial('gaussian', win, 1.5).data, 1e-15, `fspecial ${win}`);
    }
  });
});

describe('reference: closed forms', function () {
  it('1x1 image: value and gradient equal the single-pixel closed form (windows 7/9/11, random sigma, k1, k2)', function () {
    const rng = testRng(this);
    for (let trial = 0; trial < 30; trial++) {
      const opts = {
        windowSize: rng.pick([7, 9, 11]),
        sigma: rng.uniform(0.5, 4),
        k1: rng.uniform(0.005, 0.05),
        k2: rng.uniform(0.01, 0.1),
      };
      const xv = rng.uniform(0.01, 1);
      const yv = rng.uniform(0.01, 1);
      const x = { data: new Float64Array([xv]), width: 1, height: 1 };
      const y = { data: new Float64Array([yv]), width: 1, height: 1 };
      const cf = ref.singlePixelRef(xv, yv, opts);
      const t = ref.gaussianWindow1D(opts.windowSize, opts.sigma);
      assert.ok(Math.abs(cf.w0 - t[(opts.windowSize - 1) / 2] ** 2) < 1e-16);
      assertClose(ref.ssimRef(x, y, opts), [cf.value], 1e-13, 'value');
      assertClose(ref.ssimRefDirect(x, y, opts), [cf.value], 1e-13, 'direct value');
      assertClose(ref.ssimGradientRef(x, y, opts), [cf.grad], 1e-11 * Math.max(1, Math.abs(cf.grad)), 'gradient');
      assertClose(ref.finiteDifferenceRef(x, y, opts, [0], 1e-6), [cf.grad], 1e-7 * Math.max(1, Math.abs(cf.grad)), 'FD');
    }
  });

  it('1x1 image, 3 channels uint8: mean of the channels, gradient / channels, w.r.t. intensities / 255', function () {
    const rng = testRng(this);
    const xd = new Uint8Array([rng.int(1, 255), rng.int(1, 255), rng.int(1, 255)]);
    const yd = new Uint8Array([rng.int(1, 255), rng.int(1, 255), rng.int(1, 255)]);
    const x = { data: xd, width: 1, height: 1 };
    const y = { data: yd, width: 1, height: 1 };
    const cfs = [0, 1, 2].map((c) => ref.singlePixelRef(xd[c] / 255, yd[c] / 255));
    assertClose(ref.ssimRef(x, y), [sum(cfs.map((c) => c.value)) / 3], 1e-13, 'value');
    assertClose(ref.ssimGradientRef(x, y), cfs.map((c) => c.grad / 3), 1e-12, 'gradient');
  });

  it("constant images, 'valid' on a window-sized image: (2ab + C1) / (a^2 + b^2 + C1)", function () {
    const rng = testRng(this);
    for (const win of [7, 9, 11]) {
      const a = rng.uniform(0.05, 1);
      const b = rng.uniform(0.05, 1);
      const k1 = rng.uniform(0.005, 0.1);
      const x = { data: new Float64Array(win * win).fill(a), width: win, height: win };
      const y = { data: new Float64Array(win * win).fill(b), width: win, height: win };
      const opts = { windowSize: win, padding: 'valid', k1, sigma: rng.uniform(0.5, 3) };
      const c1 = k1 * k1;
      const expected = (2 * a * b + c1) / (a * a + b * b + c1);
      assertClose(ref.ssimRef(x, y, opts), [expected], 1e-12, 'value');
      // d/da of the same expression (the gradient of the only map pixel, spread by the window)
      const dSda = (2 * b) / (a * a + b * b + c1) - (expected * 2 * a) / (a * a + b * b + c1);
      const g = ref.ssimGradientRef(x, y, opts);
      // (x - mu_x) and (y - mu_y) are rounding noise here, amplified by 1/C2: 1e-9 relative
      assert.ok(Math.abs(sum(g) - dSda) < 1e-9 * Math.abs(dSda), `sum of gradient ${sum(g)} vs ${dSda}`);
      const w2 = ref.gaussianWindow2D(win, opts.sigma);
      assertClose(g, Array.from(w2, (w) => w * dSda), 1e-9 * Math.abs(dSda), 'gradient = window * dS/da');
    }
  });

  it("'valid' map size is (H - 2r) x (W - 2r); 'same' covers every pixel", function () {
    const rng = testRng(this);
    const W = rng.int(11, 30);
    const H = rng.int(11, 30);
    const { x, y } = makePair(rng, { width: W, height: H });
    for (const win of [7, 9, 11]) {
      const r = (win - 1) / 2;
      const [v] = ref.ssimMapsRef(x, y, { windowSize: win, padding: 'valid' });
      assert.strictEqual(v.map.length, (H - 2 * r) * (W - 2 * r));
      const [s] = ref.ssimMapsRef(x, y, { windowSize: win });
      assert.strictEqual(s.map.length, H * W);
      // the 'valid' map is the interior of the 'same' map
      for (let yy = 0; yy < H - 2 * r; yy++) {
        for (let xx = 0; xx < W - 2 * r; xx++) {
          const d = v.map[yy * (W - 2 * r) + xx] - s.map[(yy + r) * W + xx + r];
          assert.ok(Math.abs(d) < 1e-14);
        }
      }
    }
  });
});

describe('reference: identities and invariances', function () {
  it('ssim(x, x) = 1 (every dtype, both layouts, batch, channels, both paddings)', function () {
    const rng = testRng(this);
    for (const dtype of DTYPE_NAMES) {
      for (const layout of ['hwc', 'chw']) {
        const { x } = makePair(rng, { width: rng.int(11, 25), height: rng.int(11, 25), channels: rng.int(1, 4), batch: 2, layout, dtype });
        for (const padding of ['same', 'valid']) {
          assertClose(ref.ssimRef(x, x, { padding }), [1, 1], 1e-12, `${dtype} ${layout} ${padding}`);
          assert.ok(maxAbs(ref.ssimGradientRef(x, x, { padding })) < 1e-12, 'gradient at x = y vanishes');
        }
      }
    }
  });

  it('symmetric in x and y; invariant to layout; batch image b = the image alone', function () {
    const rng = testRng(this);
    const { x, y } = makePair(rng, { width: 17, height: 13, channels: 3, batch: 3, layout: 'hwc', dtype: 'float64' });
    const opts = { windowSize: 7, sigma: 1.1 };
    const v = ref.ssimRef(x, y, opts);
    assertClose(ref.ssimRef(y, x, opts), v, 1e-14, 'symmetry');
    const xc = relayout(x, 'chw');
    const yc = relayout(y, 'chw');
    assertClose(ref.ssimRef(xc, yc, opts), v, 1e-14, 'chw');
    const g = ref.ssimGradientRef(x, y, opts);
    const gc = ref.ssimGradientRef(xc, yc, opts);
    assertClose(relayoutArray(gc, ref.shapeOf(xc), 'hwc'), g, 1e-16, 'chw gradient');
    for (let b = 0; b < 3; b++) {
      assertClose(ref.ssimRef(imageAt(x, b), imageAt(y, b), opts), [v[b]], 1e-15, `image ${b}`);
    }
  });

  it('integer data are normalised: uint8 = float32 of v/255, uint16 = float64 of v/65535; dataRange scales C1, C2', function () {
    const rng = testRng(this);
    const { x, y } = makePair(rng, { width: 19, height: 23, channels: 2, dtype: 'uint8' });
    const xf = { ...x, data: Float64Array.from(x.data, (v) => v / 255) };
    const yf = { ...y, data: Float64Array.from(y.data, (v) => v / 255) };
    assertClose(ref.ssimRef(x, y), ref.ssimRef(xf, yf), 1e-15, 'uint8');
    assertClose(ref.ssimGradientRef(x, y), ref.ssimGradientRef(xf, yf), 1e-14, 'uint8 gradient');
    const clamped = { ...x, data: Uint8ClampedArray.from(x.data) };
    assertClose(ref.ssimRef(clamped, y), ref.ssimRef(x, y), 0, 'Uint8ClampedArray');
    const p = makePair(rng, { width: 9, height: 31, dtype: 'uint16' });
    const pf = { x: { ...p.x, data: Float64Array.from(p.x.data, (v) => v / 65535) }, y: { ...p.y, data: Float64Array.from(p.y.data, (v) => v / 65535) } };
    assertClose(ref.ssimRef(p.x, p.y), ref.ssimRef(pf.x, pf.y), 1e-15, 'uint16');
    // scaling data by L with dataRange L gives the same value
    const L = 255;
    const xs = { ...xf, data: xf.data.map((v) => v * L) };
    const ys = { ...yf, data: yf.data.map((v) => v * L) };
    assertClose(ref.ssimRef(xs, ys, { dataRange: L }), ref.ssimRef(xf, yf), 1e-13, 'dataRange');
    assertClose(ref.ssimGradientRef(xs, ys, { dataRange: L }).map((g) => g * L), ref.ssimGradientRef(xf, yf), 1e-12, 'dataRange gradient');
  });

  it('dssim = 1 - ssim, halved = (1 - ssim) / 2; gradients -1 and -1/2 times', function () {
    const rng = testRng(this);
    const { x, y } = makePair(rng, { width: 15, height: 12, channels: 2, batch: 2 });
    const s = ref.ssimRef(x, y);
    assertClose(ref.dssimRef(x, y), s.map((v) => 1 - v), 1e-16, 'dssim');
    assertClose(ref.dssimRef(x, y, { divideByTwo: true }), s.map((v) => (1 - v) / 2), 1e-16, 'dssim/2');
    const g = ref.ssimGradientRef(x, y);
    assertClose(ref.dssimGradientRef(x, y), g.map((v) => -v), 0, 'dssim gradient');
    assertClose(ref.dssimGradientRef(x, y, { divideByTwo: true }), g.map((v) => -v / 2), 0, 'dssim/2 gradient');
  });
});

describe('reference: independent implementations agree', function () {
  it('separable path = direct 2-D path (random shapes incl. 1xN, Nx1, windows, sigma, paddings)', function () {
    const rng = testRng(this);
    const shapes = [[1, 1], [1, rng.int(2, 40)], [rng.int(2, 40), 1], [3, 3], [rng.int(5, 30), rng.int(5, 30)], [rng.int(11, 40), rng.int(11, 40)]];
    for (const [w, h] of shapes) {
      for (const win of [7, 9, 11]) {
        for (const padding of ['same', 'valid']) {
          if (padding === 'valid' && (w < win || h < win)) continue;
          const { x, y } = makePair(rng, { width: w, height: h, channels: rng.int(1, 3), batch: 2, layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(DTYPE_NAMES) });
          const opts = { windowSize: win, padding, sigma: rng.uniform(0.5, 3), k1: rng.uniform(0.005, 0.05), k2: rng.uniform(0.01, 0.1) };
          assertClose(ref.ssimRefDirect(x, y, opts), ref.ssimRef(x, y, opts), 1e-11, `${w}x${h} win ${win} ${padding}`);
        }
      }
    }
  });

  it("tiny 3x3 image ('same', window 7): every window covers the image; matches moments summed by hand", function () {
    const rng = testRng(this);
    const xs = Array.from({ length: 9 }, () => rng.uniform(0, 1));
    const ys = Array.from({ length: 9 }, () => rng.uniform(0, 1));
    const sigma = rng.uniform(0.8, 2);
    const w1 = ref.gaussianWindow1D(7, sigma);
    const c1 = 1e-4;
    const c2 = 9e-4;
    let total = 0;
    for (let py = 0; py < 3; py++) {
      for (let px = 0; px < 3; px++) {
        let mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
        for (let qy = 0; qy < 3; qy++) {
          for (let qx = 0; qx < 3; qx++) {
            const w = w1[qy - py + 3] * w1[qx - px + 3];
            const a = xs[qy * 3 + qx];
            const b = ys[qy * 3 + qx];
            mx += w * a; my += w * b; xx += w * a * a; yy += w * b * b; xy += w * a * b;
          }
        }
        const vx = xx - mx * mx;
        const vy = yy - my * my;
        const cv = xy - mx * my;
        total += ((2 * mx * my + c1) * (2 * cv + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      }
    }
    const x = { data: Float64Array.from(xs), width: 3, height: 3 };
    const y = { data: Float64Array.from(ys), width: 3, height: 3 };
    assertClose(ref.ssimRef(x, y, { windowSize: 7, sigma }), [total / 9], 1e-14, '3x3');
  });

  it("ssim.js originalSsim (port of Wang's MATLAB ssim_index, 'valid', sigma 1.5) on uint8 grey images", function () {
    const rng = testRng(this);
    for (const win of [7, 9, 11]) {
      const w = rng.int(win, 48);
      const h = rng.int(win, 48);
      const { x, y } = makePair(rng, { width: w, height: h, dtype: 'uint8' });
      const k1 = rng.pick([0.01, rng.uniform(0.005, 0.05)]);
      const k2 = rng.pick([0.03, rng.uniform(0.01, 0.1)]);
      const m = originalSsim(
        { data: Array.from(x.data), width: w, height: h },
        { data: Array.from(y.data), width: w, height: h },
        { windowSize: win, k1, k2, bitDepth: 8 },
      );
      assert.strictEqual(m.width * m.height, (w - win + 1) * (h - win + 1));
      const mine = ref.ssimMapsRef(x, y, { windowSize: win, padding: 'valid', k1, k2 })[0].map;
      assertClose(mine, m.data, 1e-12, `map ${w}x${h} win ${win}`);
      assertClose(ref.ssimRef(x, y, { windowSize: win, padding: 'valid', k1, k2 }), [sum(m.data) / m.data.length], 1e-13, 'mean');
    }
  });

  it("MATLAB-style filter2 moments (ssim.js conv2, zero padding) for 'same' and 'valid', any sigma", function () {
    const rng = testRng(this);
    for (const padding of ['same', 'valid']) {
      for (const win of [7, 9, 11]) {
        const w = rng.int(win, 40);
        const h = rng.int(win, 40);
        const sigma = rng.uniform(0.5, 3.5);
        const k1 = rng.uniform(0.005, 0.05);
        const k2 = rng.uniform(0.01, 0.1);
        const { x, y } = makePair(rng, { width: w, height: h, dtype: 'float64' });
        const X = { data: Array.from(x.data), width: w, height: h };
        const Y = { data: Array.from(y.data), width: w, height: h };
        const prod = (A, B) => ({ data: A.data.map((v, i) => v * B.data[i]), width: w, height: h });
        const g = matlab.fspecial('gaussian', win, sigma);
        const f = (M) => matlab.filter2(g, M, padding).data;
        const mx = f(X), my = f(Y), xx = f(prod(X, X)), yy = f(prod(Y, Y)), xy = f(prod(X, Y));
        const c1 = k1 * k1;
        const c2 = k2 * k2;
        const map = mx.map((_, i) => ref.pixelSsim(mx[i], my[i], xx[i], yy[i], xy[i], c1, c2));
        const expected = padding === 'valid' ? (w - win + 1) * (h - win + 1) : w * h;
        assert.strictEqual(map.length, expected);
        const mine = ref.ssimMapsRef(x, y, { windowSize: win, sigma, k1, k2, padding })[0].map;
        assertClose(mine, map, 1e-12, `${padding} ${w}x${h} win ${win}`);
      }
    }
  });
});

describe('reference: gradient', function () {
  it('chain-rule gradient = central finite differences of the value (every element, random cases)', function () {
    const rng = testRng(this);
    for (let trial = 0; trial < 8; trial++) {
      const win = rng.pick([7, 9, 11]);
      const padding = rng.pick(['same', 'valid']);
      const min = padding === 'valid' ? win : 1;
      const spec = {
        width: rng.int(min, min + 9),
        height: rng.int(min, min + 9),
        channels: rng.int(1, 3),
        batch: rng.pick([undefined, 2]),
        layout: rng.pick(['hwc', 'chw']),
        dtype: rng.pick(DTYPE_NAMES),
      };
      const { x, y, desc } = makePair(rng, spec);
      const opts = { windowSize: win, padding, sigma: rng.uniform(0.6, 3), k1: rng.uniform(0.005, 0.05), k2: rng.uniform(0.01, 0.1) };
      const g = ref.ssimGradientRef(x, y, opts);
      const all = Array.from({ length: x.data.length }, (_, i) => i);
      const fd = ref.finiteDifferenceRef(x, y, opts, all, 1e-5);
      assertRelL2(g, fd, 1e-7, `${desc} win ${win} ${padding}`);
      const scale = maxAbs(fd);
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - fd[i]) <= 1e-7 * scale, `element ${i}: ${g[i]} vs FD ${fd[i]}`);
    }
  });

  it('gradient of dataRange-scaled float input, large sigma, 1xN and Nx1 strips', function () {
    const rng = testRng(this);
    for (const [w, h] of [[rng.int(2, 30), 1], [1, rng.int(2, 30)], [rng.int(12, 20), rng.int(12, 20)]]) {
      const { x, y } = makePair(rng, { width: w, height: h, channels: 2, dtype: 'float32', range: [0, 255] });
      const opts = { dataRange: 255, sigma: rng.uniform(2, 5), windowSize: rng.pick([7, 9, 11]) };
      const g = ref.ssimGradientRef(x, y, opts);
      const idx = rng.sample(x.data.length, 12);
      const fd = ref.finiteDifferenceRef(x, y, opts, idx, 1e-3);
      assertRelL2(idx.map((i) => g[i]), fd, 1e-6, `${w}x${h}`);
    }
  });
});
