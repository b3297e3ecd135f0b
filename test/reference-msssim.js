'use strict';
// An independent float64 reference for multi-scale SSIM (Wang, Simoncelli & Bovik 2003) and its
// gradient, written from the definition as pytorch-msssim computes it, not from
// cuda/common/msssim.h:
//
//   scale 0 = the images (normalised like test/reference.js); scale j+1 = avg_pool2d(scale j,
//     kernel 2, stride 2, padding [H % 2, W % 2], count_include_pad): an odd side gets a zero
//     row/column on both sides, every window divides by 4;
//   per plane (image b, channel c) and scale j: cs_j = mean over the map of
//     (2 s_xy + C2) / (s_xx + s_yy + C2) (direct 2-D Gaussian window, zero padding outside the
//     image), and at the last scale the full SSIM mean instead;
//   v_j = relu(cs_j or ssim), MS(b) = mean_c prod_j v_j^{w_j}.
//
// The gradient: the chain rule over each map pixel's window (scatter, as test/reference.js does
// for SSIM, with the contrast-structure partials for cs), scaled by dMS/dv_j = w_j P_c / (C v_j)
// (0 for a clamped term), and brought back to scale 0 through the transpose of each pooling.

const ref = require('./reference');

const DEFAULT_WEIGHTS = Object.freeze([0.0448, 0.2856, 0.3001, 0.2363, 0.1333]);

// pytorch-msssim's pooling of one H x W plane.
function poolPlane(src, H, W) {
  const ph = H % 2, pw = W % 2;
  const h2 = Math.floor((H + 2 * ph - 2) / 2) + 1;
  const w2 = Math.floor((W + 2 * pw - 2) / 2) + 1;
  const out = new Float64Array(h2 * w2);
  for (let i = 0; i < h2; i++) {
    for (let k = 0; k < w2; k++) {
      let s = 0;
      for (let a = 0; a < 2; a++) {
        for (let b = 0; b < 2; b++) {
          const r = 2 * i + a - ph, c = 2 * k + b - pw; // padded (2i + a, 2k + b) in image coordinates
          if (r >= 0 && r < H && c >= 0 && c < W) s += src[r * W + c];
        }
      }
      out[i * w2 + k] = s / 4;
    }
  }
  return { plane: out, h: h2, w: w2 };
}

// Transpose of poolPlane: adds g (h2 x w2) back onto an H x W plane.
function poolTransposeAdd(g, h2, w2, H, W, dst) {
  const ph = H % 2, pw = W % 2;
  for (let i = 0; i < h2; i++) {
    for (let k = 0; k < w2; k++) {
      for (let a = 0; a < 2; a++) {
        for (let b = 0; b < 2; b++) {
          const r = 2 * i + a - ph, c = 2 * k + b - pw;
          if (r >= 0 && r < H && c >= 0 && c < W) dst[r * W + c] += g[i * w2 + k] / 4;
        }
      }
    }
  }
}

function mapRange(H, W, p) {
  const r = p.valid ? p.radius : 0;
  if (H - 2 * r <= 0 || W - 2 * r <= 0) throw new RangeError(`reference: ${W}x${H} too small for 'valid'`);
  return { y0: r, y1: H - r, x0: r, x1: W - r, count: (H - 2 * r) * (W - 2 * r) };
}

// Moments of the window around (py, px).
function windowMoments(xp, yp, H, W, p, py, px) {
  const r = p.radius, win = p.windowSize, w2 = p.window2d;
  let mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
  for (let qy = Math.max(0, py - r); qy <= Math.min(H - 1, py + r); qy++) {
    for (let qx = Math.max(0, px - r); qx <= Math.min(W - 1, px + r); qx++) {
      const w = w2[(qy - py + r) * win + (qx - px + r)];
      const a = xp[qy * W + qx], b = yp[qy * W + qx];
      mx += w * a; my += w * b; exx += w * a * a; eyy += w * b * b; exy += w * a * b;
    }
  }
  return { mx, my, sxx: exx - mx * mx, syy: eyy - my * my, sxy: exy - mx * my };
}

// Mean cs (csOnly) or SSIM of one plane; with g, adds scale * d(mean)/dx onto g.
function planeTerm(xp, yp, H, W, p, csOnly, g, scale) {
  const reg = mapRange(H, W, p);
  const { c1, c2 } = p;
  const r = p.radius, win = p.windowSize, w2 = p.window2d;
  let total = 0;
  for (let py = reg.y0; py < reg.y1; py++) {
    for (let px = reg.x0; px < reg.x1; px++) {
      const m = windowMoments(xp, yp, H, W, p, py, px);
      const A2 = 2 * m.sxy + c2, B2 = m.sxx + m.syy + c2;
      const A1 = 2 * m.mx * m.my + c1, B1 = m.mx * m.mx + m.my * m.my + c1;
      const cs = A2 / B2;
      const v = csOnly ? cs : (A1 / B1) * cs;
      total += v;
      if (g === null) continue;
      // partials in (mu_x, s_xx, s_xy)
      const dMu = csOnly ? 0 : (2 * m.my / B1 - 2 * m.mx * A1 / (B1 * B1)) * cs;
      const dVar = -v / B2;
      const dCov = 2 * (csOnly ? 1 : A1 / B1) / B2;
      const k = scale / reg.count;
      for (let qy = Math.max(0, py - r); qy <= Math.min(H - 1, py + r); qy++) {
        for (let qx = Math.max(0, px - r); qx <= Math.min(W - 1, px + r); qx++) {
          const w = w2[(qy - py + r) * win + (qx - px + r)];
          const q = qy * W + qx;
          g[q] += k * w * (dMu + dVar * 2 * (xp[q] - m.mx) + dCov * (yp[q] - m.my));
        }
      }
    }
  }
  return total / reg.count;
}

/**
 * MS-SSIM of x against y (ImageBatch-like objects) with opts (SSIM options plus weights).
 * Returns { values: Float64Array(batch), gradient: Float64Array in x's layout (or null), terms }.
 * terms[b][c][j]: the clamped per-plane values.
 */
function msssimRefFull(x, y, opts, withGradient) {
  const o = opts || {};
  const p = ref.resolveParams(o);
  const weights = o.weights === undefined ? DEFAULT_WEIGHTS : Array.from(o.weights);
  const n = weights.length;
  const X = ref.toPlanes(x), Y = ref.toPlanes(y);
  const s = X.shape;
  const HW = s.height * s.width;
  const values = new Float64Array(s.batch);
  const gPlanes = withGradient ? new Float64Array(X.planes.length) : null;
  const terms = [];
  for (let b = 0; b < s.batch; b++) {
    terms.push([]);
    let ms = 0;
    for (let c = 0; c < s.channels; c++) {
      const off = (b * s.channels + c) * HW;
      // the pyramid
      const pyr = [{ x: X.planes.slice(off, off + HW), y: Y.planes.slice(off, off + HW), h: s.height, w: s.width }];
      for (let j = 1; j < n; j++) {
        const prev = pyr[j - 1];
        const px = poolPlane(prev.x, prev.h, prev.w), py = poolPlane(prev.y, prev.h, prev.w);
        pyr.push({ x: px.plane, y: py.plane, h: px.h, w: px.w });
      }
      const v = pyr.map((l, j) => Math.max(0, planeTerm(l.x, l.y, l.h, l.w, p, j < n - 1, null, 0)));
      let prod = 1;
      for (let j = 0; j < n; j++) prod *= v[j] ** weights[j];
      ms += prod;
      terms[b].push(v);
      if (!withGradient) continue;
      // from the coarsest scale down: g_j = f_j * dv_j/dx_j + pool^T(g_{j+1})
      let acc = null;
      for (let j = n - 1; j >= 0; j--) {
        const l = pyr[j];
        const g = new Float64Array(l.h * l.w);
        if (v[j] > 0) planeTerm(l.x, l.y, l.h, l.w, p, j < n - 1, g, weights[j] * prod / (s.channels * v[j]));
        if (acc !== null) poolTransposeAdd(acc, pyr[j + 1].h, pyr[j + 1].w, l.h, l.w, g);
        acc = g;
      }
      gPlanes.set(acc, off);
    }
    values[b] = ms / s.channels;
  }
  let gradient = null;
  if (withGradient) {
    gradient = ref.fromPlanes(gPlanes, s);
    // float data with a dataRange: toPlanes leaves them as given, so this is d/d(stored value) already
  }
  return { values, gradient, terms };
}

function msssimRef(x, y, opts) {
  return msssimRefFull(x, y, opts, false).values;
}

function msssimGradientRef(x, y, opts) {
  return msssimRefFull(x, y, opts, true).gradient;
}

// Central differences of MS-SSIM (summed over the batch) at the given indices of x's data (float64 copy).
function msssimFiniteDifference(x, y, opts, indices, h = 1e-5) {
  const out = new Float64Array(indices.length);
  const data = Float64Array.from(x.data);
  const xx = { ...x, data };
  indices.forEach((i, k) => {
    const v = data[i];
    data[i] = v + h;
    const up = msssimRef(xx, y, opts).reduce((a, b) => a + b, 0);
    data[i] = v - h;
    const down = msssimRef(xx, y, opts).reduce((a, b) => a + b, 0);
    data[i] = v;
    out[k] = (up - down) / (2 * h);
  });
  return out;
}

module.exports = { DEFAULT_WEIGHTS, poolPlane, poolTransposeAdd, msssimRef, msssimRefFull, msssimGradientRef, msssimFiniteDifference };
