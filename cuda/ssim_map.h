// The per-pixel SSIM map (averaged over channels), for heat maps and inspection: a separate,
// simple path next to the optimised value/gradient kernels, sharing ssim_math.h's formulas.
//
// Output: batch maps of mapRegion(shape, params) pixels each (H x W for 'same', (H - 2r) x
// (W - 2r) for 'valid'), row-major, float32; pixel value = mean over channels of the SSIM at
// that pixel. params.valueOffset / valueScale are not applied (the map is always SSIM).
#pragma once

#include <cstddef>

#include "ssim_types.h"

#if defined(CUDA_SSIM_WITH_CUDA) && CUDA_SSIM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace cudassim {

// Floats in the map of a job: batch * mapRegion(...).count().
inline std::size_t mapElems(const SsimJob& job) {
  return std::size_t(job.shape.batch) * mapRegion(job.shape, job.params).count();
}

// Host path: job.x / job.y are host pointers; `map` holds mapElems(job) floats. threads <= 0:
// hardware concurrency. Rows of each map are split among std::thread workers.
void computeSsimMapCpu(const SsimJob& job, float* map, int threads);

#if defined(CUDA_SSIM_WITH_CUDA) && CUDA_SSIM_WITH_CUDA
// Enqueues the map kernel on `stream` (one thread per map pixel, looping over the channels and the
// window; correctness over speed). job.x, job.y and map are device pointers.
cudaError_t launchSsimMap(const SsimJob& job, float* map, cudaStream_t stream);
#endif

}  // namespace cudassim
