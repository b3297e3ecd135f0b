// launchRoundToHalf (half_store.h): one grid-stride pass, memory-bound (6 bytes per element).
#include "half_store.h"

#include "common/half_types.h"
#include "ssim_cuda.h"

namespace cudassim {

namespace {

template <bool BF16>
__device__ __forceinline__ std::uint16_t roundOne(float v) {
  return BF16 ? floatToBfloat16Bits(v) : floatToHalfBits(v);
}

template <bool BF16>
__global__ void roundToHalfKernel(const float* __restrict__ src, std::uint16_t* __restrict__ dst, std::size_t n) {
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = roundOne<BF16>(__ldg(src + i));
  }
}

}  // namespace

cudaError_t launchRoundToHalf(const float* src, std::uint16_t* dst, std::size_t n, bool bf16, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (src == nullptr || dst == nullptr) return cudaErrorInvalidValue;
  constexpr int kThreads = 256;
  int device = 0, sms = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) return err;
  const std::size_t wanted = (n + kThreads - 1) / kThreads;
  const std::size_t cap = std::size_t(sms > 0 ? sms : 1) * 8;
  const unsigned blocks = unsigned(wanted < cap ? wanted : cap);
  if (bf16) roundToHalfKernel<true><<<blocks, kThreads, 0, stream>>>(src, dst, n);
  else roundToHalfKernel<false><<<blocks, kThreads, 0, stream>>>(src, dst, n);
  recordPlainLaunch(stream);
  return cudaGetLastError();
}

}  // namespace cudassim
