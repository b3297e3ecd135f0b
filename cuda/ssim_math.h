// Per-pixel SSIM formulas shared, line for line, by the CUDA kernels and the CPU path, so
// that CI (no GPU) exercises the same arithmetic the GPU runs. Derivation: cuda/MATH.md.
#pragma once

#include <cmath>

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
    w[k] = std::exp(-double(k * k) / (2.0 * sigma * sigma));
    sum += (k == 0 ? 1.0 : 2.0) * w[k];
  }
  for (int k = 0; k <= kMaxRadius; ++k) taps[k] = k <= radius ? float(w[k] / sum) : 0.0f;
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

// The four terms of S = (A1 A2) / (B1 B2) at one pixel, a2 and b2 times q = termScale<M>().
struct SsimTerms {
  float a1, a2, b1, b2;
};

// From the means, the summed variance s_xx + s_yy (unclamped) and E[xy]; c2q = q C2. With
// p = mx my (rounded once):
//   A1 = 2p + C1,   B1 = mx^2 + my^2 + C1 = A1 + (mx - my)^2,
//   s_xx + s_yy = (E[x^2] + E[y^2] - 2p) - (mx - my)^2,   s_xy = E[xy] - p.
// When x == y: mx - my = 0 and E[x^2] + E[y^2] = 2 E[xy] exactly, so B1 = A1 and
// s_xx + s_yy = 2 s_xy bit for bit, hence A2 = B2 and S = 1 (up to the reciprocal's ulp).
template <Reciprocal M>
SSIM_HD SsimTerms ssimTermsFromSum(float mx, float my, float sumSq, float exy, float c1, float c2q) {
  constexpr float q = termScale<M>();
  const float p = mulRounded(mx, my);
  const float dm = mx - my;
  const float sumVar = clampBelowAtZero(mulAdd(-dm, dm, mulAdd(-2.0f, p, sumSq)));
  // Cauchy-Schwarz bounds the covariance by (sxx + syy) / 2. Rounding can break that where a
  // variance was clamped (flat windows): then A2 > B2 and ssim(x, x) drifts below 1.
  const float sxy = clampToBound(exy - p, 0.5f * sumVar);
  SsimTerms t;
  t.a1 = mulAdd(2.0f, p, c1);
  t.a2 = mulAdd(2.0f * q, sxy, c2q);
  t.b1 = mulAdd(dm, dm, t.a1);
  t.b2 = mulAdd(q, sumVar, c2q);
  return t;
}

template <Reciprocal M>
SSIM_HD SsimTerms ssimTerms(const Moments4& m, float c1, float c2q) {
  return ssimTermsFromSum<M>(m.mx, m.my, m.ss, m.xy, c1, c2q);
}

// Five moments: the same arithmetic on E[x^2] + E[y^2] (summed after filtering, so ssim(x, x)
// stays exact: E[x^2] == E[y^2] == E[xy] there).
template <Reciprocal M>
SSIM_HD SsimTerms ssimTerms(const Moments& m, float c1, float c2q) {
  return ssimTermsFromSum<M>(m.mx, m.my, m.xx + m.yy, m.xy, c1, c2q);
}

// S from its terms: one reciprocal, no division (the GPU's is approximate: 1 ulp); q cancels.
template <Reciprocal M>
SSIM_HD float ssimFromTerms(const SsimTerms& t) {
  return clampAboveAtOne((t.a1 * t.a2) * reciprocal<M>(t.b1 * t.b2));
}

// With inv = 1 / (q B1 B2):  S = a1 a2 inv,  dS/dE[x] = 2q inv (my (A2 - A1) - mx S (B2 - B1)),
// dS/dE[x^2] = -S / B2 = -q S (b1 inv),  dS/dE[xy] = 2q a1 inv  (A2 = a2 / q, B2 = b2 / q).
template <Reciprocal M>
SSIM_HD PixelSsim partialsFromTerms(const SsimTerms& t, float mx, float my) {
  constexpr float q = termScale<M>();
  const float inv = reciprocal<M>(t.b1 * t.b2);
  const float s = t.a1 * t.a2 * inv;
  PixelSsim r;
  r.s = clampAboveAtOne(s);
  r.alpha = (2.0f * q) * inv * (my * mulAdd(t.a2, 1.0f / q, -t.a1) - mx * s * mulAdd(t.b2, 1.0f / q, -t.b1));
  r.beta = (-q * s) * (t.b1 * inv);
  r.gamma = (2.0f * q) * t.a1 * inv;
  return r;
}

// c2q = termScale<M>() * C2 (C2 itself for the CPU and Reciprocal::Exact).
template <Reciprocal M = Reciprocal::Exact, typename Mom>
SSIM_HD float pixelSsimValue(const Mom& m, float c1, float c2q) {
  return ssimFromTerms<M>(ssimTerms<M>(m, c1, c2q));
}

template <Reciprocal M = Reciprocal::Exact, typename Mom>
SSIM_HD PixelSsim pixelSsimWithPartials(const Mom& m, float c1, float c2q) {
  return partialsFromTerms<M>(ssimTerms<M>(m, c1, c2q), m.mx, m.my);
}

// Gradient at one pixel from the Gaussian-blurred partial maps (G*alpha, G*beta, G*gamma),
// the pixel's own intensities and the factor d(reported value)/d(mean map).
SSIM_HD float pixelGradient(float gAlpha, float gBeta, float gGamma, float x, float y, float scale) {
  return scale * (gAlpha + 2.0f * x * gBeta + y * gGamma);
}

}  // namespace cudassim
