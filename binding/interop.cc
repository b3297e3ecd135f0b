// Views of other libraries' device memory and calls on their streams (interop.h).
#include "interop.h"

#include <string>

#include "errors.h"

namespace cudassim {

CallerStream jobStream(const Napi::Value& v) {
  CallerStream s;
  if (v.IsNull() || v.IsUndefined()) return s;
  if (!v.IsBigInt()) internalError("job.stream is not a bigint");
  bool lossless = false;
  s.handle = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) internalError("job.stream out of range");
  s.given = true;
  return s;
}

#if CUDA_SSIM_WITH_CUDA

void requireDeviceMemory(void* ptr, int device) {
  cudaPointerAttributes attr{};
  const cudaError_t status = cudaPointerGetAttributes(&attr, ptr);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw CodedError("ERR_SSIM_INVALID_ARGUMENT",
                     std::string("Expected a CUDA device address for address but the CUDA runtime does not know it (") +
                         cudaGetErrorName(status) + ")", ErrorKind::TypeError);
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) {
    throw CodedError("ERR_SSIM_INVALID_ARGUMENT",
                     std::string("Expected device memory (cudaMalloc, cudaMallocAsync, cudaMallocManaged) for address but it is ") +
                         (attr.type == cudaMemoryTypeHost ? "pinned host memory" : "not CUDA memory"),
                     ErrorKind::TypeError);
  }
  if (attr.type == cudaMemoryTypeDevice && attr.device != device) {
    throw CodedError("ERR_SSIM_BACKEND", "Expected memory of device " + std::to_string(device) + " (opts.device) for address but it belongs to device " +
                                             std::to_string(attr.device));
  }
}

cudaStream_t callerStream(const CallerStream& s, int device) {
  if (!s.given) return nullptr;
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(static_cast<std::uintptr_t>(s.handle));
#if CUDART_VERSION >= 12080
  // 0, 1, 2: the legacy and per-thread default streams, which follow the current device.
  // A capturing stream (a caller recording a CUDA graph) refuses cudaStreamGetDevice in the global
  // capture mode, and the refusal invalidates the capture: cudaStreamIsCapturing is legal on it, and
  // a capturing stream's device is not checked.
  if (s.handle > 2) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    int streamDevice = device;
    cudaError_t status = cudaStreamIsCapturing(stream, &capture);
    if (status == cudaSuccess && capture == cudaStreamCaptureStatusNone) status = cudaStreamGetDevice(stream, &streamDevice);
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw CodedError("ERR_SSIM_INVALID_ARGUMENT", std::string("Expected a live CUDA stream for opts.stream (") + cudaGetErrorName(status) + ")",
                       ErrorKind::TypeError);
    }
    if (streamDevice != device) {
      throw CodedError("ERR_SSIM_BACKEND", "Expected a stream of device " + std::to_string(device) + " (where the call runs) for opts.stream but it belongs to device " +
                                               std::to_string(streamDevice));
    }
  }
#else
  (void)device;
#endif
  return stream;
}

#endif

Napi::Value DefaultStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
#if CUDA_SSIM_WITH_CUDA
    const int device = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    DeviceContext& ctx = deviceContext(device);
    return Napi::BigInt::New(env, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ctx.stream)));
#else
    throwBuiltWithoutCuda();
#endif
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  }
}

}  // namespace cudassim
