#include "cuda_context.h"

#include <memory>
#include <vector>

#include "errors.h"

namespace cudassim {

DeviceCounters& counters() {
  static DeviceCounters c;
  return c;
}

#if CUDA_SSIM_WITH_CUDA

void checkCuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  // Non-sticky errors (a failed allocation, a bad argument) stay recorded and would be reported
  // again by the next launch check; read them out so the next call starts clean.
  cudaGetLastError();
  throw CodedError("ERR_SSIM_CUDA", std::string("CUDA error in ") + what + ": " + cudaGetErrorName(status) +
                                        " (" + cudaGetErrorString(status) + ")");
}

int deviceCount() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error so later calls start clean
      return 0;
    }
    return n;
  }();
  return count;
}

DeviceContext& deviceContext(int device) {
  static std::mutex creation;
  static std::vector<std::unique_ptr<DeviceContext>> contexts;
  const int n = deviceCount();
  if (device < 0 || device >= n) {
    throw CodedError("ERR_SSIM_CUDA_UNAVAILABLE",
                     "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(n) + " found)");
  }
  checkCuda(cudaSetDevice(device), "cudaSetDevice");
  std::lock_guard<std::mutex> lock(creation);
  if (contexts.empty()) contexts.resize(n);
  if (!contexts[device]) {
    auto ctx = std::make_unique<DeviceContext>();
    checkCuda(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    contexts[device] = std::move(ctx);
  }
  return *contexts[device];
}

void* countedMalloc(std::size_t bytes) {
  void* p = nullptr;
  checkCuda(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc");
  counters().allocations++;
  counters().add(std::int64_t(bytes));
  return p;
}

void countedFree(void* ptr, std::size_t bytes) {
  if (!ptr) return;
  cudaFree(ptr);
  counters().frees++;
  counters().add(-std::int64_t(bytes));
}

void* countedMallocAsync(std::size_t bytes, cudaStream_t s) {
  void* p = nullptr;
  checkCuda(cudaMallocAsync(&p, bytes == 0 ? 1 : bytes, s), "cudaMallocAsync");
  counters().allocations++;
  counters().add(std::int64_t(bytes));
  return p;
}

void countedFreeAsync(void* ptr, std::size_t bytes, cudaStream_t s) {
  if (!ptr) return;
  cudaFreeAsync(ptr, s);
  counters().frees++;
  counters().add(-std::int64_t(bytes));
}

void zeroStates(void* ws, const StateSpans& states, cudaStream_t s) {
  for (int i = 0; i < states.count; ++i) countedMemsetAsync(static_cast<char*>(ws) + states.span[i].offset, states.span[i].bytes, s);
}

void countedMemsetAsync(void* ptr, std::size_t bytes, cudaStream_t s) {
  checkCuda(cudaMemsetAsync(ptr, 0, bytes, s), "cudaMemsetAsync");
  counters().memsets++;
}

void countedCopyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
  if (bytes == 0) return;
  checkCuda(cudaMemcpyAsync(dst, src, bytes, kind, s), "cudaMemcpyAsync");
  counters().copies++;
}

#endif

}  // namespace cudassim
