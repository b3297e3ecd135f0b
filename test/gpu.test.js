'use strict';
// The GPU suite. Without a usable CUDA device every test here calls this.skip() so that the
// skips are visible (mocha reports them as pending, the summary counts them as skipped).
// With one: values and gradients with backend 'cuda' against the CPU backend and the float64
// reference, DeviceArray round trips, device inputs and outputs, in-place calls with a
// Workspace that make no allocation / memset / copy, workspace reuse, a 2160x3840 image,
// memory accounting, promises.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair, makeNoisePair, copyImage, DTYPE_NAMES } = require('./helpers/images');
const { assertClose, assertRelL2, assertSameArray, assertAllFinite, expectThrow, expectReject, poisoned, toArray } = require('./helpers/check');
const { valueCases, gradientCases, build, checkValues, checkGradients, checkValueType, valueTol, VALUE_TOL, GRAD_TOL } = require('./helpers/cases');
const ref = require('./reference');
const { runChild, expectClean } = require('./helpers/child');
const accuracy = require('./helpers/accuracy');

const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);
const why = info ? `CUDA not available: ${info.cuda && info.cuda.reason}` : 'package not loadable';
const VALUE_EXACT = 1.2e-7;
const CUDA = { backend: 'cuda' };

function counters(api) {
  return api.deviceCounters();
}

describe(`gpu: CUDA backend${gpu ? ` (${info.cuda.devices.map((d) => `${d.name} sm_${d.computeCapability}`).join(', ')})` : ` (skipped: ${why})`}`, function () {
  const keep = [];
  // a DeviceArray that is disposed at the end of the suite (no finalizer frees in between)
  function dev(api, data, opts) {
    const d = api.DeviceArray.from(data, opts);
    keep.push(d);
    return d;
  }
  function devAlloc(api, dtype, n) {
    const d = api.DeviceArray.alloc(dtype, n);
    keep.push(d);
    return d;
  }
  function onDevice(api, img) {
    return { ...img, data: dev(api, img.data) };
  }
  after(function () {
    for (const d of keep.splice(0)) d.dispose();
  });

  describe('values and gradients: cuda vs cpu vs reference', function () {
    for (const c of valueCases()) {
      it(`values: ${c.title}`, function () {
        if (!gpu) this.skip();
        const rng = testRng(this);
        const api = pkg.api();
        const t = build(rng, c, CUDA);
        const { value } = checkValues(api, t);
        const cpu = api.ssim(t.x, t.y, { ...t.opts, backend: 'cpu' });
        assertClose(toArray(value), toArray(cpu), 2 * valueTol(t.x, t.opts), `cuda vs cpu ${t.desc}`);
      });
    }
    for (const c of gradientCases()) {
      it(`gradient: ${c.title}`, function () {
        if (!gpu) this.skip();
        const rng = testRng(this);
        const api = pkg.api();
        const t = build(rng, c, CUDA);
        const { g } = checkGradients(api, t);
        const cpu = api.ssimGradient(t.x, t.y, { ...t.opts, backend: 'cpu' });
        assertRelL2(g, cpu, GRAD_TOL, `cuda vs cpu gradient ${t.desc}`);
      });
    }
  });

  // Shifted moments (per-plane reference intensities) in the forward, backward and map kernels:
  // flat, near-flat, saturated, tiny-variance, extreme-scale inputs; packed narrow planes,
  // interleaved and planar layouts, batches (helpers/accuracy.js).
  describe(`accuracy (cuda): flat and extreme inputs (|value - ref| <= ${accuracy.VALUE_TOL}, gradient rel. L2 <= ${accuracy.GRAD_TOL})`, function () {
    for (const c of accuracy.CASES) {
      it(c.title, function () {
        if (!gpu) this.skip();
        const rng = testRng(this);
        for (let k = 0; k < 6; k++) accuracy.checkCase(pkg.api(), c.make(rng), 'cuda');
      });
    }
    it('device inputs: flat uint8 and float64 planes at random levels, values and gradients', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      for (const Ctor of [Uint8Array, Float64Array, Uint16Array]) {
        const top = Ctor === Uint8Array ? 255 : Ctor === Uint16Array ? 65535 : 1;
        const lv = () => (top === 1 ? rng.next() : rng.int(0, top));
        const a = [lv(), lv(), lv()];
        const b = [lv(), a[1], lv()];
        const t = accuracy.pair(rng.int(120, 300), rng.int(20, 60), 3, (p) => a[p], (p) => b[p], Ctor, rng.pick(['hwc', 'chw']));
        const what = `${Ctor.name} ${t.x.width}x${t.x.height} ${t.x.layout} ${a} / ${b}`;
        const out = dev(api, poisoned(1));
        const grad = dev(api, poisoned(t.x.data.length));
        api.ssimWithGradientInto(out, grad, { ...onDevice(api, t.x), batch: 1 }, { ...onDevice(api, t.y), batch: 1 });
        assertClose(out.toHost()[0], ref.ssimRef(t.x, t.y)[0], accuracy.VALUE_TOL, `value ${what}`);
        const g = grad.toHost();
        assertAllFinite(g, `grad ${what}`);
        accuracy.assertGradient(g, ref.ssimGradientRef(t.x, t.y), 3 * t.x.width * t.x.height, `gradient ${what}`);
      }
    });
  });

  describe('DeviceArray', function () {
    it('from / toHost round trip for every host type; dtype, length, byteLength, device', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const dtypes = { float32: 'float32', float64: 'float64', uint8: 'uint8', uint8c: 'uint8', uint16: 'uint16' };
      const hostTypes = { float32: Float32Array, float64: Float64Array, uint8: Uint8Array, uint16: Uint16Array };
      for (const name of DTYPE_NAMES) {
        const n = rng.int(1, 5000);
        const { x } = makeNoisePair(rng, { width: n, height: 1, dtype: name });
        const d = dev(api, x.data);
        assert.ok(d instanceof api.DeviceArray);
        assert.strictEqual(d.dtype, dtypes[name], `${name}: dtype`);
        assert.strictEqual(d.length, n);
        assert.strictEqual(d.byteLength, x.data.byteLength);
        assert.strictEqual(d.device, 0);
        assert.strictEqual(d.disposed, false);
        const back = d.toHost();
        assert.ok(back instanceof hostTypes[dtypes[name]], `${name}: toHost gives ${back.constructor.name}`);
        assertSameArray(back, x.data, `${name} round trip`);
      }
    });

    it('alloc + copyFrom + toHost; copyFrom replaces the contents; wrong type or length throws', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const n = rng.int(10, 100000);
      const d = devAlloc(api, 'float32', n);
      assert.strictEqual(d.length, n);
      assert.strictEqual(d.byteLength, 4 * n);
      assert.strictEqual(d.dtype, 'float32');
      const a = rng.fill(new Float32Array(n), -1, 1);
      assert.strictEqual(d.copyFrom(a), d, 'copyFrom returns this');
      assertSameArray(d.toHost(), a, 'after copyFrom');
      const b = rng.fill(new Float32Array(n), 2, 3);
      d.copyFrom(b);
      assertSameArray(d.toHost(), b, 'after second copyFrom');
      const u = devAlloc(api, 'uint16', 7);
      u.copyFrom(new Uint16Array([1, 2, 3, 65535, 0, 9, 10]));
      assertSameArray(u.toHost(), [1, 2, 3, 65535, 0, 9, 10], 'uint16');
      expectThrow(() => d.copyFrom(new Float64Array(n)), { code: 'ERR_SSIM_DTYPE', type: TypeError }, 'copyFrom Float64Array into float32');
      let err;
      try { d.copyFrom(new Float32Array(n + 1)); } catch (e) { err = e; }
      assert.ok(err && typeof err.code === 'string' && err.code.startsWith('ERR_SSIM_'), `copyFrom of the wrong length: ${err && err.code}`);
      assertSameArray(d.toHost(), b, 'contents unchanged by failed copyFrom');
    });

    // Copies of 4 MiB and more go through the pinned staging buffers in chunks of up to 4 MiB
    // (binding/host_staging.cc): lengths that are no whole number of chunks, a view at an offset,
    // fresh destinations of 32 MiB and more (huge pages where the kernel gives them).
    it('large arrays (staged copies): from / copyFrom / toHost round trip exactly', function () {
      if (!gpu) this.skip();
      this.timeout(120000);
      const rng = testRng(this);
      const api = pkg.api();
      for (const n of [1 << 20, (37 << 18) + 3, rng.int(1 << 20, 12 << 20)]) {  // floats: 4 MiB, 37 MiB + 12 B, random
        const a = rng.fill(new Float32Array(n), -1, 1);
        const d = dev(api, a);
        assertSameArray(d.toHost(), a, `${n} floats: from + toHost`);
        const b = rng.fill(new Float32Array(n + 5).subarray(3, 3 + n), 2, 3);  // a view 12 bytes in
        d.copyFrom(b);
        assertSameArray(d.toHost(), b, `${n} floats: copyFrom of a view + toHost`);
      }
      const bytes = rng.int(4 << 20, 9 << 20) | 1;
      const u = new Uint8Array(bytes);
      for (let i = 0; i < bytes; i++) u[i] = rng.int(0, 255);
      assertSameArray(dev(api, u).toHost(), u, `${bytes} bytes (uint8): from + toHost`);
    });

    it('dispose is idempotent, Symbol.dispose works, use after dispose throws ERR_SSIM_DISPOSED', function () {
      if (!gpu) this.skip();
      const api = pkg.api();
      const d = api.DeviceArray.from(new Float32Array([0.1, 0.2, 0.3]));
      d.dispose();
      assert.strictEqual(d.disposed, true);
      d.dispose();
      d[Symbol.dispose]();
      assert.strictEqual(d.disposed, true);
      expectThrow(() => d.toHost(), { code: 'ERR_SSIM_DISPOSED', type: Error }, 'toHost');
      expectThrow(() => d.copyFrom(new Float32Array(3)), { code: 'ERR_SSIM_DISPOSED', type: Error }, 'copyFrom');
      const e = api.DeviceArray.alloc('uint8', 10);
      e[Symbol.dispose]();
      assert.strictEqual(e.disposed, true);
      expectThrow(() => api.ssim({ data: e, width: 10, height: 1 }, { data: e, width: 10, height: 1 }), { code: 'ERR_SSIM_DISPOSED', type: Error }, 'ssim on disposed');
    });

    it('memory accounting: alloc adds an allocation and bytesInUse, dispose frees them once', function () {
      if (!gpu) this.skip();
      const api = pkg.api();
      const n = 1 << 20;
      const k0 = counters(api);
      const d = api.DeviceArray.alloc('float32', n);
      const k1 = counters(api);
      assert.strictEqual(k1.allocations - k0.allocations, 1, 'allocations');
      assert.ok(k1.bytesInUse - k0.bytesInUse >= 4 * n, `bytesInUse grew by ${k1.bytesInUse - k0.bytesInUse}`);
      d.dispose();
      const k2 = counters(api);
      assert.ok(k2.frees - k1.frees >= 1, 'frees');
      assert.ok(k1.bytesInUse - k2.bytesInUse >= 4 * n, 'bytesInUse back down');
      d.dispose();
      const k3 = counters(api);
      assert.strictEqual(k3.allocations, k2.allocations);
      assert.ok(k3.bytesInUse <= k2.bytesInUse, 'second dispose frees nothing more');
    });

    it('Workspace.for on CUDA: properties, device memory accounted, dispose frees it', function () {
      if (!gpu) this.skip();
      const api = pkg.api();
      const shape = { width: 640, height: 480, channels: 3, batch: 2 };
      const k0 = counters(api);
      const ws = api.Workspace.for(shape, CUDA);
      const k1 = counters(api);
      assert.strictEqual(ws.backend, 'cuda');
      assert.strictEqual(ws.device, 0);
      assert.ok(ws.images >= 2);
      assert.ok(ws.elements >= 640 * 480 * 3 * 2);
      assert.ok(ws.byteLength > 0);
      assert.ok(k1.bytesInUse - k0.bytesInUse >= ws.byteLength, 'bytesInUse includes the workspace');
      assert.ok(k1.memsets > k0.memsets, 'a new workspace is zeroed once');
      ws.dispose();
      ws[Symbol.dispose]();
      assert.strictEqual(ws.disposed, true);
      const k2 = counters(api);
      assert.ok(k1.bytesInUse - k2.bytesInUse >= ws.byteLength, 'dispose frees the workspace');
    });

    it('an allocating call with host inputs frees its temporaries', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const { x, y } = makePair(rng, { width: 123, height: 77, channels: 3 });
      const k0 = counters(api);
      api.ssimWithGradient(x, y, CUDA);
      const k1 = counters(api);
      assert.ok(k1.copies > k0.copies, 'host inputs are uploaded');
      assert.strictEqual(k1.bytesInUse, k0.bytesInUse, 'bytesInUse back to where it was');
      assert.strictEqual(k1.allocations - k0.allocations, k1.frees - k0.frees, 'every temporary freed');
    });
  });

  describe('device inputs and outputs', function () {
    it('device inputs: values come back to the host, gradients stay on the device (DeviceArray float32)', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      for (const batch of [undefined, 3]) {
        const spec = { width: rng.int(10, 90), height: rng.int(10, 90), channels: rng.int(1, 4), batch, dtype: rng.pick(DTYPE_NAMES), layout: rng.pick(['hwc', 'chw']) };
        const { x, y } = makePair(rng, spec);
        const dx = onDevice(api, x);
        const dy = onDevice(api, y);
        const what = JSON.stringify(spec);
        const hostV = api.ssim(x, y, CUDA);
        const hostG = api.ssimGradient(x, y, CUDA);
        const v = api.ssim(dx, dy);
        checkValueType(v, x, `ssim device ${what}`);
        assertClose(toArray(v), toArray(hostV), VALUE_EXACT, `value ${what}`);
        assertClose(toArray(v), ref.ssimRef(x, y), valueTol(x), `value vs reference ${what}`);
        const g = api.ssimGradient(dx, dy);
        keep.push(g);
        assert.ok(g instanceof api.DeviceArray, `gradient of device inputs is a DeviceArray (${g && g.constructor.name})`);
        assert.strictEqual(g.dtype, 'float32');
        assert.strictEqual(g.length, x.data.length);
        assertSameArray(g.toHost(), hostG, `gradient ${what}`);
        assertRelL2(g.toHost(), ref.ssimGradientRef(x, y), GRAD_TOL, `gradient vs reference ${what}`);
        const wg = api.dssimWithGradient(dx, dy, { divideByTwo: true });
        keep.push(wg.gradient);
        checkValueType(wg.value, x, 'dssimWithGradient value');
        assertClose(toArray(wg.value), toArray(hostV).map((s) => (1 - s) / 2), 1e-7, 'dssimWithGradient value');
        assert.ok(wg.gradient instanceof api.DeviceArray);
        assertRelL2(wg.gradient.toHost(), Array.from(hostG, (t) => -t / 2), 1e-6, 'dssimWithGradient gradient');
      }
    });

    it('canvas ImageData (Uint8ClampedArray RGBA) on the device, channels omitted', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const { x, y } = makePair(rng, { width: 64, height: 48, channels: 4, dtype: 'uint8c', omitChannels: true });
      const dx = onDevice(api, x);
      assert.strictEqual(dx.data.dtype, 'uint8');
      assertClose([api.ssim(dx, onDevice(api, y))], ref.ssimRef(x, y), valueTol(x), 'ImageData');
    });

    it('value and gradient outputs into DeviceArrays and into host Float32Arrays', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const B = 2;
      const { x, y } = makePair(rng, { width: 70, height: 45, channels: 3, batch: B, dtype: 'float32' });
      const dx = onDevice(api, x);
      const dy = onDevice(api, y);
      const n = x.data.length;
      const hv = api.ssimWithGradient(x, y, CUDA);
      const out = devAlloc(api, 'float32', B).copyFrom(poisoned(B));
      assert.strictEqual(api.ssimInto(out, dx, dy), out);
      const outHost = out.toHost();
      assertAllFinite(outHost, 'device out');
      assertClose(outHost, hv.value, VALUE_EXACT, 'ssimInto device out');
      const grad = devAlloc(api, 'float32', n).copyFrom(poisoned(n));
      assert.strictEqual(api.dssimGradientInto(grad, dx, dy), grad);
      const gh = grad.toHost();
      assertAllFinite(gh, 'device grad');
      assertRelL2(gh, Array.from(hv.gradient, (t) => -t), 1e-6, 'dssimGradientInto device grad');
      const r = api.ssimWithGradientInto(out.copyFrom(poisoned(B)), grad.copyFrom(poisoned(n)), dx, dy);
      assert.ok(r.value === out && r.gradient === grad);
      assertClose(out.toHost(), hv.value, VALUE_EXACT, 'WithGradientInto value');
      assertSameArray(grad.toHost(), hv.gradient, 'WithGradientInto gradient');
      // host outputs with device inputs (one download)
      const ho = poisoned(B);
      const hg = poisoned(n);
      api.ssimWithGradientInto(ho, hg, dx, dy);
      assertClose(ho, hv.value, VALUE_EXACT, 'host out from device inputs');
      assertSameArray(hg, hv.gradient, 'host grad from device inputs');
    });

    it('in-place calls with device arrays and a Workspace make no allocation, memset or copy', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const cases = [
        { width: 97, height: 61, channels: 3, batch: 2, dtype: 'float32', layout: 'hwc' },
        { width: 33, height: 130, channels: 1, dtype: 'uint8', layout: 'chw' },
        { width: 64, height: 64, channels: 2, batch: 3, dtype: 'uint16', layout: 'chw' },
        { width: 50, height: 20, channels: 4, dtype: 'float64', layout: 'hwc' },
      ];
      for (const spec of cases) {
        const { x, y } = makePair(rng, spec);
        const B = spec.batch || 1;
        const n = x.data.length;
        const dx = onDevice(api, x);
        const dy = onDevice(api, y);
        const ws = api.Workspace.for({ width: spec.width, height: spec.height, channels: spec.channels, batch: B }, CUDA);
        const outs = Array.from({ length: 6 }, () => devAlloc(api, 'float32', B).copyFrom(poisoned(B)));
        const grads = Array.from({ length: 6 }, () => devAlloc(api, 'float32', n).copyFrom(poisoned(n)));
        const opts = { workspace: ws, windowSize: rng.pick([7, 9, 11]) };
        const k0 = counters(api);
        api.ssimInto(outs[0], dx, dy, opts);
        api.dssimInto(outs[1], dx, dy, opts);
        api.ssimGradientInto(grads[0], dx, dy, opts);
        api.dssimGradientInto(grads[1], dx, dy, { ...opts, divideByTwo: true });
        api.ssimWithGradientInto(outs[2], grads[2], dx, dy, opts);
        api.dssimWithGradientInto(outs[3], grads[3], dx, dy, opts);
        api.ssimWithGradientInto(outs[4], grads[4], dx, dy, opts); // twice: the workspace state is reset by each launch
        const k1 = counters(api);
        // (bytesInUse and frees are not compared: a finalizer of some unrelated, collected
        // DeviceArray may run in between)
        for (const key of ['allocations', 'memsets', 'copies']) {
          assert.strictEqual(k1[key], k0[key], `${key} changed from ${k0[key]} to ${k1[key]} (${JSON.stringify(spec)})`);
        }
        const cpu = api.ssimWithGradient(x, y, { windowSize: opts.windowSize, backend: 'cpu' });
        const sv = toArray(cpu.value);
        const what = JSON.stringify(spec);
        const tol = 2 * valueTol(x, opts);
        assertClose(outs[0].toHost(), sv, tol, `ssimInto ${what}`);
        assertClose(outs[1].toHost(), sv.map((s) => 1 - s), tol, `dssimInto ${what}`);
        assertRelL2(grads[0].toHost(), cpu.gradient, GRAD_TOL, `ssimGradientInto ${what}`);
        assertRelL2(grads[1].toHost(), Array.from(cpu.gradient, (t) => -t / 2), GRAD_TOL, `dssimGradientInto/2 ${what}`);
        assertClose(outs[2].toHost(), sv, tol, `ssimWithGradientInto value ${what}`);
        assertRelL2(grads[2].toHost(), cpu.gradient, GRAD_TOL, `ssimWithGradientInto gradient ${what}`);
        assertClose(outs[3].toHost(), sv.map((s) => 1 - s), tol, `dssimWithGradientInto value ${what}`);
        assertClose(outs[4].toHost(), outs[2].toHost(), VALUE_EXACT, `repeated call value ${what}`);
        assertSameArray(grads[4].toHost(), grads[2].toHost(), `repeated call gradient ${what}`);
        ws.dispose();
      }
    });

    it('one CUDA workspace reused across batch sizes and shapes gives the results of calls without one', function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const ws = api.Workspace.for({ width: 80, height: 60, channels: 3, batch: 4 }, CUDA);
      try {
        const shapes = [4, 1, 3, 2, 4].map((batch) => ({ width: rng.int(8, 80), height: rng.int(8, 60), channels: rng.int(1, 3), batch }));
        shapes.push({ width: 80, height: 60, channels: 3 }, { width: 80, height: 60, channels: 3, batch: 4 });
        for (const shape of shapes) {
          const { x, y } = makePair(rng, { ...shape, dtype: rng.pick(DTYPE_NAMES) });
          const what = JSON.stringify(shape);
          const plain = api.ssimWithGradient(x, y, CUDA);
          const hosted = api.ssimWithGradient(x, y, { ...CUDA, workspace: ws });
          assertClose(toArray(hosted.value), toArray(plain.value), VALUE_EXACT, `host inputs ${what}`);
          assertSameArray(hosted.gradient, plain.gradient, `host inputs gradient ${what}`);
          const dx = onDevice(api, x);
          const dy = onDevice(api, y);
          const B = shape.batch || 1;
          const out = devAlloc(api, 'float32', B).copyFrom(poisoned(B));
          const grad = devAlloc(api, 'float32', x.data.length).copyFrom(poisoned(x.data.length));
          api.ssimWithGradientInto(out, grad, dx, dy, { workspace: ws });
          assertClose(out.toHost(), toArray(plain.value), VALUE_EXACT, `device ${what}`);
          assertSameArray(grad.toHost(), plain.gradient, `device gradient ${what}`);
          assertClose(toArray(plain.value), ref.ssimRef(x, y), valueTol(x), `reference ${what}`);
        }
        // too small now
        const big = makePair(rng, { width: 80, height: 60, channels: 3, batch: 5 });
        expectThrow(() => api.ssim(big.x, big.y, { ...CUDA, workspace: ws }), { code: 'ERR_SSIM_WORKSPACE', type: RangeError }, 'batch 5 > images 4');
      } finally {
        ws.dispose();
      }
    });
  });

  describe('large images', function () {
    it('2160x3840: ssim(x, x) = 1 within 1e-6 (host and device inputs); ssim(x, y) equals the CPU backend', function () {
      if (!gpu) this.skip();
      this.timeout(300000);
      const rng = testRng(this);
      const api = pkg.api();
      const { x, y } = makeNoisePair(rng, { width: 3840, height: 2160, dtype: 'float32' });
      const v = api.ssim(x, copyImage(x), CUDA);
      assert.ok(Math.abs(v - 1) <= 1e-6, `host ssim(x, x) = ${v}`);
      const dx = onDevice(api, x);
      const vd = api.ssim(dx, dx);
      assert.ok(Math.abs(vd - 1) <= 1e-6, `device ssim(x, x) = ${vd}`);
      const xy = api.ssim(x, y, CUDA);
      assertClose([xy], [api.ssim(x, y, { backend: 'cpu' })], 2 * VALUE_TOL, 'cuda vs cpu');
      const u8 = makeNoisePair(rng, { width: 3840, height: 2160, channels: 1, dtype: 'uint8' });
      assert.ok(Math.abs(api.ssim(u8.x, copyImage(u8.x), CUDA) - 1) <= 1e-6, 'uint8 ssim(x, x)');
    });

    // Interleaved planes share cache lines: the host gives them balanced or packed work only where a
    // pass reads less than the L2 holds, aligned tiles otherwise (cuda/gpu/ssim_cuda.cu, layoutWork).
    // The small cases elsewhere take the first; this one, 177 MB of x and y, the second on any GPU.
    it('interleaved 2x3x1440x2560 (aligned tiles): value and gradient equal the CPU backend', function () {
      if (!gpu) this.skip();
      this.timeout(300000);
      const rng = testRng(this);
      const api = pkg.api();
      const { x } = makeNoisePair(rng, { width: 2560, height: 1440, channels: 3, batch: 2 });
      const y = copyImage(x);
      for (let i = 0; i < y.data.length; i++) y.data[i] = Math.min(1, Math.max(0, x.data[i] + 0.2 * (rng.next() - 0.5)));
      const got = api.ssimWithGradient(x, y, CUDA);
      const want = api.ssimWithGradient(x, y, { backend: 'cpu' });
      assertClose(got.value, want.value, 2 * VALUE_TOL, 'values: cuda vs cpu');
      assert.strictEqual(toArray(got.value).length, 2);
      assertRelL2(got.gradient, want.gradient, GRAD_TOL, 'gradient: cuda vs cpu');
    });
  });

  describe('promises on the GPU', function () {
    it('async calls with host and device arrays equal the sync ones', async function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const p = pkg.promises();
      const { x, y } = makePair(rng, { width: 200, height: 150, channels: 3, batch: 2, dtype: rng.pick(DTYPE_NAMES) });
      const sync = api.ssimWithGradient(x, y, CUDA);
      const a = await p.ssimWithGradient(x, y, CUDA);
      assertClose(a.value, sync.value, VALUE_EXACT, 'host async value');
      assertSameArray(a.gradient, sync.gradient, 'host async gradient');
      const dx = onDevice(api, x);
      const dy = onDevice(api, y);
      const d = await p.ssimWithGradient(dx, dy);
      keep.push(d.gradient);
      assert.ok(d.gradient instanceof api.DeviceArray);
      assertClose(d.value, sync.value, VALUE_EXACT, 'device async value');
      assertSameArray(d.gradient.toHost(), sync.gradient, 'device async gradient');
      const ws = api.Workspace.for({ width: 200, height: 150, channels: 3, batch: 2 }, CUDA);
      try {
        const out = devAlloc(api, 'float32', 2).copyFrom(poisoned(2));
        const grad = devAlloc(api, 'float32', x.data.length).copyFrom(poisoned(x.data.length));
        const r = await p.dssimWithGradientInto(out, grad, dx, dy, { workspace: ws });
        assert.ok(r.value === out && r.gradient === grad);
        assertClose(out.toHost(), Array.from(sync.value, (s) => 1 - s), 1e-6, 'device async Into value');
        assertRelL2(grad.toHost(), Array.from(sync.gradient, (t) => -t), 1e-6, 'device async Into gradient');
        // several in flight on the same device
        const many = await Promise.all([0, 1, 2, 3].map(() => p.ssim(dx, dy)));
        for (const m of many) assertClose(m, sync.value, VALUE_EXACT, 'concurrent');
      } finally {
        ws.dispose();
      }
    });

    it('a disposed DeviceArray rejects with ERR_SSIM_DISPOSED', async function () {
      if (!gpu) this.skip();
      const api = pkg.api();
      const p = pkg.promises();
      const d = api.DeviceArray.from(new Float32Array(64).fill(0.5));
      d.dispose();
      let err;
      try {
        await p.ssim({ data: d, width: 8, height: 8 }, { data: d, width: 8, height: 8 });
      } catch (e) {
        err = e;
      }
      assert.ok(err && err.code === 'ERR_SSIM_DISPOSED', `got ${err && err.code}`);
    });
  });

  // Issue 11: memory that goes away under a call, and arrays that are not what they say
  // (test/lifetime.test.js has the same on the CPU backend). Crashes would show in child processes.
  describe('lifetime and odd arrays on the GPU', function () {
    const CHILD = `
      'use strict';
      const root = process.env.SSIM_PKG_ROOT;
      const api = require(root);
      const P = require(root + '/dist/promises.js');
      function image(w, h, c) {
        const n = w * h * c, data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = 0.5 + 0.3 * Math.sin(i * 0.013) + 0.2 * ((i * 2654435761) % 1000) / 1000;
        return { data, width: w, height: h, channels: c };
      }
      function copy(img) { return { ...img, data: Float32Array.from(img.data) }; }
      function relL2(a, b) { let n = 0, d = 0; for (let i = 0; i < a.length; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2; } return Math.sqrt(n / d); }
      function report(obj) { console.log('RESULT ' + JSON.stringify(obj)); }
      function churn() { for (let i = 0; i < 6; i++) { global.gc(); new Float32Array(1 << 22).fill(7); } }
    `;

    it('host inputs transferred and collected under a CUDA promise call: the result of the call as made; a transferred host output: ERR_SSIM_DETACHED', function () {
      if (!gpu) this.skip();
      const r = expectClean(runChild(CHILD + `
        (async () => {
          const x = image(3840, 2160, 3), y = image(3840, 2160, 3);
          const want = api.ssimWithGradient(copy(x), copy(y), { backend: 'cuda' });
          const p = P.ssimWithGradient(x, y, { backend: 'cuda' });
          structuredClone(x.data.buffer, { transfer: [x.data.buffer] });
          structuredClone(y.data.buffer, { transfer: [y.data.buffer] });
          churn();
          const got = await p;
          const a = image(3840, 2160, 3), b = image(3840, 2160, 3);
          const grad = new Float32Array(a.data.length).fill(NaN);
          const q = P.ssimGradientInto(grad, a, b, { backend: 'cuda' });
          const moved = new Float32Array(structuredClone(grad.buffer, { transfer: [grad.buffer] })).fill(42);
          let code = 'resolved';
          try { await q; } catch (e) { code = e.code; }
          report({ dv: Math.abs(got.value - want.value), rel: relL2(got.gradient, want.gradient), code, untouched: moved.every((v) => v === 42) });
        })();
      `), 'CUDA transfer');
      assert.ok(r.dv <= 1.2e-7, `value differs by ${r.dv}`);
      assert.ok(r.rel <= 1e-6, `gradient rel L2 ${r.rel}`);
      assert.strictEqual(r.code, 'ERR_SSIM_DETACHED');
      assert.ok(r.untouched, 'the call wrote into memory that belongs to the new owner');
    });

    it('device arrays and a workspace disposed while promise calls use them: the calls finish right, the memory goes after they settle', async function () {
      if (!gpu) this.skip();
      const { DeviceArray, Workspace, deviceCounters } = pkg.api();
      const P = pkg.promises();
      const rng = testRng(this);
      const w = 1920, h = 1080, c = 3, n = w * h * c;
      const hx = Float32Array.from({ length: n }, () => rng.next());
      const hy = Float32Array.from(hx, (v) => Math.min(1, Math.max(0, v + 0.2 * (rng.next() - 0.5))));
      const want = pkg.api().dssimWithGradient({ data: hx, width: w, height: h, channels: c }, { data: hy, width: w, height: h, channels: c }, { backend: 'cpu' });
      const before = deviceCounters().bytesInUse;
      const x = DeviceArray.from(hx), y = DeviceArray.from(hy), grad = DeviceArray.alloc('float32', n);
      const ws = Workspace.for({ width: w, height: h, channels: c }, { backend: 'cuda' });
      const out = new Float32Array(1).fill(NaN);
      const calls = [];
      for (let i = 0; i < 4; i++) {
        calls.push(P.dssimWithGradientInto(out, grad, { data: x, width: w, height: h, channels: c }, { data: y, width: w, height: h, channels: c }, { workspace: ws }));
      }
      x.dispose(); y.dispose(); ws.dispose();  // before the worker has launched the kernels
      assert.ok(x.disposed && y.disposed);
      assert.throws(() => x.toHost(), { code: 'ERR_SSIM_DISPOSED' });
      await Promise.all(calls);
      assertClose(out[0], want.value, 2e-6, 'dssim after dispose');
      assertRelL2(grad.toHost(), want.gradient, 1e-4, 'gradient after dispose');
      grad.dispose();
      assert.strictEqual(deviceCounters().bytesInUse, before, 'device memory of the disposed arrays not freed after the calls settled');
    });

    it('terminating a worker thread with CUDA promise calls in flight (host and device arrays) ends only the worker', function () {
      if (!gpu) this.skip();
      const r = expectClean(runChild(CHILD + `
        const { Worker } = require('worker_threads');
        const w = new Worker(\`
          const root = process.env.SSIM_PKG_ROOT;
          const api = require(root);
          const P = require(root + '/dist/promises.js');
          const n = 3840 * 2160 * 3, a = new Float32Array(n).fill(0.25), b = new Float32Array(n);
          for (let i = 0; i < n; i++) b[i] = (i % 251) / 251;
          const img = (d) => ({ data: d, width: 3840, height: 2160, channels: 3 });
          const da = api.DeviceArray.from(a), db = api.DeviceArray.from(b);
          for (let i = 0; i < 3; i++) { P.ssimWithGradient(img(a), img(b), { backend: 'cuda' }); P.ssimGradient(img(da), img(db)); }
          P.ssimMap(img(a), img(b), { backend: 'cuda' });
          require('worker_threads').parentPort.postMessage('queued');
        \`, { eval: true });
        w.once('message', () => setTimeout(() => w.terminate().then((code) => {
          const x = image(256, 256, 3), y = image(256, 256, 3);
          report({ workerExit: code, value: api.ssim(x, y, { backend: 'cuda' }), cpu: api.ssim(x, y, { backend: 'cpu' }) });
        }), 5));
      `), 'CUDA worker terminate');
      assert.strictEqual(r.workerExit, 1);
      assert.ok(Math.abs(r.value - r.cpu) <= 2e-5, `the main thread still computes on the GPU: ${r.value} vs cpu ${r.cpu}`);
    });

    it('SharedArrayBuffer-backed host arrays: DeviceArray.from / copyFrom, CUDA calls with host inputs and outputs (sync and promises)', async function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const p = pkg.promises();
      const { x, y } = makePair(rng, { width: rng.int(30, 90), height: rng.int(30, 90), channels: 3, dtype: rng.pick(DTYPE_NAMES) });
      const shared = (a) => { const s = new a.constructor(new SharedArrayBuffer(a.byteLength)); s.set(a); return s; };
      const xs = { ...x, data: shared(x.data) };
      const ys = { ...y, data: shared(y.data) };
      const sRef = ref.ssimRef(x, y, {});
      const gRef = ref.ssimGradientRef(x, y, {});
      const tol = valueTol(x, {});
      const n = x.data.length;
      for (const f of [api, p]) {
        const out = shared(poisoned(1));
        const grad = shared(poisoned(n));
        await f.ssimWithGradientInto(out, grad, xs, ys, CUDA);
        assertClose(out, sRef, tol, 'out');
        assertAllFinite(grad, 'grad');
        assertRelL2(grad, gRef, GRAD_TOL, 'grad');
      }
      const dx = dev(api, xs.data);
      assertSameArray(dx.toHost(), x.data, 'DeviceArray.from(shared) round trip');
      dx.copyFrom(ys.data);
      assertSameArray(dx.toHost(), y.data, 'copyFrom(shared)');
    });

    it('a Proxy of a DeviceArray is not one; DeviceArray instances are frozen; a host output lying about its buffer over x.data is refused', async function () {
      if (!gpu) this.skip();
      const rng = testRng(this);
      const api = pkg.api();
      const p = pkg.promises();
      const { x, y } = makePair(rng, { width: 24, height: 20, channels: 2 });
      const dx = onDevice(api, x);
      const dy = onDevice(api, y);
      expectThrow(() => api.ssim({ ...dx, data: new Proxy(dx.data, {}) }, dy), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /x\.data/ }, 'Proxy(DeviceArray) x.data');
      const grad = devAlloc(api, 'float32', x.data.length);
      expectThrow(() => api.ssimGradientInto(new Proxy(grad, {}), dx, dy), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /\bgrad\b/ }, 'Proxy(DeviceArray) grad');
      assert.ok(Object.isFrozen(grad), 'DeviceArray is frozen');
      assert.throws(() => { grad.length = 1e9; }, TypeError);
      assert.strictEqual(grad.length, x.data.length);
      const other = new ArrayBuffer(x.data.byteLength);
      const lying = Object.defineProperty(new Float32Array(x.data.buffer, x.data.byteOffset, x.data.length), 'buffer', { get() { return other; } });
      expectThrow(() => api.ssimGradientInto(lying, x, y, CUDA), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /share memory/ }, 'lying grad (cuda)');
      await expectReject(() => p.ssimGradientInto(lying, x, y, CUDA), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /share memory/ }, 'lying grad (cuda, promise)');
    });
  });
});
