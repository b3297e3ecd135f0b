// The CPU path: the same problem as the kernels, computed with std::thread workers and the
// formulas of ssim_math.h. Used when no GPU is usable, and as the fast reference in tests.
#pragma once

#include "common/ssim_types.h"

namespace cudassim {

// Computes job.out (if non-null) and job.grad (if non-null). threads <= 0: hardware concurrency.
// Throws std::bad_alloc if scratch memory cannot be had; never writes outside out/grad.
void computeSsimCpu(const SsimJob& job, int threads);

namespace detail {
// computeSsimCpu with one value per plane: job.out holds batch * channels floats, plane (b, c)
// at b * channels + c, the mean of its own SSIM map (valueOffset + valueScale * mean); the
// gradient is that of each plane's mean (not divided by the channel count). The bits of plane
// (b, c) are those of computeSsimCpu on that plane alone, in any layout. For MS-SSIM
// (msssim_cpu.cpp): scale 0 runs on the input as it is, interleaved channels included.
void computeSsimCpuPlanes(const SsimJob& job, int threads);
}  // namespace detail

// The per-pixel SSIM map (common/ssim_types.h, mapElems) on the host (ssim_map_cpu.cpp):
// job.x / job.y are host pointers; `map` holds mapElems(job) floats. threads <= 0: hardware
// concurrency. Rows of each map are split among std::thread workers.
void computeSsimMapCpu(const SsimJob& job, float* map, int threads);

}  // namespace cudassim
