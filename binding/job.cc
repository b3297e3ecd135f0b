// Job parsing and the sync/async runners shared by compute.cc and map.cc (job.h).
#include "job.h"

#include <new>

#include "ssim_math.h"

namespace cudassim {

namespace {

DType parseDType(const std::string& s) {
  if (s == "float32") return DType::F32;
  if (s == "float64") return DType::F64;
  if (s == "uint8") return DType::U8;
  if (s == "uint16") return DType::U16;
  internalError("unknown dtype " + s);
}

// Runs `work`, converting what it throws into a CodedError (nullptr: it succeeded).
std::unique_ptr<CodedError> capture(const std::function<void()>& work) {
  try {
    work();
  } catch (const CodedError& e) {
    return std::make_unique<CodedError>(e);
  } catch (const std::bad_alloc&) {
    return std::make_unique<CodedError>("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory");
  } catch (const std::exception& e) {
    return std::make_unique<CodedError>("ERR_SSIM_INTERNAL", std::string("cuda-ssim internal error: ") + e.what());
  }
  return nullptr;
}

class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Napi::Object jobObject, std::function<void()> work, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)) {
    keepAlive_ = Napi::Persistent(jobObject);  // keeps the job's arrays and buffers alive until done
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    error_ = capture(work_);
    if (error_) SetError(error_->what());
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    if (error_) deferred_.Reject(toJsError(Env(), *error_).Value());
    else deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keepAlive_;
  std::function<void()> work_;
  std::unique_ptr<CodedError> error_;
};

}  // namespace

double jobNumber(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) internalError(std::string("job.") + key + " is not a number");
  return v.As<Napi::Number>().DoubleValue();
}

int jobPositiveInt(const Napi::Object& o, const char* key) {
  const double v = jobNumber(o, key);
  if (!(v >= 1 && v <= 2147483647.0) || v != double(static_cast<long long>(v))) internalError(std::string("job.") + key + " is not a positive int32");
  return int(v);
}

Operand jobOperand(const Napi::Object& o, const char* key, bool optional) {
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

void requireBytes(const Operand& op, std::size_t bytes, bool exact, const char* name) {
  if (!op.present()) return;
  if (exact ? op.bytes != bytes : op.bytes < bytes) {
    internalError(std::string(name) + " holds " + std::to_string(op.bytes) + " bytes, expected " + std::to_string(bytes));
  }
}

void requireJobDevice(const ParsedInputs& j, const Operand& op) {
  if (!op.device) return;
  if (!j.cuda) internalError("device array given to the CPU backend");
  if (op.device->device() != j.device) internalError("device array on another device");
}

ParsedInputs parseInputs(const Napi::Object& o) {
  ParsedInputs j;
  const std::string backend = o.Get("backend").ToString().Utf8Value();
  if (backend != "cpu" && backend != "cuda") internalError("job.backend is " + backend);
  j.cuda = backend == "cuda";
  j.device = j.cuda ? int(jobNumber(o, "device")) : 0;

  ImageShape& s = j.core.shape;
  s.batch = jobPositiveInt(o, "batch");
  s.channels = jobPositiveInt(o, "channels");
  s.height = jobPositiveInt(o, "height");
  s.width = jobPositiveInt(o, "width");
  const std::string layout = o.Get("layout").ToString().Utf8Value();
  if (layout != "hwc" && layout != "chw") internalError("job.layout is " + layout);
  s.chw = layout == "chw";
  j.core.dtype = parseDType(o.Get("dtype").ToString().Utf8Value());

  SsimParams& p = j.core.params;
  const int window = int(jobNumber(o, "windowSize"));
  if (window != 7 && window != 9 && window != 11) internalError("job.windowSize must be 7, 9 or 11");
  p.radius = window / 2;
  const double sigma = jobNumber(o, "sigma");
  if (!(sigma > 0) || sigma > 1e30) internalError("job.sigma must be positive");
  gaussianTaps(p.radius, sigma, p.taps);
  p.c1 = float(jobNumber(o, "c1"));
  p.c2 = float(jobNumber(o, "c2"));
  p.inputScale = float(jobNumber(o, "inputScale"));
  p.valid = o.Get("valid").ToBoolean();
  p.valueOffset = float(jobNumber(o, "valueOffset"));
  p.valueScale = float(jobNumber(o, "valueScale"));
  p.gradFactor = o.Has("gradFactor") ? float(jobNumber(o, "gradFactor")) : 1.0f;
  // A window whose off-centre taps round to zero: every window's variance and covariance are
  // exactly zero, S = A1 / B1 whatever C2, so a large C2 keeps float32 rounding of the (zero)
  // variance out of the value and the gradient.
  if (p.radius > 0 && p.taps[1] == 0.0f && p.c2 < 1.0f) p.c2 = 1.0f;
  if (p.valid && (s.height < window || s.width < window)) internalError("'valid' image smaller than the window");

  j.x = jobOperand(o, "x", false);
  j.y = jobOperand(o, "y", false);
  const std::size_t inBytes = s.elems() * dtypeBytes(j.core.dtype);
  requireBytes(j.x, inBytes, j.x.host != nullptr, "x");
  requireBytes(j.y, inBytes, j.y.host != nullptr, "y");
  if ((j.x.device != nullptr) != (j.y.device != nullptr)) internalError("x and y must both be host or both device arrays");
  requireJobDevice(j, j.x);
  requireJobDevice(j, j.y);
  return j;
}

Napi::Object jobObjectArg(const Napi::CallbackInfo& info, const char* entry) {
  if (info.Length() < 1 || !info[0].IsObject()) internalError(std::string(entry) + "(job) needs a job object");
  return info[0].As<Napi::Object>();
}

Napi::Value runSyncJob(Napi::Env env, const std::function<void()>& work) {
  std::unique_ptr<CodedError> error = capture(work);
  if (error) throw toJsError(env, *error);
  return env.Undefined();
}

Napi::Promise queueJob(Napi::Env env, Napi::Object keepAlive, std::function<void()> work, const char* name) {
  auto* worker = new JobWorker(env, keepAlive, std::move(work), name);
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Promise rejectedJob(Napi::Env env, const CodedError& e) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(toJsError(env, e).Value());
  return deferred.Promise();
}

#if CUDA_SSIM_WITH_CUDA

DeviceCall::DeviceCall(int device) : ctx_(deviceContext(device)), lock_(ctx_.mutex) {}

DeviceCall::~DeviceCall() {
  for (auto& t : temporaries_) countedFreeAsync(t.first, t.second, ctx_.stream);
}

void* DeviceCall::temporary(std::size_t bytes) {
  void* p = countedMallocAsync(bytes, ctx_.stream);
  temporaries_.emplace_back(p, bytes);
  return p;
}

const void* DeviceCall::input(const Operand& op) {
  if (op.device) return op.device->data();
  void* d = temporary(op.bytes);
  countedCopyAsync(d, op.host, op.bytes, cudaMemcpyHostToDevice, ctx_.stream);
  hostTraffic_ = true;
  return d;
}

float* DeviceCall::output(const Operand& op) {
  if (!op.present()) return nullptr;
  return static_cast<float*>(op.device ? op.device->data() : temporary(op.bytes));
}

void DeviceCall::download(const Operand& op, const float* src) {
  if (!op.host) return;
  countedCopyAsync(op.host, src, op.bytes, cudaMemcpyDeviceToHost, ctx_.stream);
  hostTraffic_ = true;
}

void DeviceCall::finish(bool waitForDevice, const char* what) {
  if (hostTraffic_ || waitForDevice) checkCuda(cudaStreamSynchronize(ctx_.stream), what);
}

#endif

}  // namespace cudassim
