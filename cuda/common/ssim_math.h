// Per-pixel SSIM formulas shared, line for line, by the CUDA kernels and the CPU path, so
// that CI (no GPU) exercises the same arithmetic the GPU runs. Derivation: cuda/common/MATH.md.
#pragma once

#include <cmath>
#include <type_traits>

#include "ssim_types.h"

#if defined(__CUDACC__)
#define SSIM_HD __host__ __device__ __forceinline__
#else
#define SSIM_HD inline
#endif

namespace cudassim {

// Normalised Gaussian taps for a window of 2*radius+1, computed in double and rounded once.
inline void gaussianTaps(int radius, double sigma, float taps[kMaxRadius + 1]) {
  double w[kMaxRadius + 1] = {};
  double sum = 0.0;
  for (int k = 0; k <= radius; ++k) {
    const double t = double(k) / sigma;  // (k / sigma)^2: no 0 / 0 when sigma^2 underflows
    w[k] = std::exp(-0.5 * t * t);
    sum += (k == 0 ? 1.0 : 2.0) * w[k];
  }
  for (int k = 0; k <= kMaxRadius; ++k) taps[k] = k <= radius ? float(w[k] / sum) : 0.0f;
}

// Uniform taps for a window of n = 2*radius+1 (scikit-image's default window): 1 / n each, the
// centre tap 1 - 2 radius w (w = float(1 / n); the product and difference in double are exact
// and the result fits in a float, where a float product would round first: window 7), so that
// the taps sum to exactly 1: n copies of w rounded the same way would bias every moment by (n w - 1), which the variances
// E[x^2] - E[x]^2 turn into an error of that size times E[x]^2 (6e-6 on a 512 x 512 photograph).
inline void uniformTaps(int radius, float taps[kMaxRadius + 1]) {
  const float w = float(1.0 / double(2 * radius + 1));
  for (int k = 0; k <= kMaxRadius; ++k) taps[k] = k <= radius ? w : 0.0f;
  taps[0] = float(1.0 - double(2 * radius) * double(w));
}

// The five Gaussian-weighted moments around one pixel.
struct Moments {
  float mx, my;   // E[x], E[y]
  float xx, yy;   // E[x^2], E[y^2]
  float xy;       // E[xy]
};

// The forward of both backends filters four moments instead of five: E[x^2] + E[y^2] as one
// moment (S depends on E[x^2] and E[y^2] only through B2, i.e. through their sum, and
// dS/dE[x^2] = dS/d(sum)). The five-moment form above stays for callers that have E[x^2] and
// E[y^2] separately; it is written in terms of the same ssimTerms() arithmetic.
struct Moments4 {
  float mx, my;   // E[x], E[y]
  float ss;       // E[x^2] + E[y^2]: filter the per-pixel sums x^2 + y^2 (each product and the
                  //   sum rounded separately, so that x == y gives exactly twice E[xy])
  float xy;       // E[xy]
};

// SSIM at one pixel and its partial derivatives with respect to the moments of x:
//   dS/dE[x] = alpha, dS/dE[x^2] = beta, dS/dE[xy] = gamma.
struct PixelSsim {
  float s;
  float alpha, beta, gamma;
};

// Variances are clamped at zero: E[x^2] - E[x]^2 can round below zero in float32, and a
// negative variance would let the map exceed 1. The value is clamped to 1 for the same reason.
// The clamps propagate NaN (fminf would turn a NaN into 1: a silent wrong answer):
// - GPU (sm_80+): max.NaN / min.NaN, one instruction each (a select is two);
// - CPU: comparisons; clampBelowAtZero as (v + |v|) / 2 (exact: 2v halves back to v, v + (-v)
//   is +0; NaN stays NaN). As a select, GCC moved arithmetic on its result into the branches
//   and, not allowed to speculate float comparisons under -ftrapping-math, left the per-pixel
//   loops of ssim_cpu.cpp scalar.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define SSIM_NAN_MINMAX 1
__device__ __forceinline__ float maxNaN(float a, float b) {
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
__device__ __forceinline__ float minNaN(float a, float b) {
  float r;
  asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
#else
#define SSIM_NAN_MINMAX 0
#endif

SSIM_HD float clampBelowAtZero(float v) {
#if SSIM_NAN_MINMAX
  return maxNaN(v, 0.0f);
#elif defined(__CUDA_ARCH__)
  return v < 0.0f ? 0.0f : v;
#else
  return 0.5f * (v + std::fabs(v));
#endif
}
SSIM_HD float clampAboveAtOne(float v) { return v > 1.0f ? 1.0f : v; }

// v clamped to [-bound, bound] (bound >= 0 or NaN). The select form returns v where bound is
// NaN, max.NaN/min.NaN return NaN: both give a NaN pixel, since the variance that made the
// bound NaN also enters B2. Two unconditional selects rather than nested ones, so that GCC
// (which may not speculate a float comparison under -ftrapping-math) still vectorises the
// CPU loops.
SSIM_HD float clampToBound(float v, float bound) {
#if SSIM_NAN_MINMAX
  return maxNaN(minNaN(v, bound), -bound);
#else
  const float hi = v > bound ? bound : v;
  return hi < -bound ? -bound : hi;
#endif
}

// a * b rounded on its own: the compiler must not fuse it into a neighbouring add (nvcc
// contracts by default; the x86 builds of the CPU path have no FMA to contract into).
SSIM_HD float mulRounded(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// a * b + c: one rounding on the GPU (fma), two on the CPU (the x86 builds have no FMA), as
// the compiler would contract it anyway; written out where the order matters for exactness.
SSIM_HD float mulAdd(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return a * b + c;
#endif
}

// How the GPU takes 1 / (B1 B2), the one reciprocal per pixel (the CPU divides):
// - Exact: rcp.approx.f32, 1 ulp over the full range including subnormals; ptxas wraps the
//   MUFU instruction in a range fix-up (2 compares, 2 selects, 2 multiplies);
// - Ftz: rcp.approx.ftz.f32, the bare MUFU instruction: the same result for inputs in
//   [2^-126, 2^126], zero or infinity outside. The terms A2 and B2 are carried multiplied by
//   q = 1/4 (free: it rides in the fma that forms them), so that the reciprocal's input
//   q B1 B2 <= FLT_MAX / 4 < 2^126 stays in range above; below, B1 >= C1 and B2 >= C2, and the
//   host picks Ftz only when C1 C2 >= 2^-122 (fastReciprocalInRange) keeps q B1 B2 >= 2^-126.
// Powers of two scale exactly, so both modes give the same S bit for bit wherever the
// fix-up would not have triggered.
enum class Reciprocal { Exact, Ftz };

template <Reciprocal M>
SSIM_HD constexpr float termScale() {
  return M == Reciprocal::Ftz ? 0.25f : 1.0f;
}

template <Reciprocal M>
SSIM_HD float reciprocal(float v) {
#if defined(__CUDA_ARCH__)
  float r;
  if constexpr (M == Reciprocal::Ftz)
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  else
    asm("rcp.approx.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
#else
  return 1.0f / v;
#endif
}

// Whether Ftz is exact for these constants (C2 >= 2^-124 also keeps q C2 a normal number).
inline bool fastReciprocalInRange(float c1, float c2) {
  return c1 >= 0x1p-124f && c2 >= 0x1p-124f && double(c1) * double(c2) >= 0x1p-122;
}

// Cancellation-free moments (cuda/common/MATH.md, "Shifted moments"): both paths filter x - sx and
// y - sy, where sx, sy are reference intensities of the channel plane (planeReference), so that
// E[x^2] - E[x]^2 cancels only what the window's distance from the reference puts into it, not the
// whole intensity. Variances and the covariance do not change; the means are the filtered shifted
// means plus the shift. Zero padding pads with -shift.
struct Shift {
  float x, y;
};

// A stored value as an intensity (value times inputScale), rounded once: float64 data are
// scaled in float64 first, so that data far outside float32's range still normalise.
template <typename T>
SSIM_HD float toIntensity(T v, float scale) {
  return mulRounded(float(v), scale);
}
SSIM_HD float toIntensity(double v, float scale) { return float(v * double(scale)); }

// The median of three; a NaN operand is passed over (fmin / fmax return the other one).
SSIM_HD float median3(float a, float b, float c) { return fmaxf(fminf(a, b), fminf(fmaxf(a, b), c)); }
SSIM_HD double median3(double a, double b, double c) { return fmax(fmin(a, b), fmin(fmax(a, b), c)); }

// A plane's 3 x 3 grid of sample pixels: rows and columns at 1/6, 1/2 and 5/6 of each side.
// Sample k = 3 i + j lies at row referenceSample(height, i), column referenceSample(width, j).
constexpr int kReferenceSamples = 9;
SSIM_HD int referenceSample(int n, int i) { return int((2LL * i + 1) * n / 6); }
// Element offset of sample k from its plane's first pixel.
SSIM_HD long long referenceOffset(int k, int height, int width, long long rowStride, long long pixStride) {
  return (long long)referenceSample(height, k / 3) * rowStride + (long long)referenceSample(width, k % 3) * pixStride;
}

// The stored values of the samples as compared: double for double data, float otherwise (exact
// for every other dtype).
template <typename T>
using SampleValue = typename std::conditional<std::is_same<T, double>::value, double, float>::type;

// A plane's shift (planeReference below) from its samples' stored values x[k], y[k]: for x and y
// each, Tukey's ninther (the median of the three row medians) as an intensity, times `weight`
// (shiftWeight). A median, not one pixel: the shift should sit where most of the plane's windows
// are, and a few outliers (dark text on a white page, a dead pixel at the centre) must not move it
// (MATH.md, "Shifted moments"). The median is taken before the scaling: toIntensity is monotone,
// so the result is the ninther of the intensities, for one multiply instead of nine.
// x == y gives sx == sy.
template <typename V>
SSIM_HD V ninther(const V (&v)[kReferenceSamples]) {
  return median3(median3(v[0], v[1], v[2]), median3(v[3], v[4], v[5]), median3(v[6], v[7], v[8]));
}
template <typename V>
SSIM_HD Shift planeReference(const V (&x)[kReferenceSamples], const V (&y)[kReferenceSamples], float weight,
                             float scale) {
  if (weight == 0.0f) return Shift{0.0f, 0.0f};  // (not 0 times an infinite sample)
  return Shift{weight * toIntensity(ninther(x), scale), weight * toIntensity(ninther(y), scale)};
}

// planeReference of the plane whose first pixel is x[0], y[0] (height x width pixels, strides
// in elements as ImageShape's). The CUDA kernels take the same samples from offsets the host
// computed once per launch (ForwardArgs::samples).
template <typename T>
SSIM_HD Shift planeShiftOf(const T* x, const T* y, int height, int width, long long rowStride, long long pixStride,
                           float weight, float scale) {
  using V = SampleValue<T>;
  V sx[kReferenceSamples], sy[kReferenceSamples];
  for (int k = 0; k < kReferenceSamples; ++k) {
    const long long off = referenceOffset(k, height, width, rowStride, pixStride);
    sx[k] = V(x[off]);
    sy[k] = V(y[off]);
  }
  return planeReference(sx, sy, weight, scale);
}

// How much of the reference intensities the shift takes: 1, or 0 where every window of a
// 'same' map reaches into the zero padding (an image lower or narrower than the window). There the
// padding gives every window a large variance, so a shift gains nothing, while a shift far from 0
// makes the padding (-shift) the cancelling term (MATH.md, "Shifted moments").
SSIM_HD float shiftWeight(int height, int width, int radius, bool valid) {
  return !valid && (height <= 2 * radius || width <= 2 * radius) ? 0.0f : 1.0f;
}

// The four terms of S = (A1 A2) / (B1 B2) at one pixel, a2 and b2 times q = termScale<M>();
// mx, my: the means (unshifted), needed again by the partials.
struct SsimTerms {
  float a1, a2, b1, b2;
  float mx, my;
};

// From the shifted means (ex, ey: E[x - sx], E[y - sy]), the shifted E[(x-sx)^2 + (y-sy)^2]
// (sumSq) and E[(x-sx)(y-sy)] (exy); c2q = q C2. With p' = ex ey, d' = ex - ey (rounded once):
//   s_xx + s_yy = (sumSq - 2p') - d'^2,   s_xy = exy - p',
// and with the means mx = ex + sx, my = ey + sy, p = mx my, d = mx - my:
//   A1 = 2p + C1,   B1 = mx^2 + my^2 + C1 = A1 + d^2.
// When x == y (so sx == sy): ex == ey and sumSq = 2 exy exactly, so B1 = A1 and
// s_xx + s_yy = 2 s_xy bit for bit, hence A2 = B2 and S = 1 (up to the reciprocal's ulp).
template <Reciprocal M>
SSIM_HD SsimTerms ssimTermsFromSum(float ex, float ey, float sumSq, float exy, Shift sh, float c1, float c2q) {
  constexpr float q = termScale<M>();
  const float ps = mulRounded(ex, ey);
  const float ds = ex - ey;
  const float sumVar = clampBelowAtZero(mulAdd(-ds, ds, mulAdd(-2.0f, ps, sumSq)));
  // Cauchy-Schwarz bounds the covariance by (sxx + syy) / 2. Rounding can break that where a
  // variance was clamped (flat windows): then A2 > B2 and ssim(x, x) drifts below 1.
  const float sxy = clampToBound(exy - ps, 0.5f * sumVar);
  SsimTerms t;
  t.mx = ex + sh.x;
  t.my = ey + sh.y;
  const float p = mulRounded(t.mx, t.my);
  const float dm = t.mx - t.my;
  t.a1 = mulAdd(2.0f, p, c1);
  t.a2 = mulAdd(2.0f * q, sxy, c2q);
  t.b1 = mulAdd(dm, dm, t.a1);
  t.b2 = mulAdd(q, sumVar, c2q);
  return t;
}

template <Reciprocal M>
SSIM_HD SsimTerms ssimTerms(const Moments4& m, Shift sh, float c1, float c2q) {
  return ssimTermsFromSum<M>(m.mx, m.my, m.ss, m.xy, sh, c1, c2q);
}

// Five moments: the same arithmetic on E[x^2] + E[y^2] (summed after filtering, so ssim(x, x)
// stays exact: E[x^2] == E[y^2] == E[xy] there).
template <Reciprocal M>
SSIM_HD SsimTerms ssimTerms(const Moments& m, Shift sh, float c1, float c2q) {
  return ssimTermsFromSum<M>(m.mx, m.my, m.xx + m.yy, m.xy, sh, c1, c2q);
}

// S from its terms: one reciprocal, no division (the GPU's is approximate: 1 ulp); q cancels.
// Exact: two reciprocals, (A1 / B1) (A2 / B2): B1 >= C1 and B2 >= C2 are normal numbers, but
// their product need not be (C1 C2 < 2^-122, e.g. all-zero windows with tiny k1, k2).
template <Reciprocal M>
SSIM_HD float ssimFromTerms(const SsimTerms& t) {
  if constexpr (M == Reciprocal::Exact) return clampAboveAtOne((t.a1 * reciprocal<M>(t.b1)) * (t.a2 * reciprocal<M>(t.b2)));
  return clampAboveAtOne((t.a1 * t.a2) * reciprocal<M>(t.b1 * t.b2));
}

// The partials with respect to the moments of the shifted x (what the backward blurs: its
// gradient formula then takes x - sx too): with inv = 1 / (q B1 B2),
//   S = a1 a2 inv,  beta = dS/dE[x'^2] = -q S b1 inv,  gamma = dS/dE[x'y'] = 2q a1 inv,
//   alpha' = dS/dE[x'] = 2 inv (my a2 - mx S b2) - 2 E[x'] beta - E[y'] gamma
// (alpha of cuda/common/MATH.md with the variance terms taken at the shifted means: for a flat
// window E[x'] = E[y'] = 0 and no large terms cancel, here or in the backward).
template <Reciprocal M>
SSIM_HD PixelSsim partialsFromTerms(const SsimTerms& t, float ex, float ey) {
  if constexpr (M == Reciprocal::Exact) {  // q = 1; no product of B1 and B2 (see ssimFromTerms)
    const float r1 = reciprocal<M>(t.b1), r2 = reciprocal<M>(t.b2);
    const float l1 = t.a1 * r1, l2 = t.a2 * r2;  // A1 / B1, A2 / B2
    const float s = l1 * l2;
    PixelSsim r;
    r.s = clampAboveAtOne(s);
    r.beta = -s * r2;
    r.gamma = 2.0f * l1 * r2;
    const float lead = (2.0f * r1) * mulAdd(t.my, l2, -(t.mx * s));
    r.alpha = mulAdd(-2.0f * ex, r.beta, mulAdd(-ey, r.gamma, lead));
    return r;
  }
  constexpr float q = termScale<M>();
  const float inv = reciprocal<M>(t.b1 * t.b2);
  const float s = t.a1 * t.a2 * inv;
  PixelSsim r;
  r.s = clampAboveAtOne(s);
  r.beta = (-q * s) * (t.b1 * inv);
  r.gamma = (2.0f * q) * t.a1 * inv;
  const float lead = (2.0f * inv) * mulAdd(t.my, t.a2, -(t.mx * s) * t.b2);
  r.alpha = mulAdd(-2.0f * ex, r.beta, mulAdd(-ey, r.gamma, lead));
  return r;
}

// c2q = termScale<M>() * C2 (C2 itself for the CPU and Reciprocal::Exact). m: moments of the
// shifted data; sh: the shift ({0, 0}: plain moments).
template <Reciprocal M = Reciprocal::Exact, typename Mom>
SSIM_HD float pixelSsimValue(const Mom& m, Shift sh, float c1, float c2q) {
  return ssimFromTerms<M>(ssimTerms<M>(m, sh, c1, c2q));
}

template <Reciprocal M = Reciprocal::Exact, typename Mom>
SSIM_HD PixelSsim pixelSsimWithPartials(const Mom& m, Shift sh, float c1, float c2q) {
  return partialsFromTerms<M>(ssimTerms<M>(m, sh, c1, c2q), m.mx, m.my);
}

template <Reciprocal M = Reciprocal::Exact, typename Mom>
SSIM_HD float pixelSsimValue(const Mom& m, float c1, float c2q) {
  return pixelSsimValue<M>(m, Shift{0.0f, 0.0f}, c1, c2q);
}

template <Reciprocal M = Reciprocal::Exact, typename Mom>
SSIM_HD PixelSsim pixelSsimWithPartials(const Mom& m, float c1, float c2q) {
  return pixelSsimWithPartials<M>(m, Shift{0.0f, 0.0f}, c1, c2q);
}

// Gradient at one pixel from the Gaussian-blurred partial maps (G*alpha, G*beta, G*gamma),
// the pixel's own shifted intensities (x - sx, y - sy: the shift of the forward) and the
// factor d(reported value)/d(mean map).
SSIM_HD float pixelGradient(float gAlpha, float gBeta, float gGamma, float x, float y, float scale) {
  return scale * (gAlpha + 2.0f * x * gBeta + y * gGamma);
}

}  // namespace cudassim
