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
SSIM_HD float clampBelowAtZero(float v) { return v < 0.0f ? 0.0f : v; }
SSIM_HD float clampAboveAtOne(float v) { return v > 1.0f ? 1.0f : v; }

// The four terms of S = (a1 a2) / (b1 b2) at one pixel.
struct SsimTerms {
  float a1, a2, b1, b2;
};

SSIM_HD SsimTerms ssimTerms(const Moments& m, float c1, float c2) {
  const float sxx = clampBelowAtZero(m.xx - m.mx * m.mx);
  const float syy = clampBelowAtZero(m.yy - m.my * m.my);
  const float sxy = m.xy - m.mx * m.my;
  SsimTerms t;
  t.a1 = 2.0f * m.mx * m.my + c1;
  t.a2 = 2.0f * sxy + c2;
  t.b1 = m.mx * m.mx + m.my * m.my + c1;
  t.b2 = sxx + syy + c2;
  return t;
}

SSIM_HD float pixelSsimValue(const Moments& m, float c1, float c2) {
  const SsimTerms t = ssimTerms(m, c1, c2);
  return clampAboveAtOne((t.a1 * t.a2) / (t.b1 * t.b2));
}

SSIM_HD PixelSsim pixelSsimWithPartials(const Moments& m, float c1, float c2) {
  const SsimTerms t = ssimTerms(m, c1, c2);
  const float invB1B2 = 1.0f / (t.b1 * t.b2);
  const float s = t.a1 * t.a2 * invB1B2;
  PixelSsim r;
  r.s = clampAboveAtOne(s);
  r.alpha = 2.0f * invB1B2 * (m.my * (t.a2 - t.a1) - m.mx * s * (t.b2 - t.b1));
  r.beta = -s / t.b2;
  r.gamma = 2.0f * t.a1 * invB1B2;
  return r;
}

// Gradient at one pixel from the Gaussian-blurred partial maps (G*alpha, G*beta, G*gamma),
// the pixel's own intensities and the factor d(reported value)/d(mean map).
SSIM_HD float pixelGradient(float gAlpha, float gBeta, float gGamma, float x, float y, float scale) {
  return scale * (gAlpha + 2.0f * x * gBeta + y * gGamma);
}

}  // namespace cudassim
