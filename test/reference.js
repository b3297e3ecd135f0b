'use strict';
// An independent float64 reference for SSIM / DSSIM and the gradient of the mean SSIM.
//
// Written from the definition (Wang, Bovik, Sheikh, Simoncelli 2004) with a normalised
// Gaussian window, not from cuda/common/ssim_math.h:
//
//   mu_x(p)   = sum_q w(q - p) x(q)                 (zero outside the image)
//   s_xx(p)   = sum_q w(q - p) x(q)^2 - mu_x(p)^2    (population form, weights sum to 1)
//   s_xy(p)   = sum_q w(q - p) x(q) y(q) - mu_x(p) mu_y(p)
//   S(p)      = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2))
//   C1 = (k1 L)^2, C2 = (k2 L)^2
//
// 'same': S over every pixel (moments with zero padding outside the image).
// 'valid': S over the pixels whose window lies inside the image (crop r = (win-1)/2 each side),
//          like MATLAB ssim_index / scikit-image (gaussian_weights=True,
//          use_sample_covariance=False).
// The value of an image is the mean of S over its channels and map pixels. Integer data are
// normalised (/255, /65535); float data are used as given.
//
// Two value paths (a separable one for speed and a direct 2-D one), a gradient by a chain rule
// over each map pixel's window in the (mu, variance, covariance) parametrisation (a different
// route from the kernels' alpha/beta/gamma blurs), central finite differences, and the closed
// form of a 1x1 image.

const DEFAULTS = Object.freeze({
  windowSize: 11,
  sigma: 1.5,
  k1: 0.01,
  k2: 0.03,
  dataRange: 1,
  padding: 'same',
  divideByTwo: false,
  window: 'gaussian',
  covariance: 'population',
});

// ---------------------------------------------------------------------------------------------
// Parameters and windows

// 1-D taps exp(-k^2 / (2 sigma^2)) for k = -r..r, normalised to sum 1. Index i <-> offset i - r.
function gaussianWindow1D(windowSize, sigma) {
  if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize % 2 !== 1) {
    throw new RangeError(`reference: odd window size expected, got ${windowSize}`);
  }
  const r = (windowSize - 1) / 2;
  const w = new Float64Array(windowSize);
  let sum = 0;
  for (let i = 0; i < windowSize; i++) {
    const k = i - r;
    w[i] = Math.exp(-(k * k) / (2 * sigma * sigma));
    sum += w[i];
  }
  for (let i = 0; i < windowSize; i++) w[i] /= sum;
  return w;
}

// The 2-D window computed directly as exp(-(dx^2 + dy^2) / (2 sigma^2)) normalised over the
// square (mathematically the outer product of the 1-D taps). Row-major [dy + r][dx + r].
function gaussianWindow2D(windowSize, sigma) {
  const r = (windowSize - 1) / 2;
  const w = new Float64Array(windowSize * windowSize);
  let sum = 0;
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const v = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
      w[(dy + r) * windowSize + (dx + r)] = v;
      sum += v;
    }
  }
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  return w;
}

function resolveParams(opts) {
  const o = opts || {};
  const p = {};
  for (const k of Object.keys(DEFAULTS)) p[k] = o[k] === undefined ? DEFAULTS[k] : o[k];
  p.radius = (p.windowSize - 1) / 2;
  // window 'uniform': every tap 1 / windowSize (scikit-image's default window)
  p.taps = p.window === 'uniform' ? new Float64Array(p.windowSize).fill(1 / p.windowSize) : gaussianWindow1D(p.windowSize, p.sigma);
  p.window2d = p.window === 'uniform' ? new Float64Array(p.windowSize ** 2).fill(1 / p.windowSize ** 2) : gaussianWindow2D(p.windowSize, p.sigma);
  // covariance 'sample': variances and covariance times N / (N - 1), N = windowSize^2 (scikit-image)
  p.covFactor = p.covariance === 'sample' ? p.windowSize ** 2 / (p.windowSize ** 2 - 1) : 1;
  p.c1 = (p.k1 * p.dataRange) ** 2;
  p.c2 = (p.k2 * p.dataRange) ** 2;
  p.valid = p.padding === 'valid';
  return p;
}

// ---------------------------------------------------------------------------------------------
// Images

function divisorOf(data) {
  if (data instanceof Float32Array || data instanceof Float64Array) return 1;
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 255;
  if (data instanceof Uint16Array) return 65535;
  throw new TypeError('reference: unsupported data type');
}

function shapeOf(img) {
  const batch = img.batch === undefined ? 1 : img.batch;
  const { width, height } = img;
  const channels = img.channels === undefined ? img.data.length / (width * height * batch) : img.channels;
  if (!Number.isInteger(channels) || channels < 1 || channels * width * height * batch !== img.data.length) {
    throw new RangeError('reference: inconsistent shape');
  }
  return { batch, channels, height, width, layout: img.layout || 'hwc' };
}

// Index in the data array of element (b, c, y, x).
function dataIndex(s, b, c, y, x) {
  const base = b * s.channels * s.height * s.width;
  return s.layout === 'chw'
    ? base + (c * s.height + y) * s.width + x
    : base + (y * s.width + x) * s.channels + c;
}

// Inverse of dataIndex.
function decodeIndex(s, i) {
  const imageSize = s.channels * s.height * s.width;
  const b = Math.floor(i / imageSize);
  let r = i - b * imageSize;
  if (s.layout === 'chw') {
    const c = Math.floor(r / (s.height * s.width));
    r -= c * s.height * s.width;
    return { b, c, y: Math.floor(r / s.width), x: r % s.width };
  }
  const c = r % s.channels;
  r = (r - c) / s.channels;
  return { b, c, y: Math.floor(r / s.width), x: r % s.width };
}

// Planar float64 copy of normalised intensities: index ((b*C + c)*H + y)*W + x.
function toPlanes(img) {
  const s = shapeOf(img);
  const div = divisorOf(img.data);
  const planes = new Float64Array(img.data.length);
  let k = 0;
  for (let b = 0; b < s.batch; b++) {
    for (let c = 0; c < s.channels; c++) {
      for (let y = 0; y < s.height; y++) {
        for (let x = 0; x < s.width; x++) planes[k++] = img.data[dataIndex(s, b, c, y, x)] / div;
      }
    }
  }
  return { shape: s, planes };
}

// Planar array -> array in the layout of shape s.
function fromPlanes(planes, s) {
  const out = new Float64Array(planes.length);
  let k = 0;
  for (let b = 0; b < s.batch; b++) {
    for (let c = 0; c < s.channels; c++) {
      for (let y = 0; y < s.height; y++) {
        for (let x = 0; x < s.width; x++) out[dataIndex(s, b, c, y, x)] = planes[k++];
      }
    }
  }
  return out;
}

function mapRegion(H, W, p) {
  const r = p.valid ? p.radius : 0;
  const region = { y0: r, y1: H - r, x0: r, x1: W - r };
  if (region.y1 <= region.y0 || region.x1 <= region.x0) {
    throw new RangeError(`reference: image ${W}x${H} too small for a 'valid' window of ${p.windowSize}`);
  }
  region.count = (region.y1 - region.y0) * (region.x1 - region.x0);
  return region;
}

// SSIM at one pixel from its five moments (f: the covariance factor, 1 or N / (N - 1)).
function pixelSsim(mx, my, exx, eyy, exy, c1, c2, f = 1) {
  const sxx = f * (exx - mx * mx);
  const syy = f * (eyy - my * my);
  const sxy = f * (exy - mx * my);
  return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
}

// ---------------------------------------------------------------------------------------------
// Value, separable path

// out[y*W + x] = sum over the window of taps * src, zero outside the image (rows, then columns).
function blurZeroPad(src, H, W, taps, r, tmp, out) {
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++) {
      let acc = 0;
      const k0 = Math.max(-r, -x);
      const k1 = Math.min(r, W - 1 - x);
      for (let k = k0; k <= k1; k++) acc += taps[k + r] * src[row + x + k];
      tmp[row + x] = acc;
    }
  }
  for (let y = 0; y < H; y++) {
    const k0 = Math.max(-r, -y);
    const k1 = Math.min(r, H - 1 - y);
    for (let x = 0; x < W; x++) {
      let acc = 0;
      for (let k = k0; k <= k1; k++) acc += taps[k + r] * tmp[(y + k) * W + x];
      out[y * W + x] = acc;
    }
  }
}

// SSIM map of one plane (xp, yp: H*W float64), over the map region; returns {map, region}.
function planeSsimMap(xp, yp, H, W, p) {
  const region = mapRegion(H, W, p);
  const n = H * W;
  const r = p.radius;
  const srcs = [xp, yp, new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let i = 0; i < n; i++) {
    srcs[2][i] = xp[i] * xp[i];
    srcs[3][i] = yp[i] * yp[i];
    srcs[4][i] = xp[i] * yp[i];
  }
  const tmp = new Float64Array(n);
  const m = srcs.map((src) => {
    const out = new Float64Array(n);
    blurZeroPad(src, H, W, p.taps, r, tmp, out);
    return out;
  });
  const mw = region.x1 - region.x0;
  const map = new Float64Array(region.count);
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const i = y * W + x;
      map[(y - region.y0) * mw + (x - region.x0)] = pixelSsim(m[0][i], m[1][i], m[2][i], m[3][i], m[4][i], p.c1, p.c2, p.covFactor);
    }
  }
  return { map, region };
}

// Mean SSIM of image b of planar data.
function imageSsimFromPlanes(xPlanes, yPlanes, s, b, p) {
  const n = s.height * s.width;
  let total = 0;
  let count = 0;
  for (let c = 0; c < s.channels; c++) {
    const off = (b * s.channels + c) * n;
    const { map } = planeSsimMap(xPlanes.subarray(off, off + n), yPlanes.subarray(off, off + n), s.height, s.width, p);
    for (let i = 0; i < map.length; i++) total += map[i];
    count += map.length;
  }
  return total / count;
}

// ---------------------------------------------------------------------------------------------
// Value, direct 2-D path (slow; for cross-checks)

function planeSsimMapDirect(xp, yp, H, W, p) {
  const region = mapRegion(H, W, p);
  const r = p.radius;
  const win = p.windowSize;
  const w2 = p.window2d;
  const mw = region.x1 - region.x0;
  const map = new Float64Array(region.count);
  for (let py = region.y0; py < region.y1; py++) {
    for (let px = region.x0; px < region.x1; px++) {
      let mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
      for (let dy = -r; dy <= r; dy++) {
        const qy = py + dy;
        if (qy < 0 || qy >= H) continue;
        for (let dx = -r; dx <= r; dx++) {
          const qx = px + dx;
          if (qx < 0 || qx >= W) continue;
          const w = w2[(dy + r) * win + (dx + r)];
          const a = xp[qy * W + qx];
          const bb = yp[qy * W + qx];
          mx += w * a;
          my += w * bb;
          exx += w * a * a;
          eyy += w * bb * bb;
          exy += w * a * bb;
        }
      }
      map[(py - region.y0) * mw + (px - region.x0)] = pixelSsim(mx, my, exx, eyy, exy, p.c1, p.c2, p.covFactor);
    }
  }
  return { map, region };
}

// ---------------------------------------------------------------------------------------------
// Gradient: chain rule over each map pixel's window.
//
// With A1 = 2 mu_x mu_y + C1, A2 = 2 s_xy + C2, B1 = mu_x^2 + mu_y^2 + C1, B2 = s_xx + s_yy + C2
// and S = A1 A2 / (B1 B2), taking (mu_x, s_xx, s_xy) as the variables that depend on x:
//   dS/dmu_x = 2 mu_y A2 / (B1 B2) - 2 mu_x S / B1
//   dS/ds_xx = -S / B2
//   dS/ds_xy = 2 A1 / (B1 B2)
// and for a pixel q in the window of p with weight w = w(q - p):
//   dmu_x/dx_q = w,  ds_xx/dx_q = 2 w (x_q - mu_x),  ds_xy/dx_q = w (y_q - mu_y).
// Every map pixel scatters its contribution to the pixels of its window (O(N win^2)).

function planeGradientAdd(xp, yp, H, W, p, scale, g /* H*W, accumulated */) {
  const region = mapRegion(H, W, p);
  const r = p.radius;
  const win = p.windowSize;
  const w2 = p.window2d;
  const { c1, c2 } = p;
  for (let py = region.y0; py < region.y1; py++) {
    const qy0 = Math.max(0, py - r);
    const qy1 = Math.min(H - 1, py + r);
    for (let px = region.x0; px < region.x1; px++) {
      const qx0 = Math.max(0, px - r);
      const qx1 = Math.min(W - 1, px + r);
      let mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
      for (let qy = qy0; qy <= qy1; qy++) {
        for (let qx = qx0; qx <= qx1; qx++) {
          const w = w2[(qy - py + r) * win + (qx - px + r)];
          const a = xp[qy * W + qx];
          const bb = yp[qy * W + qx];
          mx += w * a;
          my += w * bb;
          exx += w * a * a;
          eyy += w * bb * bb;
          exy += w * a * bb;
        }
      }
      const f = p.covFactor;
      const sxx = f * (exx - mx * mx);
      const syy = f * (eyy - my * my);
      const sxy = f * (exy - mx * my);
      const A1 = 2 * mx * my + c1;
      const A2 = 2 * sxy + c2;
      const B1 = mx * mx + my * my + c1;
      const B2 = sxx + syy + c2;
      const S = (A1 * A2) / (B1 * B2);
      const dMu = (2 * my * A2) / (B1 * B2) - (2 * mx * S) / B1;
      // d/d(raw variance, covariance): the factor f rides along (the mean's partial has no f)
      const dVar = (-S / B2) * f;
      const dCov = ((2 * A1) / (B1 * B2)) * f;
      for (let qy = qy0; qy <= qy1; qy++) {
        for (let qx = qx0; qx <= qx1; qx++) {
          const w = w2[(qy - py + r) * win + (qx - px + r)];
          const q = qy * W + qx;
          g[q] += scale * w * (dMu + dVar * 2 * (xp[q] - mx) + dCov * (yp[q] - my));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Public functions. x, y: ImageBatch-like objects ({ data, width, height, channels?, batch?,
// layout? }). Values are always returned as a Float64Array of batch (1 without batch).

function ssimRef(x, y, opts) {
  const p = resolveParams(opts);
  const X = toPlanes(x);
  const Y = toPlanes(y);
  const out = new Float64Array(X.shape.batch);
  for (let b = 0; b < X.shape.batch; b++) out[b] = imageSsimFromPlanes(X.planes, Y.planes, X.shape, b, p);
  return out;
}

// Same values through the direct 2-D path.
function ssimRefDirect(x, y, opts) {
  const p = resolveParams(opts);
  const X = toPlanes(x);
  const Y = toPlanes(y);
  const s = X.shape;
  const n = s.height * s.width;
  const out = new Float64Array(s.batch);
  for (let b = 0; b < s.batch; b++) {
    let total = 0;
    let count = 0;
    for (let c = 0; c < s.channels; c++) {
      const off = (b * s.channels + c) * n;
      const { map } = planeSsimMapDirect(X.planes.subarray(off, off + n), Y.planes.subarray(off, off + n), s.height, s.width, p);
      for (let i = 0; i < map.length; i++) total += map[i];
      count += map.length;
    }
    out[b] = total / count;
  }
  return out;
}

// SSIM maps of every plane: array (b*C + c) of { map, region }.
function ssimMapsRef(x, y, opts) {
  const p = resolveParams(opts);
  const X = toPlanes(x);
  const Y = toPlanes(y);
  const s = X.shape;
  const n = s.height * s.width;
  const maps = [];
  for (let k = 0; k < s.batch * s.channels; k++) {
    maps.push(planeSsimMap(X.planes.subarray(k * n, (k + 1) * n), Y.planes.subarray(k * n, (k + 1) * n), s.height, s.width, p));
  }
  return maps;
}

function dssimFromSsim(values, opts) {
  const half = !!(opts && opts.divideByTwo);
  return values.map((v) => (half ? (1 - v) / 2 : 1 - v));
}

function dssimRef(x, y, opts) {
  return dssimFromSsim(ssimRef(x, y, opts), opts);
}

// d(SSIM of each image)/d(x), w.r.t. normalised intensities, in x's layout (Float64Array of
// x.data.length).
function ssimGradientRef(x, y, opts) {
  const p = resolveParams(opts);
  const X = toPlanes(x);
  const Y = toPlanes(y);
  const s = X.shape;
  const n = s.height * s.width;
  const region = mapRegion(s.height, s.width, p);
  const scale = 1 / (s.channels * region.count);
  const g = new Float64Array(X.planes.length);
  for (let k = 0; k < s.batch * s.channels; k++) {
    planeGradientAdd(
      X.planes.subarray(k * n, (k + 1) * n),
      Y.planes.subarray(k * n, (k + 1) * n),
      s.height, s.width, p, scale,
      g.subarray(k * n, (k + 1) * n),
    );
  }
  return fromPlanes(g, s);
}

// Gradient of the dssim value: -1 or -1/2 times the SSIM gradient.
function dssimGradientRef(x, y, opts) {
  const f = opts && opts.divideByTwo ? -0.5 : -1;
  return ssimGradientRef(x, y, opts).map((v) => f * v);
}

// Central finite differences of the float64 reference SSIM (of the image holding each element)
// with respect to the normalised intensity at the given data-layout indices of x.
function finiteDifferenceRef(x, y, opts, indices, h = 1e-5) {
  const p = resolveParams(opts);
  const X = toPlanes(x);
  const Y = toPlanes(y);
  const s = X.shape;
  const out = new Float64Array(indices.length);
  indices.forEach((i, k) => {
    const { b, c, y: yy, x: xx } = decodeIndex(s, i);
    const j = ((b * s.channels + c) * s.height + yy) * s.width + xx;
    const saved = X.planes[j];
    X.planes[j] = saved + h;
    const up = imageSsimFromPlanes(X.planes, Y.planes, s, b, p);
    X.planes[j] = saved - h;
    const down = imageSsimFromPlanes(X.planes, Y.planes, s, b, p);
    X.planes[j] = saved;
    out[k] = (up - down) / (2 * h);
  });
  return out;
}

// Closed form for a 1x1 image (one channel, intensities xv, yv, 'same' padding). Every moment
// sees only the centre weight w0 = taps[r]^2 of the 2-D window:
//   mu_x = w0 x, E[x^2] = w0 x^2, s_xx = v x^2, s_xy = v x y with v = w0 (1 - w0).
//   S = (2 w0^2 x y + C1)(2 v x y + C2) / ((w0^2 (x^2 + y^2) + C1)(v (x^2 + y^2) + C2))
function singlePixelRef(xv, yv, opts) {
  const p = resolveParams(opts);
  const t0 = p.taps[p.radius];
  const w0 = t0 * t0;
  const a = w0 * w0;
  const v = w0 * (1 - w0);
  const P = 2 * a * xv * yv + p.c1;
  const Q = 2 * v * xv * yv + p.c2;
  const R = a * (xv * xv + yv * yv) + p.c1;
  const T = v * (xv * xv + yv * yv) + p.c2;
  const value = (P * Q) / (R * T);
  const grad = (2 * a * yv * Q + P * 2 * v * yv) / (R * T) - value * ((2 * a * xv) / R + (2 * v * xv) / T);
  return { value, grad, w0 };
}

module.exports = {
  DEFAULTS,
  gaussianWindow1D,
  gaussianWindow2D,
  resolveParams,
  shapeOf,
  dataIndex,
  decodeIndex,
  toPlanes,
  fromPlanes,
  divisorOf,
  pixelSsim,
  planeSsimMap,
  planeSsimMapDirect,
  ssimRef,
  ssimRefDirect,
  ssimMapsRef,
  dssimRef,
  dssimFromSsim,
  ssimGradientRef,
  dssimGradientRef,
  finiteDifferenceRef,
  singlePixelRef,
};
