// Promise calls completed from the device's stream (job.h, queueStreamJob): a CUDA call whose host
// copies are all page-locked is enqueued on the JavaScript thread, as the synchronous call is, and
// its promise settles when the stream reaches a host callback after the call's work, through a
// thread-safe function. No libuv worker waits in a synchronise (that cost 40 to 80 us per call).
//
// Lifetime: a call owns its host copies (OwnedHost) and pins its device buffers until it settles.
// If the environment is torn down (a worker thread terminated, process.exit) with calls in flight,
// its cleanup hook waits until the device has done them, then releases what they hold; their
// promises are never settled. The hook is added after the thread-safe function's own (hooks run
// last-added first), so the function is still alive while the hook waits for the callbacks.
#include <napi.h>

#include <condition_variable>
#include <memory>
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

// CUDA's callback thread: the stream reached the call. No CUDA calls here.
void CUDART_CB streamReached(cudaStream_t, cudaError_t status, void* data) {
  auto* call = static_cast<StreamCall*>(data);
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
  try {
    StreamWork scope;
    work();
    DeviceContext& ctx = deviceContext(device);
    checkNapi(napi_create_reference(env, keepAlive, 1, &call->keepAlive), "napi_create_reference");
    {
      std::lock_guard<std::mutex> lock(ec->mutex);
      ec->live.insert(call.get());
      if (!ec->referenced) {
        napi_ref_threadsafe_function(env, ec->tsfn);
        ec->referenced = true;
      }
    }
    const cudaError_t status = cudaStreamAddCallback(ctx.stream, streamReached, call.get(), 0);
    if (status != cudaSuccess) {
      {
        std::lock_guard<std::mutex> lock(ec->mutex);
        ec->live.erase(call.get());
        if (ec->live.empty() && ec->referenced) {
          napi_unref_threadsafe_function(env, ec->tsfn);
          ec->referenced = false;
        }
      }
      checkCuda(status, "cudaStreamAddCallback");
    }
  } catch (const CodedError& e) {
    error = std::make_unique<CodedError>(e);
  } catch (const std::bad_alloc&) {
    error = std::make_unique<CodedError>("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory");
  } catch (const std::exception& e) {
    error = std::make_unique<CodedError>("ERR_SSIM_INTERNAL", std::string("cuda-ssim internal error: ") + e.what());
  }
  if (error) {
    // Nothing of this call reaches the callback: settle it now. Device work it enqueued before
    // failing is ordered before any later free of its buffers (cudaFree waits for the device).
    settleDeferred(env, call->deferred, std::move(error), *call->host);
    destroyCall(env, call.release());
  } else {
    call.release();  // settleFromStream or the cleanup hook owns it now
  }
  return Napi::Promise(env, promise);
}

}  // namespace cudassim

#endif
