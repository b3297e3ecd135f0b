'use strict';
// Accuracy on the CPU backend where float32 moments used to cancel (flat, near-flat, saturated,
// tiny-variance inputs, extreme scales, one-pixel windows): value, ssimMap mean and gradient
// against the float64 reference (helpers/accuracy.js; gpu.test.js runs the same on CUDA).
// Each case draws several fresh random inputs.

const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { CASES, checkCase, VALUE_TOL, GRAD_TOL } = require('./helpers/accuracy');
const ref = require('./reference');

describe(`accuracy (cpu): flat and extreme inputs (|value - ref| <= ${VALUE_TOL}, gradient rel. L2 <= ${GRAD_TOL})`, function () {
  for (const c of CASES) {
    it(c.title, function () {
      const rng = testRng(this);
      for (let k = 0; k < 4; k++) checkCase(pkg.api(), c.make(rng), 'cpu');
    });
  }
});

describe('options at the edges of their ranges: a finite, right answer or ERR_SSIM_OPTION', function () {
  const flat = (w, h, v) => ({ data: new Float32Array(w * h).fill(v), width: w, height: h });
  function finite(a, what) {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new Error(`${what}[${i}] = ${a[i]}`);
  }
  function rejects(fn, name, range) {
    let err;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    if (!err || err.code !== 'ERR_SSIM_OPTION' || !err.message.includes(name) || !err.message.includes(range)) {
      throw new Error(`expected ERR_SSIM_OPTION naming ${name} and ${range}, got ${err && err.code}: ${err && err.message}`);
    }
  }

  it('sigma down to 1e-300: ssim(x, x) = 1, zero gradient; the one-pixel window matches the reference', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { pair } = require('./helpers/accuracy');
    for (const sigma of [1e-300, 1e-163, 1e-100]) {
      const t = pair(rng.int(5, 40), rng.int(5, 40), 1, () => rng.next(), () => rng.next());
      const v = api.ssim(t.x, t.x, { sigma, backend: 'cpu' });
      if (!(Math.abs(v - 1) <= 1e-6)) throw new Error(`ssim(x, x) with sigma ${sigma}: ${v}`);
      const g = api.ssimGradient(t.x, t.x, { sigma, backend: 'cpu' });
      finite(g, 'grad');
      const expected = ref.ssimRef(t.x, t.y, { sigma: 0.01 })[0];
      const got = api.ssim(t.x, t.y, { sigma, backend: 'cpu' });
      if (!(Math.abs(got - expected) <= 1e-6)) throw new Error(`sigma ${sigma}: ${got} vs ${expected}`);
    }
  });

  it('k1, k2 down to 1e-18 on all-zero images: value 1, gradient 0', function () {
    const api = pkg.api();
    for (const k of [1e-12, 1e-15, 1e-18]) {
      const z = flat(23, 17, 0);
      const o = { k1: k, k2: k, backend: 'cpu' };
      const v = api.ssim(z, z, o);
      if (v !== 1) throw new Error(`k ${k}: ssim of zeros ${v}`);
      const g = api.ssimGradient(z, z, o);
      for (let i = 0; i < g.length; i++) if (g[i] !== 0) throw new Error(`k ${k}: grad[${i}] = ${g[i]}`);
    }
  });

  it('k1, k2 up to 1e4 match the reference; beyond [1e-18, 1e4] ERR_SSIM_OPTION names the range', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { pair } = require('./helpers/accuracy');
    const t = pair(30, 20, 1, () => rng.next(), () => rng.next());
    for (const o of [{ k1: 1e4 }, { k2: 1e4 }, { k1: 1e4, k2: 1e4 }]) {
      const v = api.ssim(t.x, t.y, { ...o, backend: 'cpu' });
      if (!(Math.abs(v - ref.ssimRef(t.x, t.y, o)[0]) <= 1e-6)) throw new Error(`${JSON.stringify(o)}: ${v}`);
    }
    for (const [name, value] of [['k1', 1e19], ['k1', 1e-19], ['k2', 2e4], ['k2', 1e-30]]) {
      rejects(() => api.ssim(t.x, t.y, { [name]: value }), `opts.${name}`, '[1e-18, 10000]');
    }
  });

  it('float dataRange in [1e-30, 1e30] is normalised (data scaled to match give the unscaled value); beyond is ERR_SSIM_OPTION', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { pair } = require('./helpers/accuracy');
    const t = pair(40, 30, 1, () => rng.next(), () => rng.next());
    const base = ref.ssimRef(t.x, t.y)[0];
    for (const s of [1e-30, 1e-11, 1e-10, 1e10, 1e30]) {
      const scale = (img) => ({ ...img, data: Float32Array.from(img.data, (v) => v * s) });
      const v = api.ssim(scale(t.x), scale(t.y), { dataRange: s, backend: 'cpu' });
      if (!(Math.abs(v - base) <= 1e-6)) throw new Error(`scale ${s}: ${v} vs ${base}`);
    }
    for (const s of [1e-31, 1e31]) rejects(() => api.ssim(t.x, t.y, { dataRange: s }), 'opts.dataRange', '[1e-30, 1e+30]');
  });
});

describe('cpu: very wide images run in bounded memory (column tiles)', function () {
  const { spawnSync } = require('child_process');
  const fs = require('fs');
  it('4,194,304 x 1 (value) and 1,000,000 x 3 (value and gradient): peak RSS grows < 200 MB, values match the reference', function () {
    if (!fs.existsSync('/proc/self/status')) this.skip();
    const rng = testRng(this);
    const seed = rng.u32();
    // In a child process, so that the peak RSS (VmHWM) is this computation's alone.
    const script = `
      const api = require(${JSON.stringify(require.resolve('..'))});
      const ref = require(${JSON.stringify(require.resolve('./reference'))});
      const { Rng } = require(${JSON.stringify(require.resolve('./helpers/random'))});
      const fs = require('fs');
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const rng = new Rng(${seed});
      const res = [];
      for (const [w, h, grad] of [[4194304, 1, false], [1000000, 3, true]]) {
        const n = w * h;
        const x = new Float32Array(n), y = new Float32Array(n);
        for (let i = 0; i < n; i++) { x[i] = rng.next(); y[i] = 0.5 * x[i] + 0.5 * rng.next(); }
        const X = { data: x, width: w, height: h, batch: 1 }, Y = { data: y, width: w, height: h, batch: 1 };
        const g = grad ? new Float32Array(n).fill(NaN) : null;
        const out = new Float32Array(1).fill(NaN);
        const before = hwm();
        if (grad) api.ssimWithGradientInto(out, g, X, Y, { backend: 'cpu' });
        else api.ssimInto(out, X, Y, { backend: 'cpu' });
        const grow = hwm() - before;
        const expected = ref.ssimRef(X, Y)[0];
        let gradErr = 0;
        if (grad) {
          // The first 1000 columns against the reference on a 1020-column crop (the gradient at
          // column q depends on columns q +- 10), rescaled from the crop's map size to the image's.
          const cw = 1020;
          const crop = (a) => {
            const o = new Float32Array(cw * h);
            for (let r = 0; r < h; r++) o.set(a.subarray(r * w, r * w + cw), r * cw);
            return { data: o, width: cw, height: h };
          };
          const gr = ref.ssimGradientRef(crop(x), crop(y));
          let num = 0, den = 0;
          for (let r = 0; r < h; r++) {
            for (let c = 0; c < 1000; c++) {
              const e = gr[r * cw + c] * (cw / w);
              num += (g[r * w + c] - e) ** 2;
              den += e * e;
            }
          }
          gradErr = Math.sqrt(num / den);
          for (let i = 0; i < n; i++) if (!Number.isFinite(g[i])) { gradErr = NaN; break; }
        }
        res.push({ w, h, grow, value: out[0], expected, gradErr });
      }
      process.stdout.write(JSON.stringify(res));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    for (const c of JSON.parse(r.stdout)) {
      const what = `${c.w} x ${c.h}`;
      if (!(c.grow < 200 * 2 ** 20)) throw new Error(`${what}: peak RSS grew by ${(c.grow / 2 ** 20).toFixed(0)} MiB`);
      // The README's value bound (1e-5): one-row images, where 10 of the 11 window rows are zero
      // padding, reach ~1.2e-6 in float32 (the 1e-6 cases above are about flat data).
      if (!(Math.abs(c.value - c.expected) <= 1e-5)) throw new Error(`${what}: value ${c.value} vs reference ${c.expected}`);
      if (!(c.gradErr <= 1e-4)) throw new Error(`${what}: gradient rel. L2 ${c.gradErr} (or not all finite)`);
    }
  });
});
