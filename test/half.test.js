'use strict';
// Half-precision inputs ('float16', 'bfloat16') on the CPU backend (CI): values within 1e-5 of the
// float64 reference computed on the same rounded inputs, gradients like the accuracy suite, and
// both bit-identical to the float32 path on the decoded data (half -> float32 is exact);
// gradientDtype 'input' (the float32 gradient rounded to nearest even, checked bit for bit against
// test/helpers/half.js); NaN / infinity bits; validation; the conversions of
// cuda/common/half_types.h against the formats' definitions (test/native/half_check.cpp).
// The CUDA side: test/gpu-half.test.js.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { expectThrow, assertAllFinite } = require('./helpers/check');
const half = require('./helpers/half');

const { VALUE_TOL, asFloat32, assertSameFloats, assertSameBits, checkHalfCase } = half;
const CPU = { backend: 'cpu' };
const NAN_BITS = { float16: 0x7e00, bfloat16: 0x7fc0 };

describe('half precision inputs (float16, bfloat16): CPU backend', function () {
  for (const dtype of half.HALF_DTYPES) {
    it(`${dtype}: values within ${VALUE_TOL} of the float64 reference on the rounded inputs, gradients as the accuracy suite, both equal to the float32 path; gradientDtype 'input' rounds to nearest even`, function () {
      const rng = testRng(this);
      const api = pkg.api();
      for (let k = 0; k < 6; k++) checkHalfCase(api, half.halfCase(rng, dtype), 'cpu');
    });

    it(`${dtype}: dssim, the Into functions (poisoned outputs), promises and ssimMap take half data`, async function () {
      const rng = testRng(this);
      const api = pkg.api();
      const t = half.halfCase(rng, dtype, { batch: 2 });
      const opts = { ...t.opts, ...CPU };
      const n = t.x.data.length;
      const f32 = api.dssimWithGradient(asFloat32(t.x), asFloat32(t.y), opts);
      const d = api.dssimWithGradient(t.x, t.y, opts);
      assertSameFloats(d.value, f32.value, 'dssim value');
      assertSameFloats(d.gradient, f32.gradient, 'dssim gradient');
      const out = new Float32Array(2).fill(NaN);
      const grad = new Uint16Array(n).fill(NAN_BITS[dtype]);
      const r = api.dssimWithGradientInto(out, grad, t.x, t.y, { ...opts, gradientDtype: 'input' });
      assert.strictEqual(r.value, out);
      assert.strictEqual(r.gradient, grad);
      assertSameFloats(out, f32.value, 'Into value');
      assertSameBits(grad, half.encodeArray(f32.gradient, dtype), 'Into gradient (input dtype)');
      const grad32 = new Float32Array(n).fill(NaN);
      api.ssimGradientInto(grad32, t.x, t.y, opts);
      assertSameFloats(grad32, api.ssimGradient(asFloat32(t.x), asFloat32(t.y), opts), 'Into float32 gradient');
      const p = await pkg.promises().ssimGradient(t.x, t.y, { ...opts, gradientDtype: 'input' });
      assert.ok(p instanceof Uint16Array);
      assertSameBits(p, half.encodeArray(api.ssimGradient(t.x, t.y, opts), dtype), 'promise gradient');
      const map = api.ssimMap(t.x, t.y, opts);
      assertSameFloats(map, api.ssimMap(asFloat32(t.x), asFloat32(t.y), opts), 'ssimMap');
    });
  }

  it('Float16Array data (where the runtime has it): read as float16, the input-dtype gradient comes back as a Float16Array', function () {
    if (!half.Float16) this.skip();  // Node 20 has none
    const rng = testRng(this);
    const api = pkg.api();
    const t = half.halfCase(rng, 'float16');
    const f16 = (img) => ({ ...img, dtype: undefined, data: new half.Float16(img.data.buffer) });
    const opts = { ...t.opts, ...CPU };
    assertSameFloats(api.ssim(f16(t.x), f16(t.y), opts), api.ssim(t.x, t.y, opts), 'value');
    const g = api.ssimGradient(f16(t.x), f16(t.y), { ...opts, gradientDtype: 'input' });
    assert.strictEqual(Object.prototype.toString.call(g), '[object Float16Array]');
    assertSameBits(new Uint16Array(g.buffer), api.ssimGradient(t.x, t.y, { ...opts, gradientDtype: 'input' }), 'gradient');
  });

  it('gradientDtype: float32 data with \'input\' get float32; the default and \'float32\' give float32 for half data', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const t = half.halfCase(rng, 'bfloat16');
    const opts = { ...t.opts, ...CPU };
    const x32 = asFloat32(t.x);
    const y32 = asFloat32(t.y);
    assertSameFloats(api.ssimGradient(x32, y32, { ...opts, gradientDtype: 'input' }), api.ssimGradient(x32, y32, opts), 'float32 input');
    assert.ok(api.ssimGradient(t.x, t.y, { ...opts, gradientDtype: 'float32' }) instanceof Float32Array);
    assert.ok(api.ssimGradient(t.x, t.y, opts) instanceof Float32Array);
  });

  it('NaN and infinity bits: the image\'s value is NaN (as float32 data), no error; finite data that overflow float32: ERR_SSIM_NONFINITE', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const dtype of half.HALF_DTYPES) {
      for (const special of [NaN, Infinity, -Infinity]) {
        const t = half.halfCase(rng, dtype, { batch: 2, channels: 1, width: 24, height: 20 });
        const plane = t.x.data.length / 2;
        t.x.data[plane + rng.int(0, plane - 1)] = half.encode(special, dtype);  // in image 1
        const { value, gradient } = api.ssimWithGradient(t.x, t.y, { ...t.opts, ...CPU });
        assert.ok(Number.isFinite(value[0]), `${dtype} ${special}: image 0 stays finite (${value[0]})`);
        assert.ok(Number.isNaN(value[1]), `${dtype} ${special}: image 1 is NaN (${value[1]})`);
        assert.ok(gradient.subarray(plane).some(Number.isNaN), `${dtype} ${special}: NaN gradient entries in image 1`);
        const f32 = api.ssim(asFloat32(t.x), asFloat32(t.y), { ...t.opts, ...CPU });
        assert.ok(Number.isNaN(f32[1]), 'float32 data do the same');
        // the input-dtype gradient of a gradient-only call: NaN bits, no error (the inputs are not finite)
        const gh = api.ssimGradient(t.x, t.y, { ...t.opts, ...CPU, gradientDtype: 'input' });
        assert.ok(gh.some((h) => (h & 0x7fff) > half.FORMATS[dtype].inf), `${dtype} ${special}: NaN bits in the half gradient`);
      }
      const t = half.halfCase(rng, dtype);
      const tiny = { ...t.opts, ...CPU, dataRange: 1e-30 };
      expectThrow(() => api.ssim(t.x, t.y, tiny), { code: 'ERR_SSIM_NONFINITE', message: /value/ }, `${dtype}: overflow`);
      expectThrow(() => api.ssim(asFloat32(t.x), asFloat32(t.y), tiny), { code: 'ERR_SSIM_NONFINITE' }, 'float32: overflow');
      expectThrow(() => api.ssimGradient(t.x, t.y, { ...tiny, gradientDtype: 'input' }), { code: 'ERR_SSIM_NONFINITE', message: /gradient/ }, `${dtype}: gradient overflow`);
    }
  });

  it('a float16 gradient that overflows float16 (but not float32): ERR_SSIM_NONFINITE, also with a finite value', function () {
    const rng = testRng(this);
    const api = pkg.api();
    // 3x3 images of data in [0, 1e-6] (float16 subnormals) with dataRange 1e-6: |gradient| ~ 1e5
    const L = 1e-6;
    const opts = { ...CPU, windowSize: 7, dataRange: L };
    let t = null;
    for (let k = 0; k < 50 && t === null; k++) {
      const img = () => ({ data: half.encodeArray(Array.from({ length: 9 }, () => rng.next() * L), 'float16'), width: 3, height: 3, dtype: 'float16' });
      const c = { x: img(), y: img() };
      const g32 = api.ssimGradient(c.x, c.y, opts);
      assertAllFinite(g32, 'float32 gradient');
      if (g32.some((v) => Math.abs(v) > 65520)) t = c;
    }
    assert.ok(t !== null, 'a draw with a gradient beyond float16');
    assert.ok(Number.isFinite(api.ssim(t.x, t.y, opts)), 'the value is finite');
    expectThrow(() => api.ssimWithGradient(t.x, t.y, { ...opts, gradientDtype: 'input' }), { code: 'ERR_SSIM_NONFINITE', message: /gradient.*float16/ }, 'with value');
    expectThrow(() => api.ssimGradient(t.x, t.y, { ...opts, gradientDtype: 'input' }), { code: 'ERR_SSIM_NONFINITE', message: /gradient/ }, 'gradient only');
  });

  it('validation: dtype keys, gradientDtype, gradient outputs (coded errors naming the argument)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const t = half.halfCase(rng, 'float16', { batch: 1 });
    const n = t.x.data.length;
    const DTYPE = { code: 'ERR_SSIM_DTYPE' };
    const OPTION = { code: 'ERR_SSIM_OPTION' };
    const f32 = asFloat32(t.x);
    // the image's dtype
    expectThrow(() => api.ssim({ ...t.x, dtype: 'half' }, t.y), { ...DTYPE, message: /'bfloat16' for x\.dtype/ }, 'unknown dtype');
    expectThrow(() => api.ssim({ ...t.x, dtype: 1 }, t.y), { ...DTYPE, message: /x\.dtype/ }, 'dtype not a string');
    expectThrow(() => api.ssim({ ...f32, dtype: 'float16' }, t.y), { ...DTYPE, message: /'float32' \(the dtype of x\.data\) for x\.dtype/ }, 'float16 on a Float32Array');
    expectThrow(() => api.ssim({ ...t.x, data: new Uint8Array(n), dtype: 'bfloat16' }, t.y), { ...DTYPE, message: /x\.dtype/ }, 'bfloat16 on a Uint8Array');
    expectThrow(() => api.ssim(t.x, { ...t.y, dtype: 'bfloat16' }), { ...DTYPE, message: /y\.data/ }, 'y in another half dtype');
    expectThrow(() => api.ssim(t.x, { ...t.y, dtype: undefined }), { ...DTYPE, message: /float16 data \(the dtype of x\.data\) for y\.data/ }, 'y as uint16');
    expectThrow(() => api.ssim(t.x, asFloat32(t.y)), { ...DTYPE, message: /y\.data/ }, 'y float32');
    assert.ok(Number.isFinite(api.ssim({ ...f32, dtype: 'float32' }, asFloat32(t.y))[0]), "a dtype equal to the data's own is fine");
    const u16 = { ...t.x, dtype: 'uint16' };
    assert.ok(Number.isFinite(api.ssim(u16, { ...t.y, dtype: undefined })[0]), "'uint16' keeps integer data");
    // gradientDtype
    expectThrow(() => api.ssimGradient(t.x, t.y, { gradientDtype: 'float16' }), { ...OPTION, message: /opts\.gradientDtype/ }, 'gradientDtype float16');
    expectThrow(() => api.ssimGradient(t.x, t.y, { gradientDtype: 16 }), { ...OPTION, type: TypeError, message: /opts\.gradientDtype/ }, 'gradientDtype number');
    expectThrow(() => api.ssimGradient(u16, { ...t.y, dtype: undefined }, { gradientDtype: 'input' }), { ...OPTION, message: /uint16 data have float32 gradients/ }, "'input' on uint16");
    expectThrow(() => api.ssim(t.x, t.y, { gradientDtype: 'float64' }), { ...OPTION, message: /gradientDtype/ }, 'checked on value calls too');
    // gradient outputs
    const input = { gradientDtype: 'input' };
    expectThrow(() => api.ssimGradientInto(new Float32Array(n), t.x, t.y, input), { ...DTYPE, message: /Uint16Array.*for grad/ }, 'Float32Array grad for input dtype');
    expectThrow(() => api.ssimGradientInto(new Uint16Array(n), t.x, t.y), { ...DTYPE, message: /grad/ }, 'Uint16Array grad for float32');
    expectThrow(() => api.ssimGradientInto(new Uint16Array(n - 1), t.x, t.y, input), { code: 'ERR_SSIM_OUTPUT_SIZE', message: /grad/ }, 'short grad');
    expectThrow(() => api.ssimGradientInto({}, t.x, t.y, input), { code: 'ERR_SSIM_INVALID_ARGUMENT', message: /grad/ }, 'grad not an array');
    expectThrow(() => api.ssimGradientInto(t.x.data, t.x, t.y, input), { code: 'ERR_SSIM_INVALID_ARGUMENT', message: /share memory/ }, 'grad aliasing x');
    // DeviceArray without CUDA: still coded
    expectThrow(() => api.DeviceArray.alloc('float8', 4), { ...DTYPE, message: /dtype/ }, 'alloc dtype');
    expectThrow(() => api.DeviceArray.from(new Float32Array(4), { dtype: 'float16' }), { ...DTYPE, message: /'float32' \(the dtype of src\) for opts\.dtype/ }, 'from: float16 on a Float32Array');
    expectThrow(() => api.DeviceArray.from(new Uint16Array(4), { dtype: 'half' }), { ...DTYPE, message: /opts\.dtype/ }, 'from: unknown dtype');
  });

  it('the conversions of cuda/common/half_types.h (host) match the formats\' definitions: every 16-bit pattern decoded, rounding of ties, boundaries and random floats', function () {
    this.timeout(120000);
    const cxx = [process.env.CXX, 'g++', 'c++', 'clang++'].filter(Boolean).find((c) => {
      try {
        execFileSync(c, ['--version'], { stdio: 'ignore' });
        return true;
      } catch (e) {
        return false;
      }
    });
    if (!cxx) this.skip();
    const root = path.join(__dirname, '..');
    const outDir = path.join(root, 'build', 'native-tests');
    fs.mkdirSync(outDir, { recursive: true });
    const exe = path.join(outDir, 'half_check');
    execFileSync(cxx, ['-std=c++17', '-O2', '-Wall', '-Wextra', '-Werror', '-I', path.join(root, 'cuda'), path.join(root, 'test/native/half_check.cpp'), '-o', exe], { stdio: 'pipe' });
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const lines = execFileSync(exe, ['decode'], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n');
    assert.strictEqual(lines.length, 65536);
    for (const line of lines) {
      const [h, a, b] = line.split(' ').map((s) => parseInt(s, 16));
      for (const [bits, dtype] of [[a, 'float16'], [b, 'bfloat16']]) {
        u32[0] = bits;
        const want = half.decode(h, dtype);
        if (!(Object.is(f32[0], want) || (Number.isNaN(want) && Number.isNaN(f32[0])))) assert.fail(`${dtype} 0x${h.toString(16)}: ${f32[0]} vs ${want}`);
      }
    }
    // floats to round: every float16 / bfloat16 midpoint (a tie) and its float32 neighbours, the
    // overflow and underflow edges, and random floats of every magnitude
    const rng = testRng(this);
    const inputs = [];
    const push = (v) => {
      f32[0] = v;
      inputs.push(u32[0]);
    };
    for (const dtype of half.HALF_DTYPES) {
      for (let k = 0; k < 4000; k++) {
        const h = rng.int(0, 0x7bff) | (rng.bool() ? 0x8000 : 0);
        const lo = half.decode(h, dtype);
        const hi = half.decode(h + 1, dtype);
        if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue;
        const mid = (lo + hi) / 2;  // exact in float32 (float16: 12 bits; bfloat16: 9)
        push(mid);
        f32[0] = mid;
        const m = u32[0];
        for (const d of [-1, 1]) {
          u32[0] = m + d;
          inputs.push(u32[0]);
        }
      }
    }
    for (const v of [0, -0, 65504, 65519.99, 65520, -65520, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0000001, 2 ** -14, 2 ** -14 * (1 - 2 ** -11), 3.3895e38, 3.3962e38, 3.4028234e38, Infinity, -Infinity, NaN, 1e-45, 1.17549435e-38]) push(v);
    for (let k = 0; k < 20000; k++) inputs.push(rng.u32() >>> 0);
    const out = execFileSync(exe, ['encode'], { input: inputs.map((u) => u.toString(16)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n');
    assert.strictEqual(out.length, inputs.length);
    let checked = 0;
    for (let i = 0; i < inputs.length; i++) {
      u32[0] = inputs[i];
      const v = f32[0];
      const [h, b] = out[i].split(' ').map((s) => parseInt(s, 16));
      if (Number.isNaN(v)) {
        assert.ok((h & 0x7fff) > 0x7c00 && (b & 0x7fff) > 0x7f80, `NaN 0x${inputs[i].toString(16)} -> NaN bits`);
        continue;
      }
      if (h !== half.encode(v, 'float16')) assert.fail(`float16 of ${v} (0x${inputs[i].toString(16)}): 0x${h.toString(16)} vs 0x${half.encode(v, 'float16').toString(16)}`);
      if (b !== half.encode(v, 'bfloat16')) assert.fail(`bfloat16 of ${v} (0x${inputs[i].toString(16)}): 0x${b.toString(16)} vs 0x${half.encode(v, 'bfloat16').toString(16)}`);
      checked++;
    }
    assert.ok(checked > 40000, `${checked} floats checked`);
  });
});

