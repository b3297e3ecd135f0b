// A float32 gradient rounded into half precision on the GPU (the gradient in the input's dtype,
// gradientDtype 'input'); common/half_types.h holds the rounding, shared with the CPU path.
// Only compiled when nvcc is found.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace cudassim {

// Enqueues dst[i] = round(src[i]) for i < n (bfloat16 when `bf16`, else binary16; nearest even).
// src and dst are device pointers; dst may not overlap src.
cudaError_t launchRoundToHalf(const float* src, std::uint16_t* dst, std::size_t n, bool bf16, cudaStream_t stream);

}  // namespace cudassim
