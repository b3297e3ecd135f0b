// The CUDA path: launches the fused kernels on a stream. Only compiled when nvcc is found.
#pragma once

#include <cuda_runtime_api.h>

#include "common/msssim.h"
#include "common/ssim_types.h"
#include "launch_order.h"

namespace cudassim {

// Device scratch a call needs. Layout (cuda/gpu/ssim_cuda.cu): a reduction state of 16 bytes per
// image for `images` images (zeroed once, when the workspace is made, and left zeroed by
// every completed launch), then, when `gradient`, three float planes of `elements` each.
std::size_t workspaceBytes(int images, std::size_t elements, bool gradient);

// Enqueues the whole call on `stream`: one launch for a value; for a gradient, one (the fused
// kernel: float32 planes it covers well, cuda/gpu/ssim_fused_kernel.cuh) or two (forward with
// partial maps in the workspace, then backward). No allocation, memset, copy or host
// synchronisation. x, y, out and grad are device pointers.
// `workspace` holds workspaceBytes(wsImages, wsElements, grad != nullptr) bytes or more, with
// job.shape.batch <= wsImages and job.shape.elems() <= wsElements.
// `allowEarly` false: the forward is always launched the ordinary way (MS-SSIM: its inputs are
// written by kernels that the early-launch bookkeeping does not see).
//
// What MS-SSIM asks of its scale 0's SSIM call (cuda/gpu/msssim_cuda.cu) besides SSIM:
//   poolX, poolY (only where forwardPools(job)): the forward also writes scale 1, the 2 x 2
//     average pooling of x and y (float32 planar, ((height + 1) / 2) x ((width + 1) / 2) per
//     plane, an odd side padded by one zero row / column on both sides), from the values it reads;
//   forwardOnly: the forward alone (job.grad set: its partial maps stay in the workspace);
//   backwardOnly: the backward alone, after a forwardOnly call with the same job and workspace,
//     finishing MS-SSIM's gradient (planar grad): grad = mult (factors[plane] g + 1/4 up[parent]),
//     g the SSIM gradient, up scale 1's accumulated gradient (null: no scale 1), parent as
//     common/msssim_pyramid.h's BottomGeometry::upIndex.
struct MsssimHooks {
  float* poolX = nullptr;
  float* poolY = nullptr;
  bool forwardOnly = false;
  bool backwardOnly = false;
  const float* factors = nullptr;
  const float* up = nullptr;
  float mult = 1.0f;
};
cudaError_t launchSsim(const SsimJob& job, void* workspace, int wsImages, std::size_t wsElements,
                       cudaStream_t stream, bool allowEarly = true, const MsssimHooks* hooks = nullptr);

// The most jobs launchSsimParts takes.
constexpr int kMaxSsimParts = 4;

// launchSsim for `count` (1 to kMaxSsimParts) jobs, in one launch of the forward (and one of the
// backward for gradients) where they allow it: float32 planar inputs, values asked for, a
// gradient for all or none, C1 and C2 in the fast reciprocal's range (ssim_math.h); otherwise
// one launchSsim call (allowEarly false) per job. Job k uses workspaces[k] (wsImages[k],
// wsElements[k]: as launchSsim's). For several small problems, whose launches cost more in fixed
// time than in work (ssim_parts_kernels.cuh). `early`: the one forward may launch before the
// kernel ahead of it in `stream` has finished (it waits for that kernel before it reads its
// inputs, which that kernel may have written); only where that kernel is the last thing enqueued
// on `stream` (no event since) and launchesOverlapOn(stream).
// `fold` (not null): the one forward also combines MS-SSIM's values of one image
// (ssim_parts_kernels.cuh, "Folded combination"); *folded tells whether it did (not where the
// jobs took a launch each: then the caller combines).
cudaError_t launchSsimParts(const SsimJob* jobs, void* const* workspaces, const int* wsImages,
                            const std::size_t* wsElements, int count, cudaStream_t stream, bool early = false,
                            const MsssimFold* fold = nullptr, bool* folded = nullptr);

// Whether kernels launched on `stream` may start before the kernel ahead of them has finished
// (launch_overlap.cuh): a stream of the caller's own (the default ones are shared, so what ran
// last there cannot be told) on a current device of sm_90 or later that runs this binary's sm_90
// code.
bool launchesOverlapOn(cudaStream_t stream);

// MS-SSIM's early scale-0 forward (launch_order.h): the combination of a value-only call records
// what it touches (its values and out) once launched on `stream`; a launch of ours that
// launchSsim and launchSsimParts do not record says so (recordPlainLaunch); and the scale-0
// forward, which reads x and y and writes the pooled scale 1 before it waits, may start early
// (launchSsim's allowEarly) where the combination is the last launch on `stream` and touches
// none of those (followsCombination). All three do nothing, or say no, on the shared default
// streams and devices that do not overlap launches.
void recordCombination(cudaStream_t stream, const Span (&touched)[LaunchOrder::kCombinationSpans]);
void recordPlainLaunch(cudaStream_t stream);
bool followsCombination(cudaStream_t stream, const Span (&touched)[4]);

// Whether launchSsim can pool `job`'s inputs on the current device (ssim_kernels.cuh,
// "Pooling"): float32 planar inputs whose every pixel the forward computes (padding 'same', or a
// gradient), in strips of one plane (planes narrow enough that packing them side by side saves a
// tenth of the strips are packed instead).
bool forwardPools(const SsimJob& job);

// Whether this binary holds code that `device` can run (SASS for its architecture, or PTX that the
// driver compiles for it), and the virtual architecture of that code (75 for compute_75 PTX, 90
// for sm_90 SASS...). cudaErrorNoKernelImageForDevice: none. The calling thread's current device
// is left as it was.
cudaError_t kernelImageFor(int device, int* virtualArch);

}  // namespace cudassim
