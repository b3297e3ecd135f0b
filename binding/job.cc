// Job parsing and the sync/async runners shared by compute.cc and map.cc (job.h).
#include "job.h"

#include <exception>

#include <cstring>
#include <new>

#include "host_memory.h"
#include "host_staging.h"

#include "common/ssim_math.h"

namespace cudassim {

namespace {

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

// Makes the JS error of `e` with plain Node-API calls, which fail (never throw) while the
// environment is being torn down.
napi_status makeJsError(napi_env env, const CodedError& e, napi_value* result) {
  napi_value code, message;
  napi_status status = napi_create_string_utf8(env, e.code.c_str(), NAPI_AUTO_LENGTH, &code);
  if (status != napi_ok) return status;
  status = napi_create_string_utf8(env, e.what(), NAPI_AUTO_LENGTH, &message);
  if (status != napi_ok) return status;
  switch (e.kind) {
    case ErrorKind::TypeError:
      return napi_create_type_error(env, code, message, result);
    case ErrorKind::RangeError:
      return napi_create_range_error(env, code, message, result);
    default:
      return napi_create_error(env, code, message, result);
  }
}

// One asynchronous call. Not Napi::AsyncWorker: its completion runs Napi calls that throw C++
// exceptions when the environment is going away (a worker thread being terminated), and an
// exception out of a Node-API callback ends the whole process. Here the completion uses the C API,
// checks what it can and throws nothing.
struct AsyncCall {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keepAlive = nullptr;
  std::function<void()> run;
  std::unique_ptr<OwnedHost> host;
  std::unique_ptr<CodedError> error;
};

void executeCall(napi_env, void* data) {
  auto* call = static_cast<AsyncCall*>(data);
  call->error = capture(call->run);
}

void completeCall(napi_env env, napi_status status, void* data) {
  std::unique_ptr<AsyncCall> call(static_cast<AsyncCall*>(data));
  // napi_cancelled: the environment is being torn down before the work ran; nothing to settle.
  if (status != napi_cancelled) settleDeferred(env, call->deferred, std::move(call->error), *call->host);
  call->host->release(env);
  if (call->keepAlive) napi_delete_reference(env, call->keepAlive);
  napi_delete_async_work(env, call->work);
}

void checkNapi(napi_status status, const char* what) {
  if (status != napi_ok) internalError(std::string(what) + " failed");
}

}  // namespace

void settleDeferred(napi_env env, napi_deferred deferred, std::unique_ptr<CodedError> error, OwnedHost& host) noexcept {
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;  // the environment is going away
  if (!error) error = host.deliver(env);
  napi_value value = nullptr;
  if (error) {
    if (makeJsError(env, *error, &value) == napi_ok) napi_reject_deferred(env, deferred, value);
  } else if (napi_get_undefined(env, &value) == napi_ok) {
    napi_resolve_deferred(env, deferred, value);
  }
  napi_close_handle_scope(env, scope);
}

Operand jobOperand(const JobArgs& o, JobArg arg, const char* name, bool optional) {
  Napi::Value v = o.operand(arg);
  Operand r;
  r.name = name;
  if (optional && (v.IsNull() || v.IsUndefined())) return r;
  HostMemory mem;
  if (typedArrayMemory(o.env(), v, &mem)) {
    if (mem.detached) {
      throw CodedError("ERR_SSIM_DETACHED", std::string("Expected ") + name +
                                                " to hold memory but its ArrayBuffer was detached (transferred) before the call could use it");
    }
    r.host = mem.data;
    r.bytes = mem.bytes;
    r.view = v;
    return r;
  }
  if (DeviceBuffer* b = DeviceBuffer::Unwrap(v)) {
    if (b->freed()) throw CodedError("ERR_SSIM_DISPOSED", std::string("Expected a live device array for ") + name + " but it was disposed");
    r.device = b;
    r.bytes = b->byteLength();
    return r;
  }
  internalError(std::string(name) + " is neither a typed array nor a DeviceBuffer");
}

void requireDisjoint(const Operand& output, const Operand& other) {
  if (!output.present() || !other.present() || output.bytes == 0 || other.bytes == 0) return;
  const char* a;
  const char* b;
  if (output.host && other.host) {
    a = static_cast<const char*>(output.host);
    b = static_cast<const char*>(other.host);
  } else if (output.device && other.device) {
    a = static_cast<const char*>(output.device->data());
    b = static_cast<const char*>(other.device->data());
  } else {
    return;  // host and device memory never overlap
  }
  if (a < b + other.bytes && b < a + output.bytes) {
    throw CodedError("ERR_SSIM_INVALID_ARGUMENT", std::string("Expected ") + output.name + " and " + other.name + " not to share memory, but they overlap",
                     ErrorKind::TypeError);
  }
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

JobOutputs parseOutputs(const JobArgs& o, const ParsedInputs& in, std::size_t gradBytes) {
  JobOutputs j;
  j.out = jobOperand(o, JobArg::out, "out", true);
  j.grad = jobOperand(o, JobArg::grad, "grad", true);
  j.workspace = jobOperand(o, JobArg::workspace, "opts.workspace", true);
  if (!j.out.present() && !j.grad.present()) internalError("job has neither out nor grad");
  requireBytes(j.out, std::size_t(in.core.shape.batch) * 4, j.out.host != nullptr, "out");
  requireBytes(j.grad, gradBytes, j.grad.host != nullptr, "grad");
  for (const Operand* op : {&j.out, &j.grad, &j.workspace}) requireJobDevice(in, *op);
  requireDisjoint(j.out, j.grad);
  for (const Operand* output : {&j.out, &j.grad}) {
    requireDisjoint(*output, in.x);
    requireDisjoint(*output, in.y);
  }
  if (j.workspace.host) internalError("workspace must be a DeviceBuffer");
  return j;
}

void ownOperands(ParsedInputs& in, JobOutputs& out, OwnedHost& host, napi_env env) {
  host.input(env, in.x);
  host.input(env, in.y);
  host.output(env, out.out);
  host.output(env, out.grad);
  host.pin(out.workspace);
}

ParsedInputs parseInputs(const JobArgs& o) {
  ParsedInputs j;
  j.cuda = o.choice(JobField::backend, int(JobBackend::count)) == int(JobBackend::cuda);
  j.device = j.cuda ? int(o.number(JobField::device)) : 0;

  ImageShape& s = j.core.shape;
  s.batch = o.positiveInt(JobField::batch);
  s.channels = o.positiveInt(JobField::channels);
  s.height = o.positiveInt(JobField::height);
  s.width = o.positiveInt(JobField::width);
  s.chw = o.choice(JobField::layout, int(JobLayout::count)) == int(JobLayout::chw);
  j.core.dtype = kJobDTypes[o.choice(JobField::dtype, kJobDTypeCount)];

  SsimParams& p = j.core.params;
  const int window = int(o.number(JobField::windowSize));
  if (window != 7 && window != 9 && window != 11) internalError("job.windowSize must be 7, 9 or 11");
  p.radius = window / 2;
  // job.window 'uniform' (scikit-image's default window): every tap 1 / window; else Gaussian.
  if (o.choice(JobField::window, int(JobWindow::count)) == int(JobWindow::uniform)) {
    uniformTaps(p.radius, p.taps);
  } else {
    const double sigma = o.number(JobField::sigma);
    if (!(sigma > 0) || sigma > 1e30) internalError("job.sigma must be positive");
    gaussianTaps(p.radius, sigma, p.taps);
  }
  p.c1 = float(o.number(JobField::c1));
  p.c2 = float(o.number(JobField::c2));
  p.inputScale = float(o.number(JobField::inputScale));
  p.valid = o.number(JobField::valid) != 0;
  p.valueOffset = float(o.number(JobField::valueOffset));
  p.valueScale = float(o.number(JobField::valueScale));
  p.gradFactor = float(o.number(JobField::gradFactor));
  // A window whose off-centre taps round to zero: every window's variance and covariance are
  // exactly zero, S = A1 / B1 whatever C2, so a large C2 keeps float32 rounding of the (zero)
  // variance out of the value and the gradient.
  if (p.radius > 0 && p.taps[1] == 0.0f && p.c2 < 1.0f) p.c2 = 1.0f;
  if (p.valid && (s.height < window || s.width < window)) internalError("'valid' image smaller than the window");

  j.x = jobOperand(o, JobArg::x, "x.data", false);
  j.y = jobOperand(o, JobArg::y, "y.data", false);
  const std::size_t inBytes = s.elems() * dtypeBytes(j.core.dtype);
  requireBytes(j.x, inBytes, j.x.host != nullptr, "x");
  requireBytes(j.y, inBytes, j.y.host != nullptr, "y");
  if ((j.x.device != nullptr) != (j.y.device != nullptr)) internalError("x and y must both be host or both device arrays");
  requireJobDevice(j, j.x);
  requireJobDevice(j, j.y);
  j.stream = jobStream(o.operand(JobArg::stream));
  if (j.stream.given && !j.cuda) internalError("job.stream given to the CPU backend");
  return j;
}

Napi::Value runSyncJob(Napi::Env env, const std::function<void()>& work) {
  std::unique_ptr<CodedError> error = capture(work);
  if (error) throw toJsError(env, *error);
  return env.Undefined();
}

namespace {

class HostBlockCache {
 public:
  static constexpr std::size_t kMinBytes = std::size_t(64) << 10;
  static constexpr std::size_t kMaxBlocks = 16;
  static constexpr std::size_t kMaxBytes = std::size_t(512) << 20;

  // Never destroyed: completions of other threads may still give blocks back at exit.
  static HostBlockCache& instance() {
    static HostBlockCache* cache = new HostBlockCache();
    return *cache;
  }

  HostBlock take(std::size_t bytes) {
    if (bytes >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      std::size_t best = blocks_.size();
      for (std::size_t i = 0; i < blocks_.size(); i++) {
        const std::size_t cap = blocks_[i].second;
        if (cap >= bytes && cap / 2 <= bytes && (best == blocks_.size() || cap < blocks_[best].second)) best = i;
      }
      if (best != blocks_.size()) {
        auto block = blocks_[best];
        blocks_.erase(blocks_.begin() + std::ptrdiff_t(best));
        cached_ -= block.second;
        return HostBlock(block.first, HostBlockReturn{block.second});
      }
    }
    return HostBlock(new char[bytes == 0 ? 1 : bytes], HostBlockReturn{bytes});
  }

  void give(char* p, std::size_t capacity) noexcept {
    if (capacity >= kMinBytes && capacity <= kMaxBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      try {
        blocks_.emplace_back(p, capacity);
        cached_ += capacity;
        p = nullptr;
      } catch (...) {
      }
      while (blocks_.size() > kMaxBlocks || cached_ > kMaxBytes) {  // drop the oldest
        delete[] blocks_.front().first;
        cached_ -= blocks_.front().second;
        blocks_.erase(blocks_.begin());
      }
    }
    delete[] p;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<char*, std::size_t>> blocks_;
  std::size_t cached_ = 0;
};

}  // namespace

void HostBlockReturn::operator()(char* p) const noexcept {
  if (!p) return;
#if CUDA_SSIM_WITH_CUDA
  if (pinned) return givePinnedBlock(p, capacity);
#endif
  HostBlockCache::instance().give(p, capacity);
}

HostBlock takeHostBlock(std::size_t bytes) { return HostBlockCache::instance().take(bytes); }

OwnedHost::~OwnedHost() = default;

void OwnedHost::pin(const Operand& op) {
  if (!op.device) return;
  op.device->pin();
  pinned_.push_back(op.device);
}

HostBlock OwnedHost::block(Operand& op) {
#if CUDA_SSIM_WITH_CUDA
  if (preferPinned_) {
    std::size_t capacity = 0;
    if (char* p = takePinnedBlock(op.bytes, &capacity)) {
      op.pinned = true;
      return HostBlock(p, HostBlockReturn{capacity, true});
    }
  }
#endif
  op.pinned = false;
  pageable_++;
  return takeHostBlock(op.bytes);
}

void OwnedHost::input(napi_env, Operand& op) {
  pin(op);
  if (!op.host) return;
  HostBlock copy = block(op);
  std::memcpy(copy.get(), op.host, op.bytes);
  op.host = copy.get();
  inputs_.push_back(std::move(copy));
}

void OwnedHost::output(napi_env env, Operand& op) {
  pin(op);
  if (!op.host) return;
  Output out;
  out.data = block(op);
  out.bytes = op.bytes;
  out.name = op.name;
  checkNapi(napi_create_reference(env, op.view, 1, &out.view), "napi_create_reference");
  op.host = out.data.get();
  outputs_.push_back(std::move(out));
}

std::unique_ptr<CodedError> OwnedHost::deliver(napi_env env) noexcept {
  try {
    std::vector<HostMemory> targets;
    for (const Output& out : outputs_) {
      napi_value view = nullptr;
      HostMemory mem;
      if (napi_get_reference_value(env, out.view, &view) != napi_ok || view == nullptr || !typedArrayMemory(env, view, &mem)) {
        return std::make_unique<CodedError>("ERR_SSIM_INTERNAL", std::string("cuda-ssim internal check failed: ") + out.name + " could not be read back");
      }
      if (mem.detached || mem.bytes != out.bytes) {
        return std::make_unique<CodedError>("ERR_SSIM_DETACHED", std::string("Expected ") + out.name +
                                                                     " to keep its memory until the call settled, but its ArrayBuffer was detached (transferred) meanwhile; nothing was written");
      }
      targets.push_back(mem);
    }
    for (std::size_t i = 0; i < outputs_.size(); i++) std::memcpy(targets[i].data, outputs_[i].data.get(), outputs_[i].bytes);
    return nullptr;
  } catch (...) {
    return std::make_unique<CodedError>("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory");
  }
}

void OwnedHost::release(napi_env env) noexcept {
  for (Output& out : outputs_) {
    if (out.view) napi_delete_reference(env, out.view);
    out.view = nullptr;
  }
  for (DeviceBuffer* b : pinned_) b->unpin(env);
  pinned_.clear();
}

Napi::Promise queueJob(Napi::Env env, Napi::Object keepAlive, std::function<void()> work, std::unique_ptr<OwnedHost> host,
                       const char* name) {
  auto call = std::make_unique<AsyncCall>();
  call->run = std::move(work);
  call->host = std::move(host);
  napi_value promise = nullptr;
  napi_value resourceName = nullptr;
  checkNapi(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resourceName), "napi_create_string_utf8");
  checkNapi(napi_create_reference(env, keepAlive, 1, &call->keepAlive), "napi_create_reference");
  napi_status status = napi_create_async_work(env, nullptr, resourceName, executeCall, completeCall, call.get(), &call->work);
  if (status != napi_ok) {
    call->host->release(env);
    napi_delete_reference(env, call->keepAlive);
    internalError("napi_create_async_work failed");
  }
  status = napi_create_promise(env, &call->deferred, &promise);
  if (status == napi_ok) status = napi_queue_async_work(env, call->work);
  if (status != napi_ok) {
    call->host->release(env);
    napi_delete_reference(env, call->keepAlive);
    napi_delete_async_work(env, call->work);
    // a created deferred that is never settled is collected with its promise
    internalError("queueing the asynchronous call failed");
  }
  call.release();  // completeCall owns it now
  return Napi::Promise(env, promise);
}

Napi::Promise rejectedJob(Napi::Env env, const CodedError& e) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(toJsError(env, e).Value());
  return deferred.Promise();
}

#if CUDA_SSIM_WITH_CUDA

DeviceCall::DeviceCall(int device, const CallerStream& caller)
    : device_(device), ctx_(deviceContext(device)), lock_(ctx_.mutex), stream_(caller.given ? callerStream(caller, device) : ctx_.stream) {}

DeviceCall::~DeviceCall() {
  // Leaving by an exception after queueing copies: they may still read or write the call's host
  // blocks, page-locked (truly asynchronous copies), which go back to a cache for the next call.
  if (hostTraffic_ && std::uncaught_exceptions() > 0 && cudaStreamSynchronize(stream_) != cudaSuccess) cudaGetLastError();
  for (auto& t : temporaries_) countedFreeAsync(t.first, t.second, stream_);
}

void* DeviceCall::temporary(std::size_t bytes) {
  void* p = countedMallocAsync(bytes, stream_);
  temporaries_.emplace_back(p, bytes);
  return p;
}

const void* DeviceCall::input(const Operand& op) {
  if (op.device) return op.device->data();
  void* d = temporary(op.bytes);
  uploadFromHost(device_, d, op.host, op.bytes, op.pinned, stream_);
  hostTraffic_ = true;
  return d;
}

float* DeviceCall::output(const Operand& op) {
  if (!op.present()) return nullptr;
  return static_cast<float*>(op.device ? op.device->data() : temporary(op.bytes));
}

void DeviceCall::download(const Operand& op, const float* src) {
  if (!op.host) return;
  downloadToHost(device_, op.host, src, op.bytes, op.pinned, stream_);
  hostTraffic_ = true;
}

void DeviceCall::finish(bool waitForDevice, const char* what) {
  if (streamCompletion()) return;  // the stream settles the promise (stream_job.cc)
  if (hostTraffic_ || waitForDevice) checkCuda(cudaStreamSynchronize(stream_), what);
}

#endif

}  // namespace cudassim
