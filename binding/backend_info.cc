// backendInfo(), counters() and workspaceBytes(): what the addon can do here.
#include <napi.h>

#include <algorithm>
#include <string>
#include <thread>

#include "cuda_context.h"
#include "entry_points.h"

#include "errors.h"

#if CUDA_SSIM_WITH_CUDA
#include "ceilings.h"
#include "ssim_cuda.h"
#endif

namespace cudassim {

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
  r.Set("cpuThreads", Napi::Number::New(env, std::max(1u, std::thread::hardware_concurrency())));
#if CUDA_SSIM_WITH_CUDA
  r.Set("cudaCompiled", true);
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  r.Set("runtimeVersion", Napi::Number::New(env, runtime));
  r.Set("driverVersion", driver ? Napi::Value(Napi::Number::New(env, driver)) : env.Null());
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    r.Set("cudaAvailable", false);
    r.Set("reason", std::string("cudaGetDeviceCount: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  } else if (count == 0) {
    r.Set("cudaAvailable", false);
    r.Set("reason", "no CUDA device found");
  } else {
    r.Set("cudaAvailable", true);
    r.Set("reason", env.Null());
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp p{};
      if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", i);
      d.Set("name", std::string(p.name));
      d.Set("major", p.major);
      d.Set("minor", p.minor);
      d.Set("totalMemory", Napi::Number::New(env, double(p.totalGlobalMem)));
      d.Set("multiProcessorCount", p.multiProcessorCount);
      devices.Set(devices.Length(), d);
    }
  }
#else
  r.Set("cudaCompiled", false);
  r.Set("cudaAvailable", false);
  r.Set("reason", kBuiltWithoutCuda);
  r.Set("runtimeVersion", env.Null());
  r.Set("driverVersion", env.Null());
#endif
  r.Set("devices", devices);
  return r;
}

Napi::Value Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceCounters& c = counters();
  Napi::Object r = Napi::Object::New(env);
  r.Set("allocations", Napi::Number::New(env, double(c.allocations.load())));
  r.Set("frees", Napi::Number::New(env, double(c.frees.load())));
  r.Set("memsets", Napi::Number::New(env, double(c.memsets.load())));
  r.Set("copies", Napi::Number::New(env, double(c.copies.load())));
  r.Set("bytesInUse", Napi::Number::New(env, double(c.bytesInUse.load())));
  r.Set("peakBytesInUse", Napi::Number::New(env, double(c.peakBytesInUse.load())));
  return r;
}

Napi::Value ResetPeakBytes(const Napi::CallbackInfo& info) {
  DeviceCounters& c = counters();
  c.peakBytesInUse = c.bytesInUse.load();
  return info.Env().Undefined();
}

Napi::Value WorkspaceBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double images = info[0].As<Napi::Number>().DoubleValue();
  const double elements = info[1].As<Napi::Number>().DoubleValue();
  const bool gradient = info[2].ToBoolean();
#if CUDA_SSIM_WITH_CUDA
  return Napi::Number::New(env, double(workspaceBytes(int(images), std::size_t(elements), gradient)));
#else
  (void)images; (void)elements; (void)gradient;
  return Napi::Number::New(env, 0);
#endif
}

// For the benchmark: { copyBytesPerSecond, fp32FlopsPerSecond } of a device (takes ~0.1 s).
Napi::Value MeasureCeilings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
#if CUDA_SSIM_WITH_CUDA
    const int device = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    Ceilings c{};
    checkCuda(measureCeilings(device, &c), "measureCeilings");
    Napi::Object r = Napi::Object::New(env);
    r.Set("copyBytesPerSecond", c.copyBytesPerSecond);
    r.Set("fp32FlopsPerSecond", c.fp32FlopsPerSecond);
    return r;
#else
    throwBuiltWithoutCuda();
#endif
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  }
}

}  // namespace cudassim
