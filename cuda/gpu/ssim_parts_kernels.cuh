// Several SSIM problems in one launch (ssim_cuda.cu, launchSsimParts): MS-SSIM's small coarse
// scales, whose launches would each cost more in fixed time (a launch, a short grid's ramp, the
// round trips of its set-up and of the per-image sums) than in work (docs/PERFORMANCE.md,
// "MS-SSIM", ms-v9). Part k takes blocks [end[k - 1], end[k]) of the grid and runs the forward
// or backward kernel's code on its own arguments, its blocks numbered from 0 (PartGrid). The
// parts are selected by compile-time indices (an unrolled loop), so each reads its arguments
// from the parameter space as the single-problem kernels do: no run-time index into the
// parameters (which would copy them to local memory, ms-v2).
#pragma once

#include "msssim_combine.cuh"
#include "ssim_kernels.cuh"

namespace cudassim {
namespace kernels {

constexpr int kMaxParts = 4;

// Folded combination (msssim_cuda.cu, GpuOps::endCoarse). A value call of one image whose coarse
// scales are all parts of this launch has the launch combine the values, instead of a kernel of
// its own behind it (docs/PERFORMANCE.md, ms-v18: that launch and its wait cost more than the
// combination). The thread that writes a coarse scale's value counts it in `count` (workspace,
// zero between launches); the one that brings it to `target` (channels x coarse scales) was
// preceded by every value of the image (each written before a fence and its count; scale 0's
// by a kernel that finished before this one started), so its block's first warp combines them
// and zeroes the count. The blocks then let the next launch in only once their parts' work is
// done (not at their start): after that, the combining block touches the values, out and the
// count alone (GpuOps::combine records them for the next call's early forward, launch_order.h).

// forwardRanges' imageDone for a launch that folds the combination.
struct CountCoarseValue {
  unsigned long long* count;
  unsigned long long target;
  bool* last;
  __device__ void operator()(unsigned) const {
    if (count == nullptr) return;
    __threadfence();  // the value (out[b]) before its count
    if (atomicAdd(count, 1ull) + 1 == target) *last = true;
  }
};

// Parts [0, count) of a launch; end[k]: the blocks of parts 0..k (the grid is end[count - 1]).
template <typename Args>
struct PartsArgs {
  Args part[kMaxParts];
  unsigned end[kMaxParts];
  int count;
};

// Float32 inputs (MS-SSIM's coarse scales are float32 planar), one reciprocal mode for all parts.
// `fold`: the combination it folds (count null: none; __grid_constant__: read in place, as its
// weights are indexed at run time, which would copy a plain parameter to the stack). It may be
// launched early
// (launchSsimParts): it waits for the kernel ahead of it, which may have
// written its inputs (MS-SSIM's pyramid), before anything else (the wait returns at once after an
// ordinary launch), and lets the next kernel launch early: at once (MS-SSIM's combination waits
// first), or after its work where it folds the combination.
template <Reciprocal M>
__global__ void __launch_bounds__(kThreads, kForwardMinBlocks)
    ssimForwardPartsKernel(const PartsArgs<ForwardArgs> p, const __grid_constant__ MsssimFold fold) {
  const bool combines = fold.count != nullptr;
  if (!combines) allowNextLaunch();
#ifndef SSIM_TEST_BREAK_WAIT_FIRST  // test only: kernel_check --parts must fail without the wait
  waitForPreviousLaunch();
#endif
  bool last = false;  // this thread completed the image's values
  unsigned begin = 0;
#pragma unroll
  for (int k = 0; k < kMaxParts; ++k) {
    if (k < p.count && blockIdx.x >= begin && blockIdx.x < p.end[k]) {
      forwardRanges<float, M>(p.part[k], PartGrid{blockIdx.x - begin, p.end[k] - begin},
                              CountCoarseValue{fold.count, fold.target, &last});
      break;
    }
    begin = p.end[k];
  }
  if (!combines) return;
  allowNextLaunch();
  static_assert(kFoldedTerms == 32, "a warp combines");
  __shared__ double term[kFoldedTerms];
  __shared__ double prod[kFoldedTerms];
  if (threadIdx.x < 32 && __any_sync(0xffffffffu, last)) {  // only threads of warp 0 count values
    __threadfence();  // the values counted before ours, then the count's reset after the reads
    combineImage<kFoldedTerms>(fold.c, 0, int(threadIdx.x), term, prod, [] { __syncwarp(); });
    __syncwarp();
    if (threadIdx.x == 0) atomicExch(fold.count, 0ull);
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
