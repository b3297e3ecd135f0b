// The functions the addon exports (binding/addon.cc registers them).
#pragma once

#include <napi.h>

namespace cudassim {

Napi::Value BackendInfo(const Napi::CallbackInfo& info);
Napi::Value Counters(const Napi::CallbackInfo& info);
Napi::Value WorkspaceBytes(const Napi::CallbackInfo& info);
Napi::Value Compute(const Napi::CallbackInfo& info);
Napi::Value ComputeAsync(const Napi::CallbackInfo& info);
Napi::Value ComputeMap(const Napi::CallbackInfo& info);
Napi::Value ComputeMapAsync(const Napi::CallbackInfo& info);
Napi::Value ComputeMsssim(const Napi::CallbackInfo& info);
Napi::Value ComputeMsssimAsync(const Napi::CallbackInfo& info);
Napi::Value MsssimWorkspaceBytes(const Napi::CallbackInfo& info);
Napi::Value Synchronize(const Napi::CallbackInfo& info);

}  // namespace cudassim
