// MS-SSIM's combination on the device: the per-plane values of every scale into each image's
// value (and the gradient's factors). Run by the combination kernel (msssim_cuda.cu, a block per
// image) or, for a value call of one image, by the last block of the coarse scales' launch that
// completes its values (ssim_parts_kernels.cuh, "Folded combination").
#pragma once

#include "common/msssim.h"

namespace cudassim {
namespace kernels {

// The most terms (channels x scales) of a combination folded into the coarse scales' launch: a
// warp's, a term per thread.
constexpr int kFoldedTerms = 32;

// combineMsssimImage's arithmetic (common/msssim.h) for image b, with one thread per (channel,
// scale) term (a double pow each, which one thread would run one after another) and the same
// products in the same order, so the value is the host's bit for bit. kN threads (this one: k)
// share term[kN] and prod[kN] and their barrier `sync`; more terms than threads: thread 0 runs
// combineMsssimImage. The values are read from L2 (__ldcg): a folded combination reads values
// that other multiprocessors wrote during its own launch.
template <int kN, typename Sync>
__device__ __forceinline__ void combineImage(const MsssimCombination& c, int b, int k, double* term, double* prod,
                                             Sync sync) {
  const int planes = c.planes, channels = c.channels, scales = c.scales, terms = channels * scales;
  if (terms > kN) {
    if (k == 0) {
      const float v = combineMsssimImage(b, channels, planes, scales, c.weights, c.vals, c.factors, c.valueOffset,
                                         c.valueScale);
      if (c.out != nullptr) c.out[b] = v;
    }
    return;
  }
  const int ch = k / scales, j = k % scales, p = b * channels + ch;
  double vj = 0.0;
  if (k < terms) {
    vj = double(__ldcg(c.vals + j * planes + p));
    const double r = vj < 0.0 ? 0.0 : vj;  // NaN stays NaN
    term[k] = r == 1.0 ? 1.0 : pow(r, double(c.weights[j]));
  }
  sync();
  if (k < channels) {
    double q = 1.0;
    for (int i = 0; i < scales; ++i) q *= term[k * scales + i];
    prod[k] = q;
  }
  sync();
  if (c.factors != nullptr && k < terms) {
    double f = 0.0;
    if (vj > 0.0) f = double(c.valueScale) * double(c.weights[j]) * prod[ch] / (double(channels) * vj);
    else if (!(vj <= 0.0)) f = vj;  // NaN
    c.factors[j * planes + p] = float(f);
  }
  if (k == 0 && c.out != nullptr) {
    double ms = 0.0;
    for (int i = 0; i < channels; ++i) ms += prod[i];
    c.out[b] = float(double(c.valueOffset) + double(c.valueScale) * (ms / double(channels)));
  }
}

}  // namespace kernels
}  // namespace cudassim
