// Module registration: the native half of cuda-ssim (lib/native.ts describes it in TypeScript).
#include <napi.h>

#include "device_buffer.h"
#include "entry_points.h"
#include "interop.h"

namespace cudassim {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("DeviceBuffer", DeviceBuffer::Init(env));
  exports.Set("backendInfo", Napi::Function::New<BackendInfo>(env, "backendInfo"));
  exports.Set("counters", Napi::Function::New<Counters>(env, "counters"));
  exports.Set("workspaceBytes", Napi::Function::New<WorkspaceBytes>(env, "workspaceBytes"));
  exports.Set("compute", Napi::Function::New<Compute>(env, "compute"));
  exports.Set("computeAsync", Napi::Function::New<ComputeAsync>(env, "computeAsync"));
  exports.Set("computeMsssim", Napi::Function::New<ComputeMsssim>(env, "computeMsssim"));
  exports.Set("computeMsssimAsync", Napi::Function::New<ComputeMsssimAsync>(env, "computeMsssimAsync"));
  exports.Set("msssimWorkspaceBytes", Napi::Function::New<MsssimWorkspaceBytes>(env, "msssimWorkspaceBytes"));
  exports.Set("computeMap", Napi::Function::New<ComputeMap>(env, "computeMap"));
  exports.Set("computeMapAsync", Napi::Function::New<ComputeMapAsync>(env, "computeMapAsync"));
  exports.Set("synchronize", Napi::Function::New<Synchronize>(env, "synchronize"));
  exports.Set("defaultStream", Napi::Function::New<DefaultStream>(env, "defaultStream"));
  return exports;
}

}  // namespace cudassim

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return cudassim::Init(env, exports); }

NODE_API_MODULE(cuda_ssim, InitModule)
