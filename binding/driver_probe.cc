#include "driver_probe.h"

#include <dlfcn.h>

namespace cudassim {

namespace {

using CuInit = int (*)(unsigned);
using CuDriverGetVersion = int (*)(int*);
using CuDeviceGetCount = int (*)(int*);

DriverProbe probe() {
  DriverProbe p;
  // The handle stays open: the CUDA runtime opens the same library again and shares it.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    p.error = "no NVIDIA driver (libcuda.so.1 not found)";
    return p;
  }
  p.found = true;
  auto getVersion = reinterpret_cast<CuDriverGetVersion>(dlsym(lib, "cuDriverGetVersion"));
  auto init = reinterpret_cast<CuInit>(dlsym(lib, "cuInit"));
  auto getCount = reinterpret_cast<CuDeviceGetCount>(dlsym(lib, "cuDeviceGetCount"));
  if (getVersion == nullptr || init == nullptr || getCount == nullptr) {
    p.error = "libcuda.so.1 lacks cuDriverGetVersion, cuInit or cuDeviceGetCount";
    return p;
  }
  if (getVersion(&p.version) != 0) p.version = 0;
  const int status = init(0);
  if (status != 0) {
    p.error = "cuInit failed with CUresult " + std::to_string(status) +
              (status == 100 ? " (CUDA_ERROR_NO_DEVICE)" : "");
    return p;
  }
  if (getCount(&p.deviceCount) != 0) p.deviceCount = 0;
  return p;
}

}  // namespace

const DriverProbe& probeDriver() {
  static const DriverProbe answer = probe();
  return answer;
}

}  // namespace cudassim
