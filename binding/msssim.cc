// computeMsssim(job), computeMsssimAsync(job), msssimWorkspaceBytes(...): multi-scale SSIM
// (cuda/common/msssim.h). The job is compute's (compute.cc) plus `weights` (an array of 1 to
// kMaxScales positive numbers); every size is checked again here.
#include <napi.h>

#include <cmath>
#include <optional>
#include <string>

#include "cuda_context.h"
#include "device_buffer.h"
#include "entry_points.h"
#include "errors.h"
#include "job.h"
#include "common/msssim.h"
#include "cpu/msssim_cpu.h"

#if CUDA_SSIM_WITH_CUDA
#include "gpu/msssim_cuda.h"
#include "gpu/ssim_cuda.h"
#endif

namespace cudassim {

namespace {

struct MsssimParsed : ParsedInputs, JobOutputs {
  int scales = 0;
  float weights[kMaxScales] = {};
};

MsssimParsed parseMsssim(const JobArgs& o) {
  MsssimParsed j;
  static_cast<ParsedInputs&>(j) = parseInputs(o);
  const ImageShape& s = j.core.shape;
  if ((long long)s.batch * s.channels > 0x7fffffffLL) internalError("batch * channels exceeds int32");
  const double scales = o.number(JobField::scales);
  if (!(scales >= 1 && scales <= kMaxScales) || scales != double(int(scales))) internalError("job.scales must be 1 to 16");
  const int n = int(scales);
  for (int i = 0; i < n; ++i) {
    const double d = o.weight(i);
    if (!(d > 0) || !std::isfinite(float(d))) internalError("job.weights must be finite and positive");
    j.weights[i] = float(d);
  }
  j.scales = int(n);
  const int window = 2 * j.core.params.radius + 1;
  if (j.core.params.valid && (s.height < msssimMinSide(window, j.scales) || s.width < msssimMinSide(window, j.scales)))
    internalError("'valid' image too small for its scales");

  static_cast<JobOutputs&>(j) = parseOutputs(o, j, s.elems() * 4);
#if CUDA_SSIM_WITH_CUDA
  if (j.workspace.device) requireBytes(j.workspace, msssimWorkspaceBytes(s, j.scales, j.grad.present()), false, "workspace");
#endif
  return j;
}

void ownMsssim(MsssimParsed& j, OwnedHost& host, napi_env env) { ownOperands(j, j, host, env); }

MsssimJob msssimJobOf(const MsssimParsed& j) {
  MsssimJob job;
  job.core = j.core;
  job.scales = j.scales;
  for (int i = 0; i < kMaxScales; ++i) job.weights[i] = j.weights[i];
  return job;
}

#if CUDA_SSIM_WITH_CUDA

void runMsssimCuda(MsssimParsed& j, bool waitForDevice) {
  DeviceCall call(j.device, j.stream);
  MsssimJob job = msssimJobOf(j);
  job.core.x = call.input(j.x);
  job.core.y = call.input(j.y);
  job.core.out = call.output(j.out);
  job.core.grad = call.output(j.grad);
  const ImageShape& s = job.core.shape;
  const bool gradient = job.core.grad != nullptr;
  void* ws = nullptr;
  std::size_t wsBytes = 0;
  // Only the SSIM workspaces' reduction states must start zeroed (the rest is written before it
  // is read): in a temporary, and in a Workspace that a call of another layout used last.
  const StateSpans states = msssimStateSpans(s, job.scales, gradient);
  std::optional<DeviceBuffer::WorkspaceUse> use;
  if (j.workspace.device) {
    ws = j.workspace.device->data();
    wsBytes = j.workspace.bytes;
    use.emplace(*j.workspace.device, states);
  } else {
    wsBytes = msssimWorkspaceBytes(s, job.scales, gradient);
    ws = call.temporary(wsBytes);
  }
  if (!use || use->needsZeroing) zeroStates(ws, states, call.stream());
  checkCuda(launchMsssim(job, ws, wsBytes, call.stream()), "the MS-SSIM kernels");
  use.reset();  // enqueued: the next call on this workspace may enqueue
  call.download(j.out, job.core.out);
  call.download(j.grad, job.core.grad);
  call.finish(waitForDevice, "the MS-SSIM kernels (synchronising)");
}

#endif

void runMsssim(MsssimParsed& j, bool waitForDevice) {
  if (!j.cuda) {
    MsssimJob job = msssimJobOf(j);
    job.core.x = j.x.host;
    job.core.y = j.y.host;
    job.core.out = static_cast<float*>(j.out.host);
    job.core.grad = static_cast<float*>(j.grad.host);
    computeMsssimCpu(job, 0);
    return;
  }
#if CUDA_SSIM_WITH_CUDA
  runMsssimCuda(j, waitForDevice);
#else
  (void)waitForDevice;
  throwBuiltWithoutCuda();
#endif
}

}  // namespace

Napi::Value ComputeMsssim(const Napi::CallbackInfo& info) { return syncJobEntry(info, "computeMsssim", parseMsssim, runMsssim); }

Napi::Value ComputeMsssimAsync(const Napi::CallbackInfo& info) {
  return asyncJobEntry(info, "computeMsssimAsync", "cuda-ssim:msssim", parseMsssim, ownMsssim, runMsssim);
}

// msssimWorkspaceBytes(batch, channels, height, width, layout, scales, gradient): the device bytes
// of an MS-SSIM workspace (0 in a build without CUDA).
Napi::Value MsssimWorkspaceBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 7) internalError("msssimWorkspaceBytes needs 7 arguments");
    auto intArg = [&](int i, const char* what) {
      if (!info[i].IsNumber()) internalError(std::string("msssimWorkspaceBytes: ") + what + " is not a number");
      const double v = info[i].As<Napi::Number>().DoubleValue();
      if (!(v >= 1 && v <= 2147483647.0) || v != std::floor(v)) internalError(std::string("msssimWorkspaceBytes: bad ") + what);
      return int(v);
    };
    ImageShape s;
    s.batch = intArg(0, "batch");
    s.channels = intArg(1, "channels");
    s.height = intArg(2, "height");
    s.width = intArg(3, "width");
    s.chw = info[4].ToString().Utf8Value() == "chw";
    const int scales = intArg(5, "scales");
    if (scales > kMaxScales) internalError("msssimWorkspaceBytes: too many scales");
    if ((long long)s.batch * s.channels > 0x7fffffffLL) internalError("msssimWorkspaceBytes: batch * channels exceeds int32");
    const bool gradient = info[6].ToBoolean();
#if CUDA_SSIM_WITH_CUDA
    return Napi::Number::New(env, double(msssimWorkspaceBytes(s, scales, gradient)));
#else
    (void)gradient;
    return Napi::Number::New(env, 0);
#endif
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  }
}

}  // namespace cudassim
