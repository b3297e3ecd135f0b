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
// The clamps are written as comparisons, not fmaxf/fminf, so that a NaN input stays NaN (fminf
// would turn it into 1: a silent wrong answer) and so that GCC vectorises them without
// -ffinite-math-only.
// CPU: the same value written as (v + |v|) / 2 (exact: 2v halves back to v, v + (-v) is +0;
// NaN stays NaN). As a select, GCC moved arithmetic on its result into the branches and, not
// allowed to speculate float comparisons under -ftrapping-math, left the per-pixel loops of
// ssim_cpu.cpp scalar.
SSIM_HD float clampBelowAtZero(float v) {
#if defined(__CUDA_ARCH__)
  return v < 0.0f ? 0.0f : v;
#else
  return 0.5f * (v + std::fabs(v));
#endif
}
SSIM_HD float clampAboveAtOne(float v) { return v > 1.0f ? 1.0f : v; }

// a * b rounded on its own: the compiler must not fuse it into a neighbouring add (nvcc
// contracts by default; the x86 builds of the CPU path have no FMA to contract into).
SSIM_HD float mulRounded(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// 1 / v. GPU: the approximate reciprocal (rcp.approx.f32: 1 ulp, full range including
// subnormals, one MUFU instruction, no slow path); CPU: the IEEE division.
SSIM_HD float reciprocal(float v) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("rcp.approx.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
#else
  return 1.0f / v;
#endif
}

// The four terms of S = (a1 a2) / (b1 b2) at one pixel.
struct SsimTerms {
  float a1, a2, b1, b2;
};

// From the means, the summed variance s_xx + s_yy (unclamped) and E[xy]. With p = mx my
// (rounded once):
//   A1 = 2p + C1,   B1 = mx^2 + my^2 + C1 = A1 + (mx - my)^2,
//   s_xx + s_yy = (E[x^2] + E[y^2] - 2p) - (mx - my)^2,   s_xy = E[xy] - p.
// When x == y: mx - my = 0 and E[x^2] + E[y^2] = 2 E[xy] exactly, so B1 = A1 and
// s_xx + s_yy = 2 s_xy bit for bit, hence A2 = B2 and S = 1 (up to the reciprocal's ulp).
SSIM_HD SsimTerms ssimTermsFromSum(float mx, float my, float sumSq, float exy, float c1, float c2) {
  const float p = mulRounded(mx, my);
  const float dm = mx - my;
  const float sumVar = clampBelowAtZero((sumSq - 2.0f * p) - dm * dm);
  // Cauchy-Schwarz bounds the covariance by (sxx + syy) / 2. Rounding can break that where a
  // variance was clamped (flat windows): then A2 > B2 and ssim(x, x) drifts below 1. The bound
  // is written with comparisons, so NaN still propagates; two unconditional selects rather than
  // nested ones, so that GCC (which may not speculate a float comparison under -ftrapping-math)
  // still vectorises the CPU loops.
  const float bound = 0.5f * sumVar;
  const float rawSxy = exy - p;
  const float sxyHi = rawSxy > bound ? bound : rawSxy;
  const float sxy = sxyHi < -bound ? -bound : sxyHi;
  SsimTerms t;
  t.a1 = 2.0f * p + c1;
  t.a2 = 2.0f * sxy + c2;
  t.b1 = t.a1 + dm * dm;
  t.b2 = sumVar + c2;
  return t;
}

SSIM_HD SsimTerms ssimTerms(const Moments4& m, float c1, float c2) {
  return ssimTermsFromSum(m.mx, m.my, m.ss, m.xy, c1, c2);
}

// Five moments: the same arithmetic on E[x^2] + E[y^2] (summed after filtering, so ssim(x, x)
// stays exact: E[x^2] == E[y^2] == E[xy] there).
SSIM_HD SsimTerms ssimTerms(const Moments& m, float c1, float c2) {
  return ssimTermsFromSum(m.mx, m.my, m.xx + m.yy, m.xy, c1, c2);
}

// S from its terms: one reciprocal, no division (the GPU's is approximate: 1 ulp).
SSIM_HD float ssimFromTerms(const SsimTerms& t) {
  return clampAboveAtOne((t.a1 * t.a2) * reciprocal(t.b1 * t.b2));
}

SSIM_HD PixelSsim partialsFromTerms(const SsimTerms& t, float mx, float my) {
  const float invB1B2 = reciprocal(t.b1 * t.b2);
  const float s = t.a1 * t.a2 * invB1B2;
  PixelSsim r;
  r.s = clampAboveAtOne(s);
  r.alpha = 2.0f * invB1B2 * (my * (t.a2 - t.a1) - mx * s * (t.b2 - t.b1));
  r.beta = -s * (t.b1 * invB1B2);  // -S / B2
  r.gamma = 2.0f * t.a1 * invB1B2;
  return r;
}

SSIM_HD float pixelSsimValue(const Moments& m, float c1, float c2) { return ssimFromTerms(ssimTerms(m, c1, c2)); }
SSIM_HD float pixelSsimValue(const Moments4& m, float c1, float c2) { return ssimFromTerms(ssimTerms(m, c1, c2)); }

SSIM_HD PixelSsim pixelSsimWithPartials(const Moments& m, float c1, float c2) {
  return partialsFromTerms(ssimTerms(m, c1, c2), m.mx, m.my);
}
SSIM_HD PixelSsim pixelSsimWithPartials(const Moments4& m, float c1, float c2) {
  return partialsFromTerms(ssimTerms(m, c1, c2), m.mx, m.my);
}

// Gradient at one pixel from the Gaussian-blurred partial maps (G*alpha, G*beta, G*gamma),
// the pixel's own intensities and the factor d(reported value)/d(mean map).
SSIM_HD float pixelGradient(float gAlpha, float gBeta, float gGamma, float x, float y, float scale) {
  return scale * (gAlpha + 2.0f * x * gBeta + y * gGamma);
}

}  // namespace cudassim
