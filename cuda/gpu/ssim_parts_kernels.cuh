// Several SSIM problems in one launch (ssim_cuda.cu, launchSsimParts): MS-SSIM's small coarse
// scales, whose launches would each cost more in fixed time (a launch, a short grid's ramp, the
// round trips of its set-up and of the per-image sums) than in work (docs/PERFORMANCE.md,
// "MS-SSIM", ms-v9). Part k takes blocks [end[k - 1], end[k]) of the grid and runs the forward
// or backward kernel's code on its own arguments, its blocks numbered from 0 (PartGrid). The
// parts are selected by compile-time indices (an unrolled loop), so each reads its arguments
// from the parameter space as the single-problem kernels do: no run-time index into the
// parameters (which would copy them to local memory, ms-v2).
#pragma once

#include "ssim_kernels.cuh"

namespace cudassim {
namespace kernels {

constexpr int kMaxParts = 4;

// Parts [0, count) of a launch; end[k]: the blocks of parts 0..k (the grid is end[count - 1]).
template <typename Args>
struct PartsArgs {
  Args part[kMaxParts];
  unsigned end[kMaxParts];
  int count;
};

// Float32 inputs (MS-SSIM's coarse scales are float32 planar), one reciprocal mode for all parts.
// It may be launched early (launchSsimParts): it lets the next kernel launch early too, then
// waits for the kernel ahead of it, which may have written its inputs (MS-SSIM's pyramid), before
// anything else. (The wait returns at once after an ordinary launch.)
template <Reciprocal M>
__global__ void __launch_bounds__(kThreads, kForwardMinBlocks) ssimForwardPartsKernel(const PartsArgs<ForwardArgs> p) {
  allowNextLaunch();
#ifndef SSIM_TEST_BREAK_WAIT_FIRST  // test only: kernel_check --parts must fail without the wait
  waitForPreviousLaunch();
#endif
  unsigned begin = 0;
#pragma unroll
  for (int k = 0; k < kMaxParts; ++k) {
    if (k < p.count && blockIdx.x >= begin && blockIdx.x < p.end[k]) {
      forwardRanges<float, M>(p.part[k], PartGrid{blockIdx.x - begin, p.end[k] - begin});
      return;
    }
    begin = p.end[k];
  }
}

__global__ void __launch_bounds__(kThreads, kBackwardMinBlocks) ssimBackwardPartsKernel(const PartsArgs<BackwardArgs> p) {
  unsigned begin = 0;
#pragma unroll
  for (int k = 0; k < kMaxParts; ++k) {
    if (k < p.count && blockIdx.x >= begin && blockIdx.x < p.end[k]) {
      backwardRanges<float>(p.part[k], PartGrid{blockIdx.x - begin, p.end[k] - begin});
      return;
    }
    begin = p.end[k];
  }
}

}  // namespace kernels
}  // namespace cudassim
