// The CUDA path of multi-scale SSIM (common/msssim.h): the SSIM launches of every scale plus small
// kernels for pooling, the per-image combination and the gradient's way back across the scales.
#pragma once

#include <cuda_runtime_api.h>

#include "common/msssim.h"

namespace cudassim {

// Device scratch of an MS-SSIM call of `shape` with `scales` scales: an SSIM workspace per scale
// (the small coarse scales run at the same time), then msssimLayout(shape, scales, gradient).
std::size_t msssimWorkspaceBytes(const ImageShape& shape, int scales, bool gradient);

// Most SSIM workspaces in an MS-SSIM workspace: one per scale.
constexpr int kMsssimSsimParts = kMaxScales;

// The reduction states of the SSIM workspaces (one per scale), which must be zero when a call
// starts (common/ssim_types.h, StateSpans).
StateSpans msssimStateSpans(const ImageShape& shape, int scales, bool gradient);

// Enqueues the whole call on `stream` (no allocation, copy or host synchronisation): the SSIM
// path once per scale, the pooling pyramid, the combination and the gradient's accumulation.
// The coarse scales (pooling and their SSIM) go to the device's side streams (side_streams.h),
// forked from and joined back to `stream`, unless `stream` is being captured.
// `workspace` holds msssimWorkspaceBytes(job.core.shape, job.scales, job.core.grad != nullptr)
// bytes or more (`wsBytes`).
cudaError_t launchMsssim(const MsssimJob& job, void* workspace, std::size_t wsBytes, cudaStream_t stream);

}  // namespace cudassim
