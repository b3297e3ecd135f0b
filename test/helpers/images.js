'use strict';
// Random image pairs for the suites. Never all-zero: x is a random oriented sinusoid plus noise
// per plane, y is a random affine function of x plus noise (or, sometimes, independent noise),
// so SSIM values spread over (-1, 1) instead of sitting at ~0 (independent noise) or at 1.

const ref = require('../reference');

const DTYPES = Object.freeze({
  float32: Float32Array,
  float64: Float64Array,
  uint8: Uint8Array,
  uint8c: Uint8ClampedArray,
  uint16: Uint16Array,
});
const DTYPE_NAMES = Object.freeze(Object.keys(DTYPES));
const INT_MAX = { uint8: 255, uint8c: 255, uint16: 65535 };

function dtypeName(arr) {
  for (const [k, C] of Object.entries(DTYPES)) if (arr instanceof C) return k;
  return arr && arr.constructor ? arr.constructor.name : typeof arr;
}

function clamp01(v) {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

// spec: { width, height, channels = 1, batch (undefined: no batch key), layout = 'hwc',
//         dtype = 'float32', range = [0, 1] (float dtypes: intensities mapped to it),
//         omitChannels = false, omitLayout = (layout === 'hwc'), mode: 'structured'|'noise'|undefined }
function makePair(rng, spec) {
  const width = spec.width;
  const height = spec.height;
  const channels = spec.channels || 1;
  const batch = spec.batch === undefined ? 1 : spec.batch;
  const layout = spec.layout || 'hwc';
  const dtype = spec.dtype || 'float32';
  const [lo, hi] = spec.range || [0, 1];
  const Ctor = DTYPES[dtype];
  if (!Ctor) throw new Error(`unknown dtype ${dtype}`);
  const n = width * height * channels * batch;
  const xd = new Ctor(n);
  const yd = new Ctor(n);
  const shape = { batch, channels, height, width, layout };
  const max = INT_MAX[dtype];
  const encode = max
    ? (v) => Math.round(clamp01(v) * max)
    : (v) => lo + (hi - lo) * v;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const mode = spec.mode || (rng.bool(0.15) ? 'noise' : 'structured');
      // Kept mostly inside [0, 1] (saturation only at isolated noisy pixels): a window of
      // clipped, constant pixels would test float32 cancellation in E[x^2] - E[x]^2 rather
      // than the implementation.
      const amp = rng.uniform(0.05, 0.25);
      const fx = rng.uniform(0.05, 1.2);
      const fy = rng.uniform(0.05, 1.2);
      const ph = rng.uniform(0, 2 * Math.PI);
      const base = rng.uniform(0.35, 0.65);
      const noise = rng.uniform(0.02, 0.3);
      const gain = rng.uniform(-0.3, 0.9);
      const bias = rng.uniform(-0.1, 0.1);
      const noise2 = rng.uniform(0.02, 0.3);
      for (let yy = 0; yy < height; yy++) {
        for (let xx = 0; xx < width; xx++) {
          let xv;
          let yv;
          if (mode === 'noise') {
            xv = rng.next();
            yv = rng.next();
          } else {
            xv = clamp01(base + amp * Math.sin(fx * xx + fy * yy + ph) + noise * (rng.next() - 0.5));
            yv = clamp01(gain * (xv - 0.5) + 0.5 + bias + noise2 * (rng.next() - 0.5));
          }
          const i = ref.dataIndex(shape, b, c, yy, xx);
          xd[i] = encode(xv);
          yd[i] = encode(yv);
        }
      }
    }
  }
  const x = imageOf(xd, shape, spec);
  const y = imageOf(yd, shape, spec);
  return { x, y, shape, desc: describeSpec({ ...spec, channels, layout, dtype }) };
}

// ImageBatch object for data with the given shape; keys omitted as the spec asks.
function imageOf(data, shape, spec = {}) {
  const img = { data, width: shape.width, height: shape.height };
  if (!spec.omitChannels) img.channels = shape.channels;
  if (spec.batch !== undefined) img.batch = shape.batch;
  const omitLayout = spec.omitLayout === undefined ? shape.layout === 'hwc' : spec.omitLayout;
  if (!omitLayout || shape.layout !== 'hwc') img.layout = shape.layout;
  return img;
}

function describeSpec(s) {
  const parts = [`${s.width}x${s.height}`, `c${s.channels || 1}`];
  if (s.batch !== undefined) parts.push(`b${s.batch}`);
  parts.push(s.layout || 'hwc', s.dtype || 'float32');
  if (s.range) parts.push(`range[${s.range}]`);
  return parts.join(' ');
}

// Same image (or batch) in the other layout: a new typed array of the same type.
function relayout(img, layout) {
  const s = ref.shapeOf(img);
  const t = { ...s, layout };
  const data = new img.data.constructor(img.data.length);
  for (let b = 0; b < s.batch; b++) {
    for (let c = 0; c < s.channels; c++) {
      for (let yy = 0; yy < s.height; yy++) {
        for (let xx = 0; xx < s.width; xx++) data[ref.dataIndex(t, b, c, yy, xx)] = img.data[ref.dataIndex(s, b, c, yy, xx)];
      }
    }
  }
  const out = { ...img, data, layout };
  return out;
}

// Re-layout a gradient-like array (any typed array) from shape s to layout.
function relayoutArray(arr, s, layout) {
  const t = { ...s, layout };
  const out = new arr.constructor(arr.length);
  for (let b = 0; b < s.batch; b++) {
    for (let c = 0; c < s.channels; c++) {
      for (let yy = 0; yy < s.height; yy++) {
        for (let xx = 0; xx < s.width; xx++) out[ref.dataIndex(t, b, c, yy, xx)] = arr[ref.dataIndex(s, b, c, yy, xx)];
      }
    }
  }
  return out;
}

// Image b of a batch, as an image without a batch key (a copy).
function imageAt(img, b) {
  const s = ref.shapeOf(img);
  const size = s.channels * s.height * s.width;
  const data = img.data.slice(b * size, (b + 1) * size);
  const out = { data, width: s.width, height: s.height, channels: s.channels, layout: s.layout };
  return out;
}

// A large pair of plain uniform noise (fast to make).
function makeNoisePair(rng, { width, height, channels = 1, dtype = 'float32', batch }) {
  const Ctor = DTYPES[dtype];
  const n = width * height * channels * (batch === undefined ? 1 : batch);
  const x = { data: rng.fill(new Ctor(n)), width, height, channels };
  const y = { data: rng.fill(new Ctor(n)), width, height, channels };
  if (batch !== undefined) { x.batch = batch; y.batch = batch; }
  return { x, y };
}

function copyImage(img) {
  return { ...img, data: img.data.slice() };
}

module.exports = {
  DTYPES,
  DTYPE_NAMES,
  INT_MAX,
  dtypeName,
  makePair,
  imageOf,
  describeSpec,
  relayout,
  relayoutArray,
  imageAt,
  makeNoisePair,
  copyImage,
};
