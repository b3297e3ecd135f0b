'use strict';
// Half-precision bits for the tests, written from the formats' definitions in float64 arithmetic
// (not from cuda/common/half_types.h's integer code): IEEE binary16 (1 sign, 5 exponent bits with
// bias 15, 10 mantissa bits) and bfloat16 (1, 8 with bias 127, 7). Rounding: to nearest, ties to
// even; overflow: infinity; NaN: the quiet NaN 0x7e00 / 0x7fc0.

const assert = require('assert');
const { assertAllFinite } = require('./check');
const accuracy = require('./accuracy');
const ref = require('../reference');

const VALUE_TOL = 1e-5; // |value - float64 reference on the rounded inputs|

const FORMATS = Object.freeze({
  float16: Object.freeze({ mant: 10, bias: 15, emin: -14, emax: 15, nan: 0x7e00, inf: 0x7c00 }),
  bfloat16: Object.freeze({ mant: 7, bias: 127, emin: -126, emax: 127, nan: 0x7fc0, inf: 0x7f80 }),
});

function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// floor(log2(a)) for a > 0, exactly.
function exponentOf(a) {
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

// The bits of the value of `dtype` nearest to v (a float64).
function encode(v, dtype) {
  const F = FORMATS[dtype];
  if (Number.isNaN(v)) return F.nan;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (a === Infinity) return sign | F.inf;
  const quantum = 2 ** (Math.max(exponentOf(a), F.emin) - F.mant);  // subnormals: emin's quantum
  const r = roundHalfEven(a / quantum) * quantum;  // the rounded value (exact)
  if (r >= 2 ** (F.emax + 1)) return sign | F.inf;
  if (r < 2 ** F.emin) return sign | (r / 2 ** (F.emin - F.mant));  // subnormal or zero
  const e = exponentOf(r);
  return sign | ((e + F.bias) << F.mant) | (r / 2 ** (e - F.mant) - 2 ** F.mant);
}

// The value (float64) of the bits h of `dtype`.
function decode(h, dtype) {
  const F = FORMATS[dtype];
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> F.mant) & ((1 << (15 - F.mant)) - 1);
  const m = h & ((1 << F.mant) - 1);
  if (e === (1 << (15 - F.mant)) - 1) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** (F.emin - F.mant);
  return sign * (1 + m / 2 ** F.mant) * 2 ** (e - F.bias);
}

/** Uint16Array of the bits of `values` rounded to `dtype`. */
function encodeArray(values, dtype) {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = encode(values[i], dtype);
  return out;
}

/** Float64Array of the values of the bits in `bits`. */
function decodeArray(bits, dtype) {
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = decode(bits[i], dtype);
  return out;
}

/** An image of half bits as a float64 image (the reference's input: the same rounded values). */
function decodedImage(img) {
  const { dtype, ...rest } = img;
  return { ...rest, data: decodeArray(img.data, dtype) };
}

/** An image of float64 data as half bits (`dtype` set on it). */
function halfImage(img, dtype) {
  return { ...img, data: encodeArray(img.data, dtype), dtype };
}

/**
 * A random half-precision pair (x: noise-free levels plus texture, y: x plus noise, both rounded to
 * `dtype`) with random shape, layout, batch, window, padding and dataRange; `opts` for the call.
 */
function halfCase(rng, dtype, { width, height, channels, batch } = {}) {
  const windowSize = rng.pick([7, 9, 11]);
  const padding = rng.pick(['same', 'valid']);
  const w = width ?? rng.int(11, 70);
  const h = height ?? rng.int(11, 50);
  const c = channels ?? rng.pick([1, 2, 3, 4]);
  const b = batch ?? rng.int(1, 3);
  const layout = rng.pick(['hwc', 'chw']);
  const range = rng.pick([1, 1, 255, 4]);
  const n = w * h * c * b;
  const xv = new Float64Array(n);
  const yv = new Float64Array(n);
  const level = rng.uniform(0.2, 0.8);
  const noise = rng.pick([0.02, 0.1, 0.3]);
  for (let i = 0; i < n; i++) {
    const v = Math.min(1, Math.max(0, level + 0.3 * (rng.next() - 0.5)));
    xv[i] = v * range;
    yv[i] = Math.min(1, Math.max(0, v + noise * (rng.next() - 0.5))) * range;
  }
  const img = (data) => ({ data: encodeArray(data, dtype), width: w, height: h, channels: c, batch: b, layout, dtype });
  const opts = { windowSize, padding, ...(range === 1 ? {} : { dataRange: range }) };
  return { x: img(xv), y: img(yv), opts, desc: `${dtype} ${w}x${h}x${c} batch ${b} ${layout} window ${windowSize} ${padding} range ${range}` };
}

/** Float16Array where the runtime has one (Node 20 has not), else undefined. */
const Float16 = globalThis.Float16Array;

const HALF_DTYPES = Object.freeze(['float16', 'bfloat16']);

/** The image with its half bits decoded into a Float32Array (exact), no dtype. */
function asFloat32(img) {
  const { dtype, ...rest } = img;
  return { ...rest, data: Float32Array.from(decodeArray(img.data, dtype)) };
}

function mapCount(t) {
  const r = t.opts.padding === 'valid' ? ((t.opts.windowSize || 11) - 1) / 2 : 0;
  return t.x.channels * (t.x.width - 2 * r) * (t.x.height - 2 * r);
}

function assertSameFloats(a, b, what) {
  assert.strictEqual(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: [${i}] ${a[i]} !== ${b[i]}`);
  }
}

function assertSameBits(a, b, what) {
  assert.strictEqual(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${what}: [${i}] 0x${a[i].toString(16)} !== 0x${b[i].toString(16)} (float32 gradient rounded)`);
  }
}

/** Bits `a` equal `b` but for at most `slack` of them one step apart (neighbouring half values). */
function assertNearBits(a, b, slack, what) {
  assert.strictEqual(a.length, b.length, `${what}: length`);
  let off = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (Math.abs(a[i] - b[i]) !== 1 || ++off > slack) assert.fail(`${what}: [${i}] 0x${a[i].toString(16)} vs 0x${b[i].toString(16)} (${off} off)`);
  }
}

/**
 * Checks one case on `backend` ('cpu' or 'cuda'; `device`: x and y as DeviceArrays): values and
 * gradient against the reference and the float32 path on the decoded data (bit for bit on the CPU;
 * on CUDA, whose reductions need not repeat bit for bit, within 1e-6 and one half step), and
 * gradientDtype 'input' against the rounding of the float32 gradient. Used by half.test.js and
 * gpu-half.test.js.
 */
function checkHalfCase(api, t, backend, device = false) {
  const exact = backend === 'cpu';
  const opts = { ...t.opts, backend };
  const dx = decodedImage(t.x);
  const dy = decodedImage(t.y);
  const made = [];
  const place = (img, data) => {
    if (!device) return { ...img, data };
    const d = data instanceof Uint16Array ? api.DeviceArray.from(data, { dtype: img.dtype }) : api.DeviceArray.from(data);
    made.push(d);
    return { ...img, data: d };
  };
  const x = place(t.x, t.x.data);
  const y = place(t.y, t.y.data);
  const x32 = place(asFloat32(t.x), asFloat32(t.x).data);
  const y32 = place(asFloat32(t.y), asFloat32(t.y).data);
  const host = (a) => {
    if (ArrayBuffer.isView(a)) return a;
    made.push(a);
    return a.toHost();
  };
  try {
    const { value, gradient } = api.ssimWithGradient(x, y, opts);
    const expected = ref.ssimRef(dx, dy, t.opts);
    for (let b = 0; b < expected.length; b++) {
      assert.ok(Math.abs(value[b] - expected[b]) <= VALUE_TOL, `${t.desc}: value[${b}] ${value[b]} vs reference ${expected[b]}`);
    }
    assert.ok(gradient instanceof Float32Array || gradient.dtype === 'float32', `${t.desc}: float32 gradient by default`);
    const g = host(gradient);
    assertAllFinite(g, `${t.desc}: gradient`);
    accuracy.assertGradient(g, ref.ssimGradientRef(dx, dy, t.opts), mapCount(t), `${t.desc}: gradient`);
    // the float32 path on the decoded values: the same numbers (both read the same float32 values)
    const f32 = api.ssimWithGradient(x32, y32, opts);
    const g32 = host(f32.gradient);
    if (exact) {
      assertSameFloats(value, f32.value, `${t.desc}: value vs float32 data`);
      assertSameFloats(g, g32, `${t.desc}: gradient vs float32 data`);
    } else {
      for (let b = 0; b < value.length; b++) assert.ok(Math.abs(value[b] - f32.value[b]) <= 1e-6, `${t.desc}: value[${b}] vs float32 data`);
    }
    // the gradient in the input's dtype: the float32 gradient rounded to nearest even
    const gh = api.ssimGradient(x, y, { ...opts, gradientDtype: 'input' });
    assert.ok(device ? gh.dtype === t.x.dtype : gh instanceof Uint16Array, `${t.desc}: gradient in ${t.x.dtype}`);
    const bits = host(gh);
    if (exact) assertSameBits(bits, encodeArray(g, t.x.dtype), `${t.desc}: gradientDtype 'input'`);
    else assertNearBits(bits, encodeArray(g, t.x.dtype), Math.ceil(bits.length / 100), `${t.desc}: gradientDtype 'input'`);
    return { value, g, bits };
  } finally {
    for (const d of made) d.dispose();
  }
}

module.exports = {
  VALUE_TOL, asFloat32, mapCount, assertSameFloats, assertSameBits, assertNearBits, checkHalfCase,
  encode, decode, encodeArray, decodeArray, decodedImage, halfImage, halfCase, Float16, HALF_DTYPES, FORMATS };
