// compute(job) and computeAsync(job): check the job lib/ built (sizes again, for memory safety),
// then run it on the CPU path or enqueue it on the device's stream.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "cuda_context.h"
#include "device_buffer.h"
#include "entry_points.h"
#include "errors.h"
#include "ssim_cpu.h"
#include "ssim_math.h"

#if CUDA_SSIM_WITH_CUDA
#include "ssim_cuda.h"
#endif

namespace cudassim {

namespace {

// A job argument: host memory (a typed array) or a DeviceBuffer.
struct Operand {
  void* host = nullptr;
  DeviceBuffer* device = nullptr;
  std::size_t bytes = 0;
  bool present() const { return host || device; }
};

struct ParsedJob {
  bool cuda = false;
  int device = 0;
  SsimJob core;  // pointers are filled in when the job runs
  Operand x, y, out, grad, workspace;
  int wsImages = 0;
  std::size_t wsElements = 0;
};

double number(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) internalError(std::string("job.") + key + " is not a number");
  return v.As<Napi::Number>().DoubleValue();
}

int positiveInt(const Napi::Object& o, const char* key) {
  const double v = number(o, key);
  if (!(v >= 1 && v <= 2147483647.0) || v != double(static_cast<long long>(v))) internalError(std::string("job.") + key + " is not a positive int32");
  return int(v);
}

Operand operand(const Napi::Object& o, const char* key, bool optional) {
  Napi::Value v = o.Get(key);
  Operand r;
  if (optional && (v.IsNull() || v.IsUndefined())) return r;
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    r.host = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    r.bytes = ta.ByteLength();
    return r;
  }
  if (DeviceBuffer* b = DeviceBuffer::Unwrap(v)) {
    if (b->freed()) throw CodedError("ERR_SSIM_DISPOSED", std::string("Expected a live device array for ") + key + " but it was disposed");
    r.device = b;
    r.bytes = b->byteLength();
    return r;
  }
  internalError(std::string("job.") + key + " is neither a typed array nor a DeviceBuffer");
}

DType parseDType(const std::string& s) {
  if (s == "float32") return DType::F32;
  if (s == "float64") return DType::F64;
  if (s == "uint8") return DType::U8;
  if (s == "uint16") return DType::U16;
  internalError("unknown dtype " + s);
}

void requireBytes(const Operand& op, std::size_t bytes, bool exact, const char* name) {
  if (!op.present()) return;
  if (exact ? op.bytes != bytes : op.bytes < bytes) {
    internalError(std::string(name) + " holds " + std::to_string(op.bytes) + " bytes, expected " + std::to_string(bytes));
  }
}

ParsedJob parseJob(const Napi::Object& o) {
  ParsedJob j;
  const std::string backend = o.Get("backend").ToString().Utf8Value();
  if (backend != "cpu" && backend != "cuda") internalError("job.backend is " + backend);
  j.cuda = backend == "cuda";
  j.device = j.cuda ? int(number(o, "device")) : 0;

  ImageShape& s = j.core.shape;
  s.batch = positiveInt(o, "batch");
  s.channels = positiveInt(o, "channels");
  s.height = positiveInt(o, "height");
  s.width = positiveInt(o, "width");
  const std::string layout = o.Get("layout").ToString().Utf8Value();
  if (layout != "hwc" && layout != "chw") internalError("job.layout is " + layout);
  s.chw = layout == "chw";
  j.core.dtype = parseDType(o.Get("dtype").ToString().Utf8Value());

  SsimParams& p = j.core.params;
  const int window = int(number(o, "windowSize"));
  if (window != 7 && window != 9 && window != 11) internalError("job.windowSize must be 7, 9 or 11");
  p.radius = window / 2;
  const double sigma = number(o, "sigma");
  if (!(sigma > 0) || sigma > 1e30) internalError("job.sigma must be positive");
  gaussianTaps(p.radius, sigma, p.taps);
  p.c1 = float(number(o, "c1"));
  p.c2 = float(number(o, "c2"));
  p.inputScale = float(number(o, "inputScale"));
  p.valid = o.Get("valid").ToBoolean();
  p.valueOffset = float(number(o, "valueOffset"));
  p.valueScale = float(number(o, "valueScale"));
  if (p.valid && (s.height < window || s.width < window)) internalError("'valid' image smaller than the window");

  j.x = operand(o, "x", false);
  j.y = operand(o, "y", false);
  j.out = operand(o, "out", true);
  j.grad = operand(o, "grad", true);
  j.workspace = operand(o, "workspace", true);
  if (!j.out.present() && !j.grad.present()) internalError("job has neither out nor grad");

  const std::size_t elems = s.elems();
  const std::size_t inBytes = elems * dtypeBytes(j.core.dtype);
  requireBytes(j.x, inBytes, j.x.host != nullptr, "x");
  requireBytes(j.y, inBytes, j.y.host != nullptr, "y");
  requireBytes(j.out, std::size_t(s.batch) * 4, j.out.host != nullptr, "out");
  requireBytes(j.grad, elems * 4, j.grad.host != nullptr, "grad");
  if ((j.x.device != nullptr) != (j.y.device != nullptr)) internalError("x and y must both be host or both device arrays");

  for (const Operand* op : {&j.x, &j.y, &j.out, &j.grad, &j.workspace}) {
    if (!op->device) continue;
    if (!j.cuda) internalError("device array given to the CPU backend");
    if (op->device->device() != j.device) internalError("device array on another device");
  }
  if (j.workspace.host) internalError("workspace must be a DeviceBuffer");
  if (j.workspace.device) {
    j.wsImages = positiveInt(o, "workspaceImages");
    const double we = number(o, "workspaceElements");
    if (!(we >= 1)) internalError("job.workspaceElements must be positive");
    j.wsElements = std::size_t(we);
    if (s.batch > j.wsImages || elems > j.wsElements) internalError("workspace too small for this call");
#if CUDA_SSIM_WITH_CUDA
    requireBytes(j.workspace, workspaceBytes(j.wsImages, j.wsElements, j.grad.present()), false, "workspace");
#endif
  }
  return j;
}

void runCpu(ParsedJob& j) {
  SsimJob job = j.core;
  job.x = j.x.host;
  job.y = j.y.host;
  job.out = static_cast<float*>(j.out.host);
  job.grad = static_cast<float*>(j.grad.host);
  computeSsimCpu(job, 0);
}

#if CUDA_SSIM_WITH_CUDA

// Stream-ordered temporaries of one call, released on every path out of it.
class Temporaries {
 public:
  explicit Temporaries(cudaStream_t s) : stream_(s) {}
  ~Temporaries() {
    for (auto& t : items_) countedFreeAsync(t.first, t.second, stream_);
  }
  void* alloc(std::size_t bytes) {
    void* p = countedMallocAsync(bytes, stream_);
    items_.emplace_back(p, bytes);
    return p;
  }

 private:
  cudaStream_t stream_;
  std::vector<std::pair<void*, std::size_t>> items_;
};

void runCuda(ParsedJob& j, bool waitForDevice) {
  DeviceContext& ctx = deviceContext(j.device);
  std::lock_guard<std::mutex> lock(ctx.mutex);
  cudaStream_t stream = ctx.stream;
  Temporaries temps(stream);
  SsimJob job = j.core;
  bool hostTraffic = false;

  auto deviceInput = [&](const Operand& op) -> const void* {
    if (op.device) return op.device->data();
    void* d = temps.alloc(op.bytes);
    countedCopyAsync(d, op.host, op.bytes, cudaMemcpyHostToDevice, stream);
    hostTraffic = true;
    return d;
  };
  auto deviceOutput = [&](const Operand& op) -> float* {
    if (!op.present()) return nullptr;
    if (op.device) return static_cast<float*>(op.device->data());
    return static_cast<float*>(temps.alloc(op.bytes));
  };
  job.x = deviceInput(j.x);
  job.y = deviceInput(j.y);
  job.out = deviceOutput(j.out);
  job.grad = deviceOutput(j.grad);

  void* ws = nullptr;
  int wsImages = j.wsImages;
  std::size_t wsElements = j.wsElements;
  if (j.workspace.device) {
    ws = j.workspace.device->data();
  } else {
    wsImages = job.shape.batch;
    wsElements = job.shape.elems();
    const std::size_t bytes = workspaceBytes(wsImages, wsElements, job.grad != nullptr);
    ws = temps.alloc(bytes);
    countedMemsetAsync(ws, bytes, stream);
  }

  checkCuda(launchSsim(job, ws, wsImages, wsElements, stream), "the SSIM kernels");

  if (j.out.host) {
    countedCopyAsync(j.out.host, job.out, j.out.bytes, cudaMemcpyDeviceToHost, stream);
    hostTraffic = true;
  }
  if (j.grad.host) {
    countedCopyAsync(j.grad.host, job.grad, j.grad.bytes, cudaMemcpyDeviceToHost, stream);
    hostTraffic = true;
  }
  // Device-only calls stay stream-ordered (no host wait) unless the caller must know the work is done.
  if (hostTraffic || waitForDevice) checkCuda(cudaStreamSynchronize(stream), "the SSIM kernels (synchronising)");
}

#endif

void run(ParsedJob& j, bool waitForDevice) {
  if (!j.cuda) return runCpu(j);
#if CUDA_SSIM_WITH_CUDA
  runCuda(j, waitForDevice);
#else
  (void)waitForDevice;
  throw CodedError("ERR_SSIM_CUDA_UNAVAILABLE", "cuda-ssim was built without CUDA (no nvcc was found when it was installed)");
#endif
}

class ComputeWorker : public Napi::AsyncWorker {
 public:
  ComputeWorker(Napi::Env env, Napi::Object jobObject, ParsedJob job)
      : Napi::AsyncWorker(env, "cuda-ssim:compute"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {
    keepAlive_ = Napi::Persistent(jobObject);  // keeps x, y, out, grad and workspace alive until done
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      run(job_, true);
    } catch (const CodedError& e) {
      error_ = std::make_unique<CodedError>(e);
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      error_ = std::make_unique<CodedError>("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory");
      SetError(error_->what());
    } catch (const std::exception& e) {
      error_ = std::make_unique<CodedError>("ERR_SSIM_INTERNAL", std::string("cuda-ssim internal error: ") + e.what());
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    if (error_) deferred_.Reject(toJsError(Env(), *error_).Value());
    else deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keepAlive_;
  ParsedJob job_;
  std::unique_ptr<CodedError> error_;
};

}  // namespace

Napi::Value Compute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 1 || !info[0].IsObject()) internalError("compute(job) needs a job object");
    ParsedJob job = parseJob(info[0].As<Napi::Object>());
    run(job, false);
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  } catch (const std::bad_alloc&) {
    throw toJsError(env, CodedError("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory"));
  } catch (const std::exception& e) {
    throw toJsError(env, CodedError("ERR_SSIM_INTERNAL", std::string("cuda-ssim internal error: ") + e.what()));
  }
  return env.Undefined();
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
    throw CodedError("ERR_SSIM_CUDA_UNAVAILABLE", "cuda-ssim was built without CUDA (no nvcc was found when it was installed)");
#endif
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  }
  return env.Undefined();
}

Napi::Value ComputeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 1 || !info[0].IsObject()) internalError("computeAsync(job) needs a job object");
    Napi::Object jobObject = info[0].As<Napi::Object>();
    auto* worker = new ComputeWorker(env, jobObject, parseJob(jobObject));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const CodedError& e) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(toJsError(env, e).Value());
    return deferred.Promise();
  }
}

}  // namespace cudassim
