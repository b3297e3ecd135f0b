// Programmatic dependent launch (sm_90+): a kernel launched `early` may start while the kernel
// ahead of it in its stream still runs, once every block of that kernel has called
// allowNextLaunch (or exited). Its blocks then take the multiprocessors the other kernel's last
// blocks leave idle; waitForPreviousLaunch returns once that kernel has finished and its writes
// are visible. Which launches may be early, and what each kernel does before it waits:
// ssim_kernels.cuh ("Overlapping launches") and msssim_cuda.cu. The device calls are no-ops
// before sm_90, where every launch is ordinary (ssim_cuda.cu, launchesOverlapOn).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace cudassim {

__device__ __forceinline__ void allowNextLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void waitForPreviousLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Launches kernel<<<grid, block, dynamicSmem, stream>>>(args...), early if `early`.
template <typename... Params, typename... Args>
cudaError_t launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t dynamicSmem, cudaStream_t stream,
                         bool early, Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = dynamicSmem;
  config.stream = stream;
  cudaLaunchAttribute overlap[1];
  overlap[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  overlap[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = overlap;
  config.numAttrs = early ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace cudassim
