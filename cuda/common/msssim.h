// Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) as a composition of the SSIM path, shared by
// the CUDA and the CPU backends: the scale pyramid's sizes and scratch layout, the per-plane
// combination, and the order of the operations (composeMsssim). Each backend supplies the
// operations (planarize, pyramid, ssim, combine, accumulate and the coarse scales' fork and join:
// see composeMsssim). Plain C++.
// Derivation: cuda/common/MATH.md, "Multi-scale SSIM".
#pragma once

#include <cmath>
#include <cstddef>

#include "ssim_math.h"  // SSIM_HD
#include "ssim_types.h"

namespace cudassim {

// Most scales (weights) of one call.
constexpr int kMaxScales = 16;
// The pytorch-msssim / Wang 2003 weights (5 scales).
constexpr float kDefaultMsssimWeights[5] = {0.0448f, 0.2856f, 0.3001f, 0.2363f, 0.1333f};

// One MS-SSIM call: the SSIM job (shape, dtype, x, y, params, out, grad) and the weights.
// out: batch values valueOffset + valueScale * MS-SSIM; grad: x's layout, times valueScale and
// params.gradFactor, as for SSIM.
struct MsssimJob {
  SsimJob core;
  int scales = 5;
  float weights[kMaxScales] = {};
};

// The contrast-structure term cs = A2 / B2 is SSIM with the luminance term A1 / B1 = 1: the SSIM
// path computes it unchanged with C1 = 2^60 (MATH.md, "Multi-scale SSIM"). For intensities below
// 2^17 in magnitude, 2 mx my + C1 and mx^2 + my^2 + C1 round to C1 exactly, so A1 / B1 = 1; the
// luminance's partial (2 / B1)(...) is below 2^-55 of the others'.
constexpr float kContrastStructureC1 = 1152921504606846976.0f;  // 2^60

// Side of scale j + 1 from side s of scale j: 2 x 2 average pooling, an odd side padded by one
// zero row/column on both sides (pytorch-msssim: avg_pool2d(kernel 2, padding s % 2,
// count_include_pad)). Fine row r goes to coarse row (r + s % 2) / 2.
SSIM_HD int pooledSide(int s) { return (s + 1) / 2; }  // host and device

// The smallest side with `scales` scales under padding 'valid' with a window of `window`:
// (window - 1) * 2^(scales - 1) + 1 (the coarsest scale must hold one window).
inline long long msssimMinSide(int window, int scales) { return (long long)(window - 1) * (1LL << (scales - 1)) + 1; }

// Where a call's scratch lives, in floats from the scratch's start (64-float aligned regions).
// Planar float32 intensities of each scale's x and y (scale 0 only for interleaved input: planar
// input is read in place), the per-plane values v[j * planes + p], the gradient factors
// f[j * planes + p], and per-scale planar gradients (scale 0 only for interleaved input: planar
// input's scale-0 gradient is accumulated in grad itself).
struct MsssimLayout {
  static constexpr std::size_t kNone = ~std::size_t(0);
  int scales = 0;
  int planes = 0;
  int h[kMaxScales] = {}, w[kMaxScales] = {};
  std::size_t x[kMaxScales] = {}, y[kMaxScales] = {}, g[kMaxScales] = {};
  std::size_t vals = 0, factors = kNone;
  std::size_t floats = 0;  // total
  std::size_t elems(int j) const { return std::size_t(planes) * std::size_t(h[j]) * std::size_t(w[j]); }
};

// ownScale0: scale 0 gets planar float32 copies of x and y (and a gradient) in the scratch, as
// the GPU does for interleaved input; the CPU reads scale 0 from the input as it is.
inline MsssimLayout msssimLayout(const ImageShape& s, int scales, bool gradient, bool ownScale0) {
  MsssimLayout L;
  L.scales = scales;
  L.planes = s.batch * s.channels;
  std::size_t at = 0;
  auto take = [&at](std::size_t n) {
    const std::size_t r = at;
    at += (n + 63) / 64 * 64;
    return r;
  };
  L.vals = take(std::size_t(scales) * std::size_t(L.planes));
  if (gradient) L.factors = take(std::size_t(scales) * std::size_t(L.planes));
  int h = s.height, w = s.width;
  for (int j = 0; j < scales; ++j) {
    L.h[j] = h;
    L.w[j] = w;
    const std::size_t n = L.elems(j);
    const bool own = j > 0 || ownScale0;
    L.x[j] = own ? take(n) : MsssimLayout::kNone;
    L.y[j] = own ? take(n) : MsssimLayout::kNone;
    L.g[j] = own && gradient ? take(n) : MsssimLayout::kNone;
    h = pooledSide(h);
    w = pooledSide(w);
  }
  L.floats = at;
  return L;
}

// The GPU's: scale 0 is read in place when planar (chw, or one channel).
inline MsssimLayout msssimLayout(const ImageShape& s, int scales, bool gradient) {
  return msssimLayout(s, scales, gradient, !(s.chw || s.channels == 1));
}

// The device's combination of a call (cuda/gpu/msssim_combine.cuh): combineMsssimImage's inputs.
struct MsssimCombination {
  const float* vals = nullptr;  // v[j * planes + p]
  float* factors = nullptr;     // or null
  float* out = nullptr;         // batch values, or null
  int channels = 0, planes = 0, scales = 0;
  float weights[kMaxScales] = {};
  float valueOffset = 0.0f, valueScale = 1.0f;
};

// A combination folded into the coarse scales' launch (cuda/gpu/ssim_parts_kernels.cuh, "Folded
// combination"): the coarse values it counts in *count (zero before, left zero) until `target`.
struct MsssimFold {
  MsssimCombination c;
  unsigned long long* count = nullptr;  // null: the launch does not combine
  unsigned long long target = 0;        // the image's coarse values (channels x coarse scales)
};

// The combination for image b (host and device): v[j * planes + p] the per-plane values of scale
// j (cs for j < scales - 1, SSIM at the last), clamped at zero (relu, as pytorch-msssim); per
// channel P_c = prod_j relu(v_j)^w_j; MS = mean_c P_c. factors (if non-null) get
// dMS/dv_j * valueScale = valueScale * w_j P_c / (C v_j), 0 where v_j <= 0 (a clamped term: the
// gradient through it is 0, and P_c = 0 makes every other factor of the channel 0). NaN
// propagates. Returns valueOffset + valueScale * MS.
#if defined(__CUDACC__)
__host__ __device__
#endif
inline float combineMsssimImage(int b, int channels, int planes, int scales, const float* weights, const float* v,
                                float* factors, float valueOffset, float valueScale) {
  double ms = 0.0;
  for (int c = 0; c < channels; ++c) {
    const int p = b * channels + c;
    double prod = 1.0;
    for (int j = 0; j < scales; ++j) {
      const double vj = double(v[j * planes + p]);
      const double r = vj < 0.0 ? 0.0 : vj;  // NaN stays NaN
      prod *= r == 1.0 ? 1.0 : pow(r, double(weights[j]));
    }
    ms += prod;
    if (factors != nullptr) {
      for (int j = 0; j < scales; ++j) {
        const double vj = double(v[j * planes + p]);
        double f = 0.0;
        if (vj > 0.0) f = double(valueScale) * double(weights[j]) * prod / (double(channels) * vj);
        else if (!(vj <= 0.0)) f = vj;  // NaN
        factors[j * planes + p] = float(f);
      }
    }
  }
  return float(double(valueOffset) + double(valueScale) * (ms / double(channels)));
}

// The order of a call. Ops (a backend):
//   planarize(xDst, yDst): scale-0 intensities of interleaved x, y into planar float32 (hwc only);
//   pyramid(xSrc, ySrc, srcDtype, srcScale, from): scale `from` (typed planar, times srcScale)
//     pooled into scales from+1..scales-1 (float32 planar at L.x[j], L.y[j]);
//   ssim(SsimJob, phase): the SSIM path (values and gradient of each plane's mean map); phase
//     kForward (scale 0 with foldsScaleZero): the gradient is finished by ssimBackwardFolded;
//   ssimPooling(SsimJob, phase, j): scale j's ssim() that also writes scale j + 1 (L.x[j + 1],
//     L.y[j + 1]) as it reads scale j, where the backend can (the CUDA forward, for float32
//     planar inputs it computes whole: cuda/gpu/ssim_kernels.cuh, "Pooling"); false: nothing was
//     done;
//   poolsAtCoarseScale(j): whether coarse scale j (>= 1) should pool scale j + 1 that way too,
//     instead of the pyramid (the CUDA backend: where scale j alone fills the GPU);
//   foldsScaleZero(): whether the backend finishes a planar gradient in scale 0's SSIM backward
//     (ssimBackwardFolded) instead of accumulate()'s scale-0 step;
//   ssimBackwardFolded(SsimJob, up, mult): after ssim(job, kForward) and combine: the gradient of
//     scale 0 into in.grad as mult (f_0 g + 1/4 pool^T(up)), up = dst[1] accumulated (null with
//     one scale), f_0 the factors of scale 0;
//   forkCoarse(), endCoarse(), joinCoarse(): the operations between forkCoarse and endCoarse (the
//     coarse scales) depend on scale 0's input only, so a backend may run them beside scale 0's
//     SSIM, which comes next; joinCoarse: both are done;
//   combine(vals, factors): out and the factors (combineMsssimImage for each image);
//   accumulate(g, dst, dstHwc, mult, bottom): the gradient's way back, for j = scales-1 down to 1
//     (and 0 if `bottom`): dst[j] = mult_j (f_j[p] g[j] + 1/4 pool^T(dst[j + 1])) (no second term
//     at the last scale), mult_0 = mult, else 1; dst[j] planar (may be g[j]), or x's interleaved
//     layout at scale 0 (dstHwc).
// ops.scratchAt(offset): the backend's scratch at a float offset of L.

// Whether scale 0's SSIM call runs whole, or its forward alone (ssimBackwardFolded follows).
enum class ScalePhase { kWhole, kForward };

template <typename Ops>
void composeMsssim(const MsssimJob& job, const MsssimLayout& L, Ops& ops) {
  const SsimJob& in = job.core;
  const ImageShape& s = in.shape;
  const bool planar = s.chw || s.channels == 1;
  const bool gradient = in.grad != nullptr;
  float* vals = ops.scratchAt(L.vals);
  float* factors = gradient ? ops.scratchAt(L.factors) : nullptr;
  float* g[kMaxScales] = {};
  for (int j = 0; j < L.scales && gradient; ++j) g[j] = j == 0 && planar ? in.grad : ops.scratchAt(L.g[j]);

  const void* xs = in.x;
  const void* ys = in.y;
  DType dt = in.dtype;
  float scale = in.params.inputScale;
  if (!planar) {
    ops.planarize(ops.scratchAt(L.x[0]), ops.scratchAt(L.y[0]));
    xs = ops.scratchAt(L.x[0]);
    ys = ops.scratchAt(L.y[0]);
    dt = DType::F32;
    scale = 1.0f;
  }
  auto scaleJob = [&](int j, const void* x, const void* y, DType type, float inputScale) {
    SsimJob sj;
    sj.shape = ImageShape{L.planes, 1, L.h[j], L.w[j], true};
    sj.dtype = type;
    sj.x = x;
    sj.y = y;
    sj.params = in.params;
    sj.params.inputScale = inputScale;
    if (j + 1 < L.scales) sj.params.c1 = kContrastStructureC1;
    sj.params.valueOffset = 0.0f;
    sj.params.valueScale = 1.0f;
    sj.params.gradFactor = 1.0f;
    sj.out = vals + std::size_t(j) * std::size_t(L.planes);
    sj.grad = g[j];
    return sj;
  };
  const SsimJob scale0 = scaleJob(0, xs, ys, dt, scale);
  // Scale 0's gradient finished in its own backward, after the combination (planar only: the
  // backward writes x's layout, the accumulation's dst is planar at scale 0 then).
  const bool fold = gradient && planar && ops.foldsScaleZero();
  const ScalePhase phase0 = fold ? ScalePhase::kForward : ScalePhase::kWhole;
  auto coarseJob = [&](int j) { return scaleJob(j, ops.scratchAt(L.x[j]), ops.scratchAt(L.y[j]), DType::F32, 1.0f); };
  auto coarseScales = [&](int first) {
    for (int j = first; j < L.scales; ++j) ops.ssim(coarseJob(j), ScalePhase::kWhole);
  };
  if (L.scales > 1 && ops.ssimPooling(scale0, phase0, 0)) {
    // Scale 0 read x and y once for its SSIM and scale 1: the coarse scales follow it, scale 1
    // pooling scale 2 likewise where the backend prefers.
    ops.forkCoarse();
    int from = 1;
    if (L.scales > 2 && ops.poolsAtCoarseScale(1) && ops.ssimPooling(coarseJob(1), ScalePhase::kWhole, 1)) from = 2;
    ops.pyramid(ops.scratchAt(L.x[from]), ops.scratchAt(L.y[from]), DType::F32, 1.0f, from);
    coarseScales(from);
    ops.endCoarse();
  } else {
    // The coarse scales beside scale 0's SSIM.
    ops.forkCoarse();
    if (L.scales > 1) ops.pyramid(xs, ys, dt, scale, 0);
    coarseScales(1);
    ops.endCoarse();
    ops.ssim(scale0, phase0);
  }
  ops.joinCoarse();
  ops.combine(vals, factors);
  if (!gradient) return;
  float* dst[kMaxScales] = {};
  for (int j = 0; j < L.scales; ++j) dst[j] = j == 0 ? in.grad : g[j];
  const float mult = float(double(in.params.gradFactor));  // valueScale is in the factors
  ops.accumulate(g, dst, !planar, mult, !fold);
  if (fold) ops.ssimBackwardFolded(scale0, L.scales > 1 ? dst[1] : nullptr, mult);
}

}  // namespace cudassim
