// The CUDA path: launches the fused kernels on a stream. Only compiled when nvcc is found.
#pragma once

#include <cuda_runtime_api.h>

#include "common/ssim_types.h"

namespace cudassim {

// Device scratch a call needs. Layout (cuda/gpu/ssim_cuda.cu): a reduction state of 16 bytes per
// image for `images` images (zeroed once, when the workspace is made, and left zeroed by
// every completed launch), then, when `gradient`, three float planes of `elements` each.
std::size_t workspaceBytes(int images, std::size_t elements, bool gradient);

// Enqueues the whole call on `stream`: one launch for a value, two for a gradient. No
// allocation, memset, copy or host synchronisation. x, y, out and grad are device pointers.
// `workspace` holds workspaceBytes(wsImages, wsElements, grad != nullptr) bytes or more, with
// job.shape.batch <= wsImages and job.shape.elems() <= wsElements.
// `allowEarly` false: the forward is always launched the ordinary way (MS-SSIM: its inputs are
// written by kernels that the early-launch bookkeeping does not see).
cudaError_t launchSsim(const SsimJob& job, void* workspace, int wsImages, std::size_t wsElements,
                       cudaStream_t stream, bool allowEarly = true);

// Whether this binary holds code that `device` can run (SASS for its architecture, or PTX that the
// driver compiles for it), and the virtual architecture of that code (75 for compute_75 PTX, 90
// for sm_90 SASS...). cudaErrorNoKernelImageForDevice: none. The calling thread's current device
// is left as it was.
cudaError_t kernelImageFor(int device, int* virtualArch);

}  // namespace cudassim
