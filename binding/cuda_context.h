// Per-device CUDA state owned by the addon, and the counted wrappers through which every
// device allocation, memset and copy goes (deviceCounters() in JS reads the counts).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#if CUDA_SSIM_WITH_CUDA
#include <cuda_runtime_api.h>

#include "common/ssim_types.h"
#endif

namespace cudassim {

struct DeviceCounters {
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> memsets{0};
  std::atomic<std::uint64_t> copies{0};
  std::atomic<std::int64_t> bytesInUse{0};
  std::atomic<std::int64_t> peakBytesInUse{0};  // since load
  void add(std::int64_t bytes) {
    const std::int64_t now = bytesInUse += bytes;
    std::int64_t peak = peakBytesInUse.load();
    while (now > peak && !peakBytesInUse.compare_exchange_weak(peak, now)) {
    }
  }
};
DeviceCounters& counters();

#if CUDA_SSIM_WITH_CUDA

// Throws CodedError ERR_SSIM_CUDA naming the CUDA error and what was being done.
void checkCuda(cudaError_t status, const char* what);

// One stream per device; `mutex` keeps the launches of one call contiguous on it.
struct DeviceContext {
  std::mutex mutex;
  cudaStream_t stream = nullptr;
};
// Makes `device` current and returns its context (stream created on first use).
DeviceContext& deviceContext(int device);
int deviceCount();  // 0 when CUDA is unusable

void* countedMalloc(std::size_t bytes);                       // cudaMalloc
void countedFree(void* ptr, std::size_t bytes);                // cudaFree (never throws)
void* countedMallocAsync(std::size_t bytes, cudaStream_t s);   // stream-ordered temporaries
void countedFreeAsync(void* ptr, std::size_t bytes, cudaStream_t s);
void countedMemsetAsync(void* ptr, std::size_t bytes, cudaStream_t s);
// Zeroes the reduction states `states` of workspace `ws` (countedMemsetAsync each).
void zeroStates(void* ws, const StateSpans& states, cudaStream_t s);
void countedCopyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t s);

#endif

}  // namespace cudassim
