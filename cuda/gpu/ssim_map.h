// The per-pixel SSIM map on the GPU (common/ssim_types.h, mapElems, says what it holds; the
// host version is computeSsimMapCpu in cpu/ssim_cpu.h). Only compiled when nvcc is found.
#pragma once

#include <cuda_runtime_api.h>

#include "common/ssim_types.h"

namespace cudassim {

// Enqueues the map kernel on `stream` (one thread per map pixel, looping over the channels and the
// window; correctness over speed). job.x, job.y and map are device pointers.
cudaError_t launchSsimMap(const SsimJob& job, float* map, cudaStream_t stream);

}  // namespace cudassim
