// backendInfo(), counters() and workspaceBytes(): what the addon can do here.
#include <napi.h>

#include <algorithm>
#include <string>
#include <thread>

#include "cuda_context.h"
#include "driver_probe.h"
#include "entry_points.h"

#include "errors.h"

#if CUDA_SSIM_WITH_CUDA
#include "gpu/ssim_cuda.h"
#endif

namespace cudassim {

namespace {

// The lowest CUDA driver API version (cuDriverGetVersion) that the runtime this addon was built
// with accepts: any driver of the same major version (CUDA's minor-version compatibility).
constexpr int kRequiredDriverVersion =
#if CUDA_SSIM_WITH_CUDA
    CUDART_VERSION / 1000 * 1000;
#else
    0;
#endif

#if CUDA_SSIM_WITH_CUDA
std::string versionText(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }
#endif

}  // namespace

// reasonCode says which of these made CUDA unusable (lib/backend.ts turns it into a warning code):
// 'no-cuda-build', 'no-driver', 'driver-too-old', 'no-device', 'no-kernel-image', 'cuda-error'.
Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
  r.Set("cpuThreads", Napi::Number::New(env, std::max(1u, std::thread::hardware_concurrency())));
  const DriverProbe& driver = probeDriver();
  Napi::Object d = Napi::Object::New(env);
  d.Set("found", driver.found);
  d.Set("version", driver.version ? Napi::Value(Napi::Number::New(env, driver.version)) : env.Null());
  d.Set("deviceCount", driver.deviceCount);
  d.Set("error", driver.error.empty() ? env.Null() : Napi::Value(Napi::String::New(env, driver.error)));
  r.Set("driver", d);
  r.Set("requiredDriverVersion", kRequiredDriverVersion ? Napi::Value(Napi::Number::New(env, kRequiredDriverVersion)) : env.Null());
  auto unavailable = [&](const char* code, const std::string& reason) {
    r.Set("cudaAvailable", false);
    r.Set("reasonCode", code);
    r.Set("reason", reason);
  };
#if CUDA_SSIM_WITH_CUDA
  r.Set("cudaCompiled", true);
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  r.Set("runtimeVersion", Napi::Number::New(env, runtime));
  r.Set("driverVersion", driver.version ? Napi::Value(Napi::Number::New(env, driver.version)) : env.Null());
  int count = 0;
  if (!driver.found) {
    unavailable("no-driver", driver.error);
  } else if (driver.version < kRequiredDriverVersion) {
    unavailable("driver-too-old", "the NVIDIA driver is too old for this build: it offers CUDA " +
                                      versionText(driver.version) + ", this binary needs CUDA " +
                                      versionText(kRequiredDriverVersion) + " or later");
  } else if (cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
    cudaGetLastError();
    unavailable(status == cudaErrorNoDevice ? "no-device" : "cuda-error",
                std::string("cudaGetDeviceCount: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  } else if (count == 0) {
    unavailable("no-device", "no CUDA device found");
  } else {
    std::string noKernel;  // compute capabilities without code in this binary
    int usable = 0;
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp p{};
      if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      const std::string cc = std::to_string(p.major) + "." + std::to_string(p.minor);
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("index", i);
      dev.Set("name", std::string(p.name));
      dev.Set("major", p.major);
      dev.Set("minor", p.minor);
      dev.Set("totalMemory", Napi::Number::New(env, double(p.totalGlobalMem)));
      dev.Set("multiProcessorCount", p.multiProcessorCount);
      int arch = 0;
      const cudaError_t image = kernelImageFor(i, &arch);
      dev.Set("usable", image == cudaSuccess);
      if (image == cudaSuccess) {
        ++usable;
        dev.Set("kernelArchitecture", arch);
        dev.Set("reason", env.Null());
      } else {
        const std::string why = image == cudaErrorNoKernelImageForDevice || image == cudaErrorInvalidDeviceFunction
                                    ? "no kernel for compute capability " + cc + " in this binary"
                                    : std::string("cudaFuncGetAttributes: ") + cudaGetErrorName(image);
        if (noKernel.find(cc) == std::string::npos) noKernel += (noKernel.empty() ? "" : ", ") + cc;
        dev.Set("reason", why);
      }
      devices.Set(devices.Length(), dev);
    }
    if (usable > 0) {
      r.Set("cudaAvailable", true);
      r.Set("reasonCode", env.Null());
      r.Set("reason", env.Null());
    } else if (!noKernel.empty()) {
      unavailable("no-kernel-image", "no kernel for compute capability " + noKernel + " in this binary");
    } else {
      unavailable("cuda-error", "no CUDA device could be queried");
    }
  }
#else
  r.Set("cudaCompiled", false);
  unavailable("no-cuda-build", kBuiltWithoutCuda);
  r.Set("runtimeVersion", env.Null());
  r.Set("driverVersion", driver.version ? Napi::Value(Napi::Number::New(env, driver.version)) : env.Null());
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

}  // namespace cudassim
