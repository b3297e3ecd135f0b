// compute(job) and computeAsync(job): check the job lib/ built (sizes again, for memory safety),
// then run it on the CPU path or enqueue it on the device's stream.
#include <napi.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cuda_context.h"
#include "device_buffer.h"
#include "entry_points.h"
#include "errors.h"
#include "job.h"
#include "common/ssim_math.h"
#include "cpu/ssim_cpu.h"

#if CUDA_SSIM_WITH_CUDA
#include "gpu/half_store.h"
#include "gpu/ssim_cuda.h"
#endif

namespace cudassim {

namespace {

struct ParsedJob : ParsedInputs, JobOutputs {
  // The gradient's element type: F32, or the input's half type (gradientDtype 'input'), then the
  // kernels' float32 gradient is rounded into grad (nearest even) as a last step.
  DType gradDtype = DType::F32;
  int wsImages = 0;
  std::size_t wsElements = 0;
};

ParsedJob parseJob(const JobArgs& o) {
  ParsedJob j;
  static_cast<ParsedInputs&>(j) = parseInputs(o);
  const ImageShape& s = j.core.shape;
  const DType gradDtype = kJobDTypes[o.choice(JobField::gradDtype, kJobDTypeCount)];
  if (gradDtype != DType::F32) {
    if (gradDtype != j.core.dtype || (gradDtype != DType::F16 && gradDtype != DType::BF16)) internalError("job.gradDtype is neither float32 nor x's half dtype");
    j.gradDtype = gradDtype;
  }

  const std::size_t elems = s.elems();
  static_cast<JobOutputs&>(j) = parseOutputs(o, j, elems * dtypeBytes(j.gradDtype));
  if (j.workspace.device) {
    j.wsImages = o.positiveInt(JobField::workspaceImages);
    const double we = o.number(JobField::workspaceElements);
    if (!(we >= 1)) internalError("job.workspaceElements must be positive");
    j.wsElements = std::size_t(we);
    if (s.batch > j.wsImages || elems > j.wsElements) internalError("workspace too small for this call");
#if CUDA_SSIM_WITH_CUDA
    requireBytes(j.workspace, workspaceBytes(j.wsImages, j.wsElements, j.grad.present()), false, "workspace");
#endif
  }
  return j;
}

void own(ParsedJob& j, OwnedHost& host, napi_env env) { ownOperands(j, j, host, env); }

void runCpu(ParsedJob& j) {
  SsimJob job = j.core;
  job.x = j.x.host;
  job.y = j.y.host;
  job.out = static_cast<float*>(j.out.host);
  const bool halfGrad = j.grad.present() && j.gradDtype != DType::F32;
  std::vector<float> grad32;
  if (halfGrad) grad32.resize(job.shape.elems());
  job.grad = halfGrad ? grad32.data() : static_cast<float*>(j.grad.host);
  computeSsimCpu(job, 0);
  if (halfGrad) roundFloatsToHalf(grad32.data(), static_cast<std::uint16_t*>(j.grad.host), grad32.size(), j.gradDtype == DType::BF16);
}

#if CUDA_SSIM_WITH_CUDA

void runCuda(ParsedJob& j, bool waitForDevice) {
  DeviceCall call(j.device, j.stream);
  SsimJob job = j.core;
  job.x = call.input(j.x);
  job.y = call.input(j.y);
  job.out = call.output(j.out);
  const bool halfGrad = j.grad.present() && j.gradDtype != DType::F32;
  float* gradOut = call.output(j.grad);  // half bits when halfGrad
  job.grad = halfGrad ? static_cast<float*>(call.temporary(job.shape.elems() * 4)) : gradOut;

  void* ws = nullptr;
  int wsImages = j.wsImages;
  std::size_t wsElements = j.wsElements;
  std::optional<DeviceBuffer::WorkspaceUse> use;
  if (j.workspace.device) {
    ws = j.workspace.device->data();
    StateSpans states;  // an SSIM call's: at the workspace's start, for its images
    states.count = 1;
    states.span[0] = {0, workspaceBytes(wsImages, 0, false)};
    use.emplace(*j.workspace.device, states);
    if (use->needsZeroing) zeroStates(ws, states, call.stream());
  } else {
    wsImages = job.shape.batch;
    wsElements = job.shape.elems();
    const std::size_t bytes = workspaceBytes(wsImages, wsElements, job.grad != nullptr);
    ws = call.temporary(bytes);
    countedMemsetAsync(ws, bytes, call.stream());
  }

  checkCuda(launchSsim(job, ws, wsImages, wsElements, call.stream()), "the SSIM kernels");
  use.reset();  // enqueued: the next call on this workspace may enqueue
  if (halfGrad) {
    checkCuda(launchRoundToHalf(job.grad, reinterpret_cast<std::uint16_t*>(gradOut), job.shape.elems(),
                                j.gradDtype == DType::BF16, call.stream()),
              "the gradient's rounding to half precision");
  }
  call.download(j.out, job.out);
  call.download(j.grad, gradOut);
  // Device-only calls stay stream-ordered (no host wait) unless the caller must know the work is done.
  call.finish(waitForDevice, "the SSIM kernels (synchronising)");
}

#endif

void run(ParsedJob& j, bool waitForDevice) {
  if (!j.cuda) return runCpu(j);
#if CUDA_SSIM_WITH_CUDA
  runCuda(j, waitForDevice);
#else
  (void)waitForDevice;
  throwBuiltWithoutCuda();
#endif
}

}  // namespace

Napi::Value Compute(const Napi::CallbackInfo& info) { return syncJobEntry(info, "compute", parseJob, run); }

Napi::Value ComputeAsync(const Napi::CallbackInfo& info) {
  return asyncJobEntry(info, "computeAsync", "cuda-ssim:compute", parseJob, own, run);
}

// Waits until every call queued on the device's stream has finished (and reports its errors).
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
#if CUDA_SSIM_WITH_CUDA
    const int device = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    DeviceContext& ctx = deviceContext(device);
    checkCuda(cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize");
#else
    throwBuiltWithoutCuda();
#endif
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  }
  return env.Undefined();
}

}  // namespace cudassim
