// Promise calls completed from the device's stream (job.h, queueStreamJob): a CUDA call whose host
// copies are all page-locked is enqueued on the JavaScript thread, as the synchronous call is, with
// an event recorded after it; a waiter thread per device waits for the events in order
// (polling cudaEventQuery for up to 1 ms, then cudaEventSynchronize) and hands each finished
// call back to its JavaScript thread through a thread-safe function. No libuv worker waits in a
// synchronise (that cost 40 to 200 us per call over the sync call). A host callback on the stream
// (cudaStreamAddCallback) was tried first: no faster than the worker (0.081 ms against 0.074 to
// 0.083 per fhd_1ch promise call, H200; docs/PERFORMANCE.md, "Promise calls and host arrays").
//
// Lifetime: a call owns its host copies (OwnedHost) and pins its device buffers until it settles.
// If the environment is torn down (a worker thread terminated, process.exit) with calls in flight,
// its cleanup hook waits until the device has done them, then releases what they hold; their
// promises are never settled. The hook is added after the thread-safe function's own (hooks run
// last-added first), so the function is still alive while the hook waits for the waiters.
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <thread>
#include <vector>
#include <mutex>
#include <string>
#include <unordered_set>

#include "job.h"

#if CUDA_SSIM_WITH_CUDA

namespace cudassim {

namespace {

struct EnvCalls;

struct StreamCall {
  EnvCalls* owner = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keepAlive = nullptr;
  std::unique_ptr<OwnedHost> host;
  cudaError_t status = cudaSuccess;  // what the stream reported (callback thread, under owner->mutex)
  bool deviceDone = false;
};

// One per environment (JS thread), created on its first stream call.
struct EnvCalls {
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  std::mutex mutex;
  std::condition_variable cv;
  std::unordered_set<StreamCall*> live;  // queued, not settled
  int posting = 0;                       // callbacks inside napi_call_threadsafe_function
  bool closing = false;                  // the environment is being torn down
  bool referenced = false;               // tsfn keeps the event loop alive (calls in flight)
};

thread_local EnvCalls* currentEnvCalls = nullptr;
thread_local bool runningStreamWork = false;

void destroyCall(napi_env env, StreamCall* call) noexcept {
  call->host->release(env);
  if (call->keepAlive) napi_delete_reference(env, call->keepAlive);
  delete call;
}

// JS thread: the stream passed the call's work (or, env == nullptr, the function is being torn
// down: the cleanup hook owns what is left).
void settleFromStream(napi_env env, napi_value, void* context, void* data) {
  if (env == nullptr) return;
  auto* ec = static_cast<EnvCalls*>(context);
  auto* call = static_cast<StreamCall*>(data);
  {
    std::lock_guard<std::mutex> lock(ec->mutex);
    if (ec->closing) return;
    ec->live.erase(call);
    if (ec->live.empty() && ec->referenced) {
      napi_unref_threadsafe_function(env, ec->tsfn);
      ec->referenced = false;
    }
  }
  std::unique_ptr<CodedError> error;
  if (call->status != cudaSuccess) {
    cudaGetLastError();
    error = std::make_unique<CodedError>("ERR_SSIM_CUDA", std::string("CUDA error in the SSIM kernels (completing): ") +
                                                              cudaGetErrorName(call->status) + " (" + cudaGetErrorString(call->status) + ")");
  }
  settleDeferred(env, call->deferred, std::move(error), *call->host);
  destroyCall(env, call);
}

// A waiter thread: the device has done the call (status: what the event reported).
void deviceReached(StreamCall* call, cudaError_t status) {
  EnvCalls* ec = call->owner;
  napi_threadsafe_function tsfn = nullptr;
  {
    std::lock_guard<std::mutex> lock(ec->mutex);
    call->status = status;
    call->deviceDone = true;
    if (!ec->closing && ec->tsfn) {
      tsfn = ec->tsfn;
      ec->posting++;
    }
    ec->cv.notify_all();
  }
  if (!tsfn) return;
  // napi_closing only while the environment goes away: the cleanup hook then releases the call.
  napi_call_threadsafe_function(tsfn, call, napi_tsfn_nonblocking);
  std::lock_guard<std::mutex> lock(ec->mutex);
  ec->posting--;
  ec->cv.notify_all();
}

// One per device, never destroyed: a thread that waits for the events of the device's stream
// calls in the order they were recorded, and a pool of their events.
class Waiter {
 public:
  static Waiter& of(int device) {
    static std::mutex creation;
    static auto* all = new std::vector<Waiter*>();
    std::lock_guard<std::mutex> lock(creation);
    if (all->size() <= std::size_t(device)) all->resize(std::size_t(device) + 1, nullptr);
    Waiter*& w = (*all)[std::size_t(device)];
    if (!w) w = new Waiter(device);
    return *w;
  }

  // JS thread, device current: an event from the pool (created on first need).
  cudaEvent_t takeEvent() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!events_.empty()) {
        cudaEvent_t e = events_.back();
        events_.pop_back();
        return e;
      }
    }
    cudaEvent_t e = nullptr;
    checkCuda(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    return e;
  }
  void giveEvent(cudaEvent_t e) {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      events_.push_back(e);
    } catch (...) {
      cudaEventDestroy(e);
    }
  }

  // JS thread: `e` was recorded after the call's work.
  void enqueue(cudaEvent_t e, StreamCall* call) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back({e, call});
    }
    cv_.notify_one();
  }

 private:
  struct Pending {
    cudaEvent_t event;
    StreamCall* call;
  };

  explicit Waiter(int device) : device_(device) { std::thread([this] { loop(); }).detach(); }

  void loop() {
    cudaSetDevice(device_);
    for (;;) {
      Pending p;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        p = queue_.front();
        queue_.pop_front();
      }
      const cudaError_t status = wait(p.event);
      giveEvent(p.event);
      deviceReached(p.call, status);
    }
  }

  // Polls for up to 1 ms (a promise call's latency is this thread seeing the event plus the JS
  // thread waking up), then blocks in cudaEventSynchronize. Waiting in cudaEventSynchronize from
  // the start cost 30 to 80 us over the sync call on the H200's fhd_3ch, b32_3ch and 4K rows;
  // polling, 15 to 20 (docs/PERFORMANCE.md).
  static cudaError_t wait(cudaEvent_t e) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
    for (unsigned i = 0;; ++i) {
      const cudaError_t status = cudaEventQuery(e);
      if (status != cudaErrorNotReady) return status;
      if ((i & 15) == 15 && std::chrono::steady_clock::now() > end) break;
    }
    return cudaEventSynchronize(e);
  }

  int device_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::vector<cudaEvent_t> events_;
};

void finalizeEnvCalls(napi_env, void* data, void*) { delete static_cast<EnvCalls*>(data); }

void cleanupEnvCalls(void* arg) {
  auto* ec = static_cast<EnvCalls*>(arg);
  std::unordered_set<StreamCall*> calls;
  {
    std::unique_lock<std::mutex> lock(ec->mutex);
    ec->closing = true;
    ec->cv.wait(lock, [&] {
      if (ec->posting > 0) return false;
      for (StreamCall* c : ec->live) {
        if (!c->deviceDone) return false;
      }
      return true;
    });
    calls.swap(ec->live);
  }
  for (StreamCall* c : calls) destroyCall(ec->env, c);
  if (currentEnvCalls == ec) currentEnvCalls = nullptr;
  napi_threadsafe_function tsfn = ec->tsfn;
  ec->tsfn = nullptr;
  // The function's finalizer deletes ec.
  if (tsfn) napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
}

void checkNapi(napi_status status, const char* what) {
  if (status != napi_ok) internalError(std::string(what) + " failed");
}

EnvCalls* envCalls(napi_env env) {
  if (currentEnvCalls && currentEnvCalls->env == env) return currentEnvCalls;
  auto ec = std::make_unique<EnvCalls>();
  ec->env = env;
  napi_value name = nullptr;
  checkNapi(napi_create_string_utf8(env, "cuda-ssim:stream", NAPI_AUTO_LENGTH, &name), "napi_create_string_utf8");
  checkNapi(napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, ec.get(), finalizeEnvCalls, ec.get(),
                                            settleFromStream, &ec->tsfn),
            "napi_create_threadsafe_function");
  EnvCalls* raw = ec.release();  // the function's finalizer owns it now
  napi_unref_threadsafe_function(env, raw->tsfn);
  if (napi_add_env_cleanup_hook(env, cleanupEnvCalls, raw) != napi_ok) {
    napi_threadsafe_function tsfn = raw->tsfn;
    raw->tsfn = nullptr;
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    internalError("napi_add_env_cleanup_hook failed");
  }
  currentEnvCalls = raw;
  return raw;
}

struct StreamWork {
  StreamWork() { runningStreamWork = true; }
  ~StreamWork() { runningStreamWork = false; }
};

}  // namespace

bool streamCompletion() { return runningStreamWork; }

bool deviceIdle(int device) noexcept {
  try {
    DeviceContext& ctx = deviceContext(device);
    if (!ctx.mutex.try_lock()) return false;
    ctx.mutex.unlock();
  } catch (...) {
    // a bad device: the call reports it, whichever path it takes
  }
  return true;
}


Napi::Promise queueStreamJob(Napi::Env env, Napi::Object keepAlive, std::function<void()> work, std::unique_ptr<OwnedHost> host,
                             int device) {
  EnvCalls* ec = envCalls(env);
  auto call = std::make_unique<StreamCall>();
  call->owner = ec;
  call->host = std::move(host);
  napi_value promise = nullptr;
  if (napi_create_promise(env, &call->deferred, &promise) != napi_ok) {
    call->host->release(env);
    internalError("napi_create_promise failed");
  }
  std::unique_ptr<CodedError> error;
  cudaStream_t queuedOn = nullptr;  // set once work() has queued the call
  try {
    StreamWork scope;
    work();
    DeviceContext& ctx = deviceContext(device);
    queuedOn = ctx.stream;
    checkNapi(napi_create_reference(env, keepAlive, 1, &call->keepAlive), "napi_create_reference");
    {
      std::lock_guard<std::mutex> lock(ec->mutex);
      ec->live.insert(call.get());
      if (!ec->referenced) {
        napi_ref_threadsafe_function(env, ec->tsfn);
        ec->referenced = true;
      }
    }
    Waiter& waiter = Waiter::of(device);
    cudaEvent_t event = nullptr;
    cudaError_t status = cudaSuccess;
    try {
      event = waiter.takeEvent();
      status = cudaEventRecord(event, ctx.stream);
    } catch (const CodedError&) {
      status = cudaErrorMemoryAllocation;
    }
    if (status != cudaSuccess) {
      if (event) waiter.giveEvent(event);
      {
        std::lock_guard<std::mutex> lock(ec->mutex);
        ec->live.erase(call.get());
        if (ec->live.empty() && ec->referenced) {
          napi_unref_threadsafe_function(env, ec->tsfn);
          ec->referenced = false;
        }
      }
      checkCuda(status, "recording the call's completion event");
    }
    waiter.enqueue(event, call.get());
  } catch (const CodedError& e) {
    error = std::make_unique<CodedError>(e);
  } catch (const std::bad_alloc&) {
    error = std::make_unique<CodedError>("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory");
  } catch (const std::exception& e) {
    error = std::make_unique<CodedError>("ERR_SSIM_INTERNAL", std::string("cuda-ssim internal error: ") + e.what());
  }
  if (error) {
    // Nothing of this call reaches the callback: settle it now. Device work it enqueued before
    // failing is ordered before any later free of its buffers (cudaFree waits for the device), but
    // its page-locked host blocks go back to a cache at once: its copies must be done first.
    if (queuedOn != nullptr && cudaStreamSynchronize(queuedOn) != cudaSuccess) cudaGetLastError();
    settleDeferred(env, call->deferred, std::move(error), *call->host);
    destroyCall(env, call.release());
  } else {
    call.release();  // settleFromStream or the cleanup hook owns it now
  }
  return Napi::Promise(env, promise);
}

}  // namespace cudassim

#endif
