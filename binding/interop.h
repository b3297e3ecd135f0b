// Sharing device memory and streams with other libraries: views of their allocations
// (DeviceArray.fromPointer) and calls enqueued on their CUDA streams (opts.stream).
#pragma once

#include <napi.h>

#include <cstdint>

#include "cuda_context.h"

namespace cudassim {

// A caller's CUDA stream as a job carries it (opts.stream): `given` false means the device's own.
struct CallerStream {
  bool given = false;
  std::uint64_t handle = 0;  // a cudaStream_t; 0 is the legacy default stream
};

// The value of job.stream: null / undefined (not given) or a bigint handle.
CallerStream jobStream(const Napi::Value& v);

#if CUDA_SSIM_WITH_CUDA
// ERR_SSIM_INVALID_ARGUMENT unless `ptr` is device (or managed) memory of `device` as the CUDA
// runtime reports it (cudaPointerGetAttributes). The extent of the allocation is not checked.
void requireDeviceMemory(void* ptr, int device);
// The stream to enqueue on: the caller's (checked to belong to `device` where the runtime can
// tell, CUDA 12.8+) or null for the device's own.
cudaStream_t callerStream(const CallerStream& s, int device);
#endif

// defaultStream(device): the handle of the stream the addon uses on `device`, as a bigint.
Napi::Value DefaultStream(const Napi::CallbackInfo& info);

}  // namespace cudassim
