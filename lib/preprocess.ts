// The linear preprocessing of the 'matlab' convention (options grayscale and downsample), on the
// host: P = subsample o box filter o grayscale, applied to x and y before the SSIM job, and its
// transpose, which maps the job's gradient (with respect to P x) back to x.
//
// - grayscale: one channel g = wr R + wg G + wb B with MATLAB rgb2gray's weights (not rounded: MATLAB
//   rounds uint8 results to uint8; here P stays linear, so that the gradient is exact);
// - downsample f > 1 (MATLAB ssim.m): imfilter(img, ones(f) / f^2, 'symmetric', 'same'), then
//   img(1:f:end, 1:f:end). imfilter correlates with the kernel's centre at floor((f + 1) / 2)
//   (1-based), so output pixel i (0-based) averages input pixels i - (c - 1) .. i + f - c with
//   c = floor((f + 1) / 2): for even f one more pixel after i than before. 'symmetric' mirrors
//   with the edge pixel repeated (index -1 -> 0, N -> N - 1). The result has ceil(H / f) rows and
//   ceil(W / f) columns; a 1-D operator per axis, applied rows then columns.

/** MATLAB rgb2gray's weights (BT.601 luma): opts.grayscale here, evaluate()'s color 'luma' (lib/evaluate/decode.ts). */
export const RGB2GRAY = Object.freeze([0.298936021293775, 0.587043074451121, 0.114020904255103] as const);

/**
 * What P does: grayscale (3 channels -> 1), the factor (1: none), then `reflect` pixels of
 * reflect padding on each side (torch's and numpy's 'reflect': the edge pixel not repeated,
 * index -1 -> 1; padding 'reflect', torchmetrics: the SSIM job then runs 'valid' on the padded
 * image, so its map has the unpadded image's size).
 */
export interface Preprocessing {
  readonly grayscale: boolean;
  readonly factor: number;
  readonly reflect: number;
}

/** The shape of a host image batch. */
export interface PlainShape {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly chw: boolean;
}

/** 'symmetric' padding: the index of the pixel that index i (any integer) reads in 0..n-1. */
function mirror(i: number, n: number): number {
  const p = 2 * n;
  let m = i % p;
  if (m < 0) m += p;
  return m < n ? m : p - 1 - m;
}

/** 'reflect' padding (n > 1): the index that index i in [-(n - 1), 2n - 2] reads. */
function reflectIndex(i: number, n: number): number {
  if (i < 0) return -i;
  return i >= n ? 2 * n - 2 - i : i;
}

/**
 * The input indices (with repeats) averaged by each output index of one axis of length n, then
 * reflect-padded by `pad`: output index j reads the box of downsampled index j - pad.
 */
function boxTaps(n: number, f: number, pad = 0): Int32Array[] {
  const c = Math.floor((f + 1) / 2);
  const boxes: Int32Array[] = [];
  for (let i = 0; i < n; i += f) {
    const taps = new Int32Array(f);
    for (let k = 0; k < f; k++) taps[k] = mirror(i + k - (c - 1), n);
    boxes.push(taps);
  }
  if (pad === 0) return boxes;
  const m = boxes.length;
  const out: Int32Array[] = [];
  for (let j = -pad; j < m + pad; j++) out.push(boxes[reflectIndex(j, m)]);
  return out;
}

/** The shape after P. */
export function preprocessedShape(s: PlainShape, p: Preprocessing): PlainShape {
  return {
    batch: s.batch,
    channels: p.grayscale && s.channels === 3 ? 1 : s.channels,
    height: Math.ceil(s.height / p.factor) + 2 * p.reflect,
    width: Math.ceil(s.width / p.factor) + 2 * p.reflect,
    chw: false,
  };
}

type Indexable = ArrayLike<number>;

/**
 * What P and its transpose both walk: the output shape t, x's sides and strides (pix, row, chan:
 * a pixel, a row and a channel apart in x's layout), whether channels become gray, the box taps of
 * each output row and column (input indices, reflection included), and the box's 1 / factor^2.
 */
function geometryOf(s: PlainShape, p: Preprocessing) {
  const t = preprocessedShape(s, p);
  const { height: H, width: W, channels: C } = s;
  return {
    t, H, W, C,
    pix: s.chw ? 1 : C,
    row: s.chw ? W : W * C,
    chan: s.chw ? H * W : 1,
    gray: t.channels !== C,
    rows: boxTaps(H, p.factor, p.reflect),
    cols: boxTaps(W, p.factor, p.reflect),
    inv: 1 / (p.factor * p.factor),
  };
}

/** P applied to `data` (stored values, any layout of `s`): a Float64Array in the hwc layout of preprocessedShape. */
export function preprocess(data: Indexable, s: PlainShape, p: Preprocessing): Float64Array {
  const { t, H, W, C, pix, row, chan, gray, rows, cols, inv } = geometryOf(s, p);
  const out = new Float64Array(t.batch * t.channels * t.height * t.width);
  const plane = new Float64Array(H * W); // one channel of one image (gray or not), row-major
  const tmp = new Float64Array(t.height * W); // rows reduced
  for (let b = 0; b < s.batch; b++) {
    const base = b * C * H * W;
    for (let oc = 0; oc < t.channels; oc++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = base + y * row + x * pix;
          plane[y * W + x] = gray
            ? RGB2GRAY[0] * data[o] + RGB2GRAY[1] * data[o + chan] + RGB2GRAY[2] * data[o + 2 * chan]
            : data[o + oc * chan];
        }
      }
      for (let oy = 0; oy < t.height; oy++) {
        const tr = rows[oy];
        for (let x = 0; x < W; x++) {
          let acc = 0;
          for (let k = 0; k < tr.length; k++) acc += plane[tr[k] * W + x];
          tmp[oy * W + x] = acc;
        }
      }
      const ob = b * t.channels * t.height * t.width;
      for (let oy = 0; oy < t.height; oy++) {
        for (let ox = 0; ox < t.width; ox++) {
          const tc = cols[ox];
          let acc = 0;
          for (let k = 0; k < tc.length; k++) acc += tmp[oy * W + tc[k]];
          out[ob + (oy * t.width + ox) * t.channels + oc] = acc * inv;
        }
      }
    }
  }
  return out;
}

/**
 * The transpose of P: `g` (the gradient with respect to P x, hwc of preprocessedShape) mapped to
 * the gradient with respect to x, written into `dst` (x's length and layout), every element set.
 */
export function preprocessTranspose(g: ArrayLike<number>, s: PlainShape, p: Preprocessing, dst: { [i: number]: number; length: number }): void {
  const { t, H, W, C, pix, row, chan, gray, rows, cols, inv } = geometryOf(s, p);
  const tmp = new Float64Array(t.height * W);
  const plane = new Float64Array(H * W);
  for (let b = 0; b < s.batch; b++) {
    const base = b * C * H * W;
    const gb = b * t.channels * t.height * t.width;
    for (let oc = 0; oc < t.channels; oc++) {
      tmp.fill(0);
      plane.fill(0);
      for (let oy = 0; oy < t.height; oy++) {
        for (let ox = 0; ox < t.width; ox++) {
          const v = g[gb + (oy * t.width + ox) * t.channels + oc] * inv;
          const tc = cols[ox];
          for (let k = 0; k < tc.length; k++) tmp[oy * W + tc[k]] += v;
        }
      }
      for (let oy = 0; oy < t.height; oy++) {
        const tr = rows[oy];
        for (let x = 0; x < W; x++) {
          const v = tmp[oy * W + x];
          if (v === 0) continue;
          for (let k = 0; k < tr.length; k++) plane[tr[k] * W + x] += v;
        }
      }
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = base + y * row + x * pix;
          const v = plane[y * W + x];
          if (gray) {
            dst[o] = RGB2GRAY[0] * v;
            dst[o + chan] = RGB2GRAY[1] * v;
            dst[o + 2 * chan] = RGB2GRAY[2] * v;
          } else {
            dst[o + oc * chan] = v;
          }
        }
      }
    }
  }
}
