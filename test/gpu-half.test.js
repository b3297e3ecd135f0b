'use strict';
// Half-precision inputs on the CUDA backend. Without a usable CUDA device every test calls
// this.skip() (visible as pending, like test/gpu.test.js). With one: host and device float16 /
// bfloat16 data against the float64 reference on the rounded inputs and against the float32 path,
// gradients in float32 and in the input's dtype (the rounding kernel, cuda/gpu/half_store.cu),
// DeviceArray round trips of half bits, Into calls with poisoned device outputs, NaN bits, promises.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { expectThrow, assertAllFinite } = require('./helpers/check');
const half = require('./helpers/half');

const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);
const why = info ? `CUDA not available: ${info.cuda && info.cuda.reason}` : 'package not loadable';
const CUDA = { backend: 'cuda' };

describe(`gpu: half precision inputs${gpu ? '' : ` (skipped: ${why})`}`, function () {
  for (const dtype of half.HALF_DTYPES) {
    it(`${dtype}, host data on cuda: values (reference, float32 path), gradients, gradientDtype 'input'`, function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      for (let k = 0; k < 6; k++) half.checkHalfCase(pkg.api(), half.halfCase(rng, dtype), 'cuda');
    });

    it(`${dtype}, DeviceArray data: values, gradients (float32 and ${dtype} DeviceArrays)`, function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      for (let k = 0; k < 6; k++) half.checkHalfCase(pkg.api(), half.halfCase(rng, dtype), 'cuda', true);
    });

    it(`${dtype}: DeviceArray from / alloc / copyFrom / toHost keep the bits; Into calls fill poisoned device outputs; promises`, async function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const t = half.halfCase(rng, dtype, { batch: 2 });
      const n = t.x.data.length;
      const keep = [];
      const dev = (a) => {
        keep.push(a);
        return a;
      };
      try {
        const dx = dev(api.DeviceArray.from(t.x.data, { dtype }));
        assert.strictEqual(dx.dtype, dtype);
        assert.strictEqual(dx.length, n);
        assert.strictEqual(dx.byteLength, 2 * n);
        const back = dx.toHost();
        assert.ok(back instanceof Uint16Array);
        half.assertSameBits(back, t.x.data, 'round trip');
        const dy = dev(api.DeviceArray.alloc(dtype, n)).copyFrom(t.y.data);
        half.assertSameBits(dy.toHost(), t.y.data, 'copyFrom');
        expectThrow(() => dy.copyFrom(new Float32Array(n)), { code: 'ERR_SSIM_DTYPE', message: /src/ }, 'copyFrom float32');
        const x = { ...t.x, data: dx };
        const y = { ...t.y, data: dy };
        const opts = { ...t.opts, ...CUDA };
        const host = api.ssimWithGradient(t.x, t.y, opts);
        const out = dev(api.DeviceArray.from(new Float32Array(2).fill(NaN)));
        const grad = dev(api.DeviceArray.from(new Uint16Array(n).fill(half.FORMATS[dtype].nan), { dtype }));
        const r = api.ssimWithGradientInto(out, grad, x, y, { ...opts, gradientDtype: 'input' });
        assert.strictEqual(r.gradient, grad);
        const v = out.toHost();
        for (let b = 0; b < 2; b++) assert.ok(Math.abs(v[b] - host.value[b]) <= 1e-6, `Into value[${b}] ${v[b]} vs ${host.value[b]}`);
        half.assertNearBits(grad.toHost(), half.encodeArray(host.gradient, dtype), Math.ceil(n / 100), 'Into gradient');
        const g32 = dev(api.DeviceArray.from(new Float32Array(n).fill(NaN)));
        api.ssimGradientInto(g32, x, y, opts);
        assertAllFinite(g32.toHost(), 'Into float32 gradient');
        expectThrow(() => api.ssimGradientInto(g32, x, y, { gradientDtype: 'input' }), { code: 'ERR_SSIM_DTYPE', message: /grad/ }, 'float32 DeviceArray for input dtype');
        expectThrow(() => api.ssimGradientInto(new Uint16Array(n), x, y, { gradientDtype: 'input' }), { code: 'ERR_SSIM_BACKEND', message: /grad/ }, 'host grad for device data');
        const p = await pkg.promises().ssimGradient(x, y, { ...opts, gradientDtype: 'input' });
        dev(p);
        assert.strictEqual(p.dtype, dtype);
        half.assertNearBits(p.toHost(), half.encodeArray(host.gradient, dtype), Math.ceil(n / 100), 'promise gradient');
        const ph = await pkg.promises().ssimGradient(t.x, t.y, { ...opts, gradientDtype: 'input' });
        assert.ok(ph instanceof Uint16Array);
      } finally {
        for (const d of keep) d.dispose();
      }
    });

    it(`${dtype}: NaN and infinity bits give that image a NaN value on cuda too`, function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      for (const special of [NaN, Infinity]) {
        const t = half.halfCase(rng, dtype, { batch: 2, channels: 3, width: 40, height: 30 });
        const plane = t.x.data.length / 2;
        t.x.data[plane + rng.int(0, plane - 1)] = half.encode(special, dtype);
        const value = api.ssim(t.x, t.y, { ...t.opts, ...CUDA });
        assert.ok(Number.isFinite(value[0]) && Number.isNaN(value[1]), `${special}: ${value[0]}, ${value[1]}`);
        const dx = api.DeviceArray.from(t.x.data, { dtype });
        const dy = api.DeviceArray.from(t.y.data, { dtype });
        try {
          const dv = api.ssim({ ...t.x, data: dx }, { ...t.y, data: dy }, t.opts);
          assert.ok(Number.isFinite(dv[0]) && Number.isNaN(dv[1]), `device ${special}: ${dv[0]}, ${dv[1]}`);
        } finally {
          dx.dispose();
          dy.dispose();
        }
      }
    });
  }

  it('a 2160x3840 float16 image on the device: value and float16 gradient against the float32 path', function () {
    if (!gpu) this.skip();
    this.timeout(240000);
    const rng = testRng(this);
    const api = pkg.api();
    const t = half.halfCase(rng, 'float16', { width: 3840, height: 2160, channels: 1, batch: 1 });
    const f = half.asFloat32(t.x);
    const fy = half.asFloat32(t.y);
    const keep = [];
    const dev = (a) => {
      keep.push(a);
      return a;
    };
    try {
      const x = { ...t.x, data: dev(api.DeviceArray.from(t.x.data, { dtype: 'float16' })) };
      const y = { ...t.y, data: dev(api.DeviceArray.from(t.y.data, { dtype: 'float16' })) };
      const x32 = { ...f, data: dev(api.DeviceArray.from(f.data)) };
      const y32 = { ...fy, data: dev(api.DeviceArray.from(fy.data)) };
      const a = api.ssimWithGradient(x, y, { ...t.opts, gradientDtype: 'input' });
      dev(a.gradient);
      const b = api.ssimWithGradient(x32, y32, t.opts);
      dev(b.gradient);
      for (let k = 0; k < 1; k++) assert.ok(Math.abs(a.value[k] - b.value[k]) <= 1e-6, `value[${k}] ${a.value[k]} vs ${b.value[k]}`);
      half.assertNearBits(a.gradient.toHost(), half.encodeArray(b.gradient.toHost(), 'float16'), Math.ceil(t.x.data.length / 100), 'gradient');
    } finally {
      for (const d of keep) d.dispose();
    }
  });
});
