// The CUDA path of multi-scale SSIM (common/msssim.h): the SSIM launches of every scale plus small
// kernels for pooling, the per-image combination and the gradient's way back across the scales.
#pragma once

#include <cuda_runtime_api.h>

#include "common/msssim.h"

namespace cudassim {

// Device scratch of an MS-SSIM call of `shape` with `scales` scales: an SSIM workspace for
// batch * channels planes of the full size (its reduction state zeroed once, when the workspace
// is made, and left zeroed by every completed launch), then msssimLayout(shape, scales, gradient).
std::size_t msssimWorkspaceBytes(const ImageShape& shape, int scales, bool gradient);

// Enqueues the whole call on `stream` (no allocation, copy or host synchronisation): the SSIM
// path once per scale, the pooling, the combination and the gradient's accumulation kernels.
// `workspace` holds msssimWorkspaceBytes(job.core.shape, job.scales, job.core.grad != nullptr)
// bytes or more (`wsBytes`).
cudaError_t launchMsssim(const MsssimJob& job, void* workspace, std::size_t wsBytes, cudaStream_t stream);

}  // namespace cudassim
