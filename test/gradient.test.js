'use strict';
// Gradients of the package (default backend) against the float64 reference (relative L2
// <= 1e-4), against central finite differences of the reference at random pixels, against the
// closed form of a 1x1 image, and the dssim identities (-ssimGradient, -ssimGradient / 2).

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { gradientCases, build, checkGradients, WINDOWS } = require('./helpers/cases');
const ref = require('./reference');
const { makePair, DTYPE_NAMES } = require('./helpers/images');
const { assertClose, maxAbs } = require('./helpers/check');

describe('gradient: the six gradient functions against the float64 reference (rel. L2 <= 1e-4)', function () {
  for (const c of gradientCases()) {
    it(c.title, function () {
      const rng = testRng(this);
      checkGradients(pkg.api(), build(rng, c));
    });
  }
});

describe('gradient: central finite differences of the float64 reference at random pixels', function () {
  for (let i = 1; i <= 6; i++) {
    it(`random case #${i}`, function () {
      const rng = testRng(this);
      const win = rng.pick(WINDOWS);
      const padding = rng.pick(['same', 'valid']);
      const lo = padding === 'valid' ? win : 2;
      const spec = {
        width: rng.int(lo, lo + 20),
        height: rng.int(lo, lo + 20),
        channels: rng.int(1, 3),
        batch: rng.pick([undefined, 2]),
        layout: rng.pick(['hwc', 'chw']),
        dtype: rng.pick(DTYPE_NAMES),
      };
      const opts = { windowSize: win, padding, sigma: rng.pick([1.5, rng.uniform(0.7, 3)]) };
      const { x, y, desc } = makePair(rng, spec);
      const g = pkg.api().ssimGradient(x, y, opts);
      const idx = rng.sample(x.data.length, 16);
      const fd = ref.finiteDifferenceRef(x, y, opts, idx, 1e-5);
      const scale = maxAbs(ref.ssimGradientRef(x, y, opts));
      assert.ok(scale > 0);
      idx.forEach((i, k) => {
        const d = Math.abs(g[i] - fd[k]);
        assert.ok(d <= 5e-4 * scale, `${desc} ${JSON.stringify(opts)}: element ${i}: gradient ${g[i]} vs finite difference ${fd[k]} (|diff| ${d}, max |grad| ${scale})`);
      });
    });
  }
});

describe('gradient: 1x1 image against the closed form', function () {
  // One pixel with zero padding: every moment sees only the centre weight w0 = taps[r]^2, so
  //   mu_x = w0 x, E[x^2] = w0 x^2, s_xx = w0 (1 - w0) x^2, s_xy = w0 (1 - w0) x y, and
  //   S(x, y) = (2 w0^2 x y + C1)(2 v x y + C2) / ((w0^2 (x^2 + y^2) + C1)(v (x^2 + y^2) + C2)),
  //   v = w0 (1 - w0); dS/dx by the quotient rule (reference.singlePixelRef).
  for (const win of WINDOWS) {
    it(`window ${win}, random sigma / k1 / k2 / intensities, float32 and uint8`, function () {
      const rng = testRng(this);
      const api = pkg.api();
      for (let trial = 0; trial < 5; trial++) {
        const opts = { windowSize: win, sigma: rng.uniform(0.5, 3), k1: rng.uniform(0.005, 0.05), k2: rng.uniform(0.01, 0.1) };
        // |x - y| >= 0.15: near x = y the gradient vanishes (SSIM is maximal there) and a relative
        // comparison would only measure float32 rounding
        const apart = () => {
          for (;;) {
            const a = rng.uniform(0.05, 1);
            const b = rng.uniform(0.05, 1);
            if (Math.abs(a - b) >= 0.15) return [a, b];
          }
        };
        const [xv, yv] = apart().map(Math.fround);
        const cf = ref.singlePixelRef(xv, yv, opts);
        const x = { data: new Float32Array([xv]), width: 1, height: 1 };
        const y = { data: new Float32Array([yv]), width: 1, height: 1 };
        const r = api.ssimWithGradient(x, y, opts);
        const what = `x=${xv} y=${yv} ${JSON.stringify(opts)}`;
        assertClose(r.value, [cf.value], 1e-5, `value ${what}`);
        assert.ok(Math.abs(r.gradient[0] - cf.grad) <= 1e-4 * Math.abs(cf.grad) + 1e-7, `gradient ${r.gradient[0]} vs closed form ${cf.grad} (${what})`);
        // uint8: w.r.t. the normalised intensity
        const [xi, yi] = apart().map((v) => Math.round(v * 255));
        const cfi = ref.singlePixelRef(xi / 255, yi / 255, opts);
        const gi = api.ssimGradient({ data: new Uint8Array([xi]), width: 1, height: 1 }, { data: new Uint8Array([yi]), width: 1, height: 1 }, opts);
        assert.ok(Math.abs(gi[0] - cfi.grad) <= 1e-4 * Math.abs(cfi.grad) + 1e-7, `uint8 gradient ${gi[0]} vs closed form ${cfi.grad} (x=${xi} y=${yi})`);
      }
    });
  }
});

describe('gradient: dssim identities', function () {
  it('dssimGradient = -ssimGradient; divideByTwo: -ssimGradient / 2 (element-wise, 1e-6 relative)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: rng.int(10, 50), height: rng.int(10, 50), channels: rng.int(1, 4), dtype: rng.pick(DTYPE_NAMES) });
    const g = api.ssimGradient(x, y);
    const d = api.dssimGradient(x, y);
    const d2 = api.dssimGradient(x, y, { divideByTwo: true });
    const s = maxAbs(g);
    assert.ok(s > 0, 'gradient is not all zero');
    for (let i = 0; i < g.length; i++) {
      assert.ok(Math.abs(d[i] + g[i]) <= 1e-6 * s, `element ${i}: ${d[i]} vs -${g[i]}`);
      assert.ok(Math.abs(d2[i] + g[i] / 2) <= 1e-6 * s, `element ${i}: ${d2[i]} vs -${g[i]}/2`);
    }
  });
});
