// computeMap(job) and computeMapAsync(job): the per-pixel SSIM map (channel-averaged) of a job
// that lib/ built like a compute job, with `map` (Float32Array or DeviceBuffer of batch * map
// pixels) as its output. CPU: cuda/cpu/ssim_map_cpu.cpp; CUDA: cuda/gpu/ssim_map.cu.
#include <napi.h>

#include <memory>

#include "entry_points.h"
#include "cpu/ssim_cpu.h"
#include "job.h"

#if CUDA_SSIM_WITH_CUDA
#include "gpu/ssim_map.h"
#endif

namespace cudassim {

namespace {

struct MapJob : ParsedInputs {
  Operand map;
};

MapJob parseMapJob(const JobArgs& o) {
  MapJob j;
  static_cast<ParsedInputs&>(j) = parseInputs(o);
  j.map = jobOperand(o, JobArg::out, "map", false);
  requireBytes(j.map, mapElems(j.core) * 4, j.map.host != nullptr, "map");
  requireJobDevice(j, j.map);
  requireDisjoint(j.map, j.x);
  requireDisjoint(j.map, j.y);
  if (j.map.host && !j.x.host) internalError("a host map needs host inputs here (lib downloads device maps)");
  return j;
}

void own(MapJob& j, OwnedHost& host, napi_env env) {
  host.input(env, j.x);
  host.input(env, j.y);
  host.output(env, j.map);
}

#if CUDA_SSIM_WITH_CUDA
void runCuda(MapJob& j, bool waitForDevice) {
  DeviceCall call(j.device, j.stream);
  SsimJob job = j.core;
  job.x = call.input(j.x);
  job.y = call.input(j.y);
  float* map = call.output(j.map);
  checkCuda(launchSsimMap(job, map, call.stream()), "the SSIM map kernel");
  call.download(j.map, map);
  call.finish(waitForDevice, "the SSIM map kernel (synchronising)");
}
#endif

void run(MapJob& j, bool waitForDevice) {
  if (!j.cuda) {
    SsimJob job = j.core;
    job.x = j.x.host;
    job.y = j.y.host;
    computeSsimMapCpu(job, static_cast<float*>(j.map.host), 0);
    return;
  }
#if CUDA_SSIM_WITH_CUDA
  runCuda(j, waitForDevice);
#else
  (void)waitForDevice;
  throwBuiltWithoutCuda();
#endif
}

}  // namespace

Napi::Value ComputeMap(const Napi::CallbackInfo& info) { return syncJobEntry(info, "computeMap", parseMapJob, run); }

Napi::Value ComputeMapAsync(const Napi::CallbackInfo& info) {
  return asyncJobEntry(info, "computeMapAsync", "cuda-ssim:computeMap", parseMapJob, own, run);
}

}  // namespace cudassim
