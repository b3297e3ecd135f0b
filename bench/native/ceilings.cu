// The two hardware ceilings the benchmark divides by (docs/PERFORMANCE.md, "Protocol"), measured
// on the device the benchmark runs on: a standalone program, built next to the addon only for
// the benchmark (CMake option CUDA_SSIM_BENCH; bench/run.js builds and runs it). The addon that
// ships in the package does not carry it.
//
//   cuda_ssim_ceilings [DEVICE]   prints {"copyBytesPerSecond": ..., "fp32FlopsPerSecond": ...}
//
// copyBytesPerSecond: device-to-device copy, bytes read + bytes written per second;
// fp32FlopsPerSecond: register-only FMA chains over all SMs, 2 flops per FMA;
// pinnedH2DBytesPerSecond / pinnedD2HBytesPerSecond: 256 MiB copies between page-locked host
// memory and the device, the bus's ceiling for host-array calls.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Ceilings {
  double copyBytesPerSecond;
  double fp32FlopsPerSecond;
  double pinnedH2DBytesPerSecond;
  double pinnedD2HBytesPerSecond;
};

constexpr int kChains = 8;        // independent FMA chains per thread hide the FMA latency
constexpr int kIterations = 4096;

__global__ void fmaKernel(float* sink, float a, float b) {
  float v[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) v[c] = threadIdx.x * 1e-7f + c;
  for (int i = 0; i < kIterations; ++i) {
#pragma unroll
    for (int c = 0; c < kChains; ++c) v[c] = fmaf(v[c], a, b);
  }
  float s = 0.0f;
#pragma unroll
  for (int c = 0; c < kChains; ++c) s += v[c];
  if (s == 12345.0f) sink[0] = s;  // keeps the chains alive without a store per thread
}

float medianOf(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

cudaError_t measureCeilings(int device, Ceilings* result) {
#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) return e_; } while (0)
  CHECK(cudaSetDevice(device));
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, device));
  const std::size_t bytes = std::size_t(1) << 30;  // 1 GiB each way: far beyond L2
  void *a = nullptr, *b = nullptr;
  CHECK(cudaMalloc(&a, bytes));
  cudaError_t status = cudaMalloc(&b, bytes);
  if (status != cudaSuccess) { cudaFree(a); return status; }
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0);
  cudaEventCreate(&t1);
  std::vector<float> copyMs, fmaMs;
  cudaMemset(a, 1, bytes);
  for (int rep = 0; rep < 12; ++rep) {
    cudaEventRecord(t0);
    cudaMemcpyAsync(rep % 2 ? a : b, rep % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float ms = 0;
    cudaEventElapsedTime(&ms, t0, t1);
    if (rep >= 2) copyMs.push_back(ms);
  }
  const int threads = 256;
  const int blocks = prop.multiProcessorCount * 8;
  for (int rep = 0; rep < 12; ++rep) {
    cudaEventRecord(t0);
    fmaKernel<<<blocks, threads>>>(static_cast<float*>(a), 0.999f, 1e-3f);
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float ms = 0;
    cudaEventElapsedTime(&ms, t0, t1);
    if (rep >= 2) fmaMs.push_back(ms);
  }
  // The bus: page-locked host memory to and from the device.
  const std::size_t busBytes = std::size_t(256) << 20;
  void* pinned = nullptr;
  std::vector<float> h2dMs, d2hMs;
  if (cudaHostAlloc(&pinned, busBytes, cudaHostAllocDefault) == cudaSuccess) {
    std::memset(pinned, 1, busBytes);
    for (int rep = 0; rep < 8; ++rep) {
      for (int dir = 0; dir < 2; ++dir) {
        cudaEventRecord(t0);
        if (dir == 0) cudaMemcpyAsync(a, pinned, busBytes, cudaMemcpyHostToDevice);
        else cudaMemcpyAsync(pinned, a, busBytes, cudaMemcpyDeviceToHost);
        cudaEventRecord(t1);
        cudaEventSynchronize(t1);
        float ms = 0;
        cudaEventElapsedTime(&ms, t0, t1);
        if (rep >= 2) (dir == 0 ? h2dMs : d2hMs).push_back(ms);
      }
    }
    cudaFreeHost(pinned);
  }
  status = cudaGetLastError();
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  cudaFree(a);
  cudaFree(b);
  if (status != cudaSuccess) return status;
  result->copyBytesPerSecond = 2.0 * double(bytes) / (medianOf(copyMs) * 1e-3);
  const double flops = 2.0 * double(blocks) * threads * kIterations * kChains;
  result->fp32FlopsPerSecond = flops / (medianOf(fmaMs) * 1e-3);
  result->pinnedH2DBytesPerSecond = h2dMs.empty() ? 0 : double(busBytes) / (medianOf(h2dMs) * 1e-3);
  result->pinnedD2HBytesPerSecond = d2hMs.empty() ? 0 : double(busBytes) / (medianOf(d2hMs) * 1e-3);
  return cudaSuccess;
#undef CHECK
}

}  // namespace

int main(int argc, char** argv) {
  const int device = argc > 1 ? std::atoi(argv[1]) : 0;
  Ceilings c{};
  const cudaError_t status = measureCeilings(device, &c);
  if (status != cudaSuccess) {
    std::fprintf(stderr, "cuda_ssim_ceilings: %s (%s)\n", cudaGetErrorName(status), cudaGetErrorString(status));
    return 1;
  }
  std::printf("{\"copyBytesPerSecond\": %.17g, \"fp32FlopsPerSecond\": %.17g, \"pinnedH2DBytesPerSecond\": %.17g, "
              "\"pinnedD2HBytesPerSecond\": %.17g}\n",
              c.copyBytesPerSecond, c.fp32FlopsPerSecond, c.pinnedH2DBytesPerSecond, c.pinnedD2HBytesPerSecond);
  return 0;
}
