// What compute.cc and map.cc share: reading the arguments of a job that lib/ built (job_args.h) into
// a cudassim::SsimJob (every size checked again: the binding never trusts JS for memory safety), stream-ordered
// device temporaries, and running a job synchronously or on a libuv worker with coded errors.
#pragma once

#include <napi.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "cuda_context.h"
#include "device_buffer.h"
#include "errors.h"
#include "interop.h"
#include "job_args.h"
#include "common/ssim_types.h"

namespace cudassim {

// A job argument: host memory (a typed array: its memory as Node-API reports it) or a DeviceBuffer.
struct Operand {
  void* host = nullptr;
  DeviceBuffer* device = nullptr;
  std::size_t bytes = 0;
  const char* name = "";      // as the caller knows it: "x.data", "out", ...
  napi_value view = nullptr;  // the host typed array (valid on the JS thread during the entry call only)
  bool pinned = false;        // host points to page-locked memory (a promise call's copy): copied as it is
  bool present() const { return host || device; }
};

// The part of a job every entry point has: backend, device, shape, dtype, SSIM parameters, x, y.
struct ParsedInputs {
  bool cuda = false;
  int device = 0;
  SsimJob core;  // pointers are filled in when the job runs
  Operand x, y;
  CallerStream stream;  // opts.stream (CUDA only)
};

// A typed array or a live DeviceBuffer (ERR_SSIM_DISPOSED for a freed one); `optional`: null/undefined allowed.
// `name` (a string literal) is how errors call it. A typed array whose ArrayBuffer was detached is
// ERR_SSIM_DETACHED (the caller can do that, e.g. in an options getter, after lib/ checked it).
Operand jobOperand(const JobArgs& o, JobArg arg, const char* name, bool optional);
// ERR_SSIM_INVALID_ARGUMENT when an output shares memory with an input or another output: host
// operands by the addresses of their memory (so a view that lies about its `buffer` or two
// SharedArrayBuffer objects over one block are caught), device operands by their allocation.
void requireDisjoint(const Operand& output, const Operand& other);
// ERR_SSIM_INTERNAL unless op holds `bytes` (exact: exactly; else at least). Absent operands pass.
void requireBytes(const Operand& op, std::size_t bytes, bool exact, const char* name);
// ERR_SSIM_INTERNAL for a device operand on the CPU backend or on another device.
void requireJobDevice(const ParsedInputs& j, const Operand& op);

// Reads backend, device, batch/channels/height/width/layout, dtype, windowSize, sigma, c1, c2,
// inputScale, valid, valueOffset, valueScale, x, y and stream, and checks x's and y's sizes and devices.
ParsedInputs parseInputs(const JobArgs& o);

// A job's outputs and workspace: out (batch float32 values), grad (`gradBytes` bytes) and
// opts.workspace (a DeviceBuffer), at least one of out and grad, each on the inputs' backend and
// device, the outputs sharing memory with nothing else. The workspace's size is the caller's check.
struct JobOutputs {
  Operand out, grad, workspace;
};
JobOutputs parseOutputs(const JobArgs& o, const ParsedInputs& in, std::size_t gradBytes);

// Runs `work` (which may throw CodedError / std::bad_alloc / std::exception) and turns what it
// throws into a JS error with a code.
Napi::Value runSyncJob(Napi::Env env, const std::function<void()>& work);

// Host memory blocks for the copies of promise calls. Blocks of 64 KiB and more go back to a small
// process-wide cache when released (at most 16 blocks, 512 MiB), and a request takes the smallest
// cached block that holds it without wasting more than half: a fresh block costs a page fault per
// page on first touch, which for image-sized blocks costs more than the copy itself.
struct HostBlockReturn {
  std::size_t capacity = 0;
  bool pinned = false;  // a pinned block (host_staging.h), not one of this cache's
  void operator()(char* p) const noexcept;
};
using HostBlock = std::unique_ptr<char[], HostBlockReturn>;
HostBlock takeHostBlock(std::size_t bytes);

// What an asynchronous call owns so that the caller's memory may go away while it runs (an
// ArrayBuffer transferred to another thread or realm and collected there, a worker ended): host
// inputs are copied into native memory on the JS thread, host outputs are computed into native
// memory and copied into the caller's arrays on completion, if those still hold their memory
// (ERR_SSIM_DETACHED otherwise; then no output is written).
class OwnedHost {
 public:
  OwnedHost() = default;
  OwnedHost(const OwnedHost&) = delete;
  OwnedHost& operator=(const OwnedHost&) = delete;
  ~OwnedHost();

  // JS thread. A host operand is copied (input) or given a block (output) and op then points
  // there; a device operand is pinned until release (DeviceBuffer::pin); absent ones are skipped.
  void input(napi_env env, Operand& op);
  void output(napi_env env, Operand& op);
  // JS thread: pins a device operand (e.g. the workspace) for the call's life.
  void pin(const Operand& op);
  // Before input/output: copies go to page-locked blocks where they fit (CUDA calls), so that the
  // device copies them without the host waiting.
  void preferPinned(bool on) { preferPinned_ = on; }
  // Every host copy is in page-locked memory (or there is none): the call can be enqueued on the
  // JS thread and completed from the stream (stream_job.h).
  bool allPinned() const { return pageable_ == 0; }
  // JS thread, after the work: copies the outputs back; the error (nothing copied) if one went away.
  std::unique_ptr<CodedError> deliver(napi_env env) noexcept;
  // JS thread: drops the references to the caller's output arrays, unpins the device buffers.
  void release(napi_env env) noexcept;

 private:
  struct Output {
    napi_ref view = nullptr;
    HostBlock data;
    std::size_t bytes = 0;
    const char* name = "";
  };
  std::vector<HostBlock> inputs_;
  std::vector<Output> outputs_;
  std::vector<DeviceBuffer*> pinned_;
  bool preferPinned_ = false;
  int pageable_ = 0;  // host copies in pageable blocks
  HostBlock block(Operand& op);
};

// promise calls: what the call owns (OwnedHost) of its inputs and outputs, and the workspace pinned.
void ownOperands(ParsedInputs& in, JobOutputs& out, OwnedHost& host, napi_env env);

// Queues `work` on a libuv worker; the promise resolves when it returned and `host` delivered the
// outputs, or rejects with a coded error. `keepAlive` (the job object) holds the job's arrays and
// device buffers until then. If the environment is being torn down (a worker thread terminated)
// when the work completes, nothing is settled and nothing is thrown: only that thread ends.
Napi::Promise queueJob(Napi::Env env, Napi::Object keepAlive, std::function<void()> work, std::unique_ptr<OwnedHost> host,
                       const char* name);

// Settles `deferred`: rejects with `error`, or with what host.deliver reports, or resolves.
// Plain Node-API calls only; does nothing while the environment is going away.
void settleDeferred(napi_env env, napi_deferred deferred, std::unique_ptr<CodedError> error, OwnedHost& host) noexcept;

#if CUDA_SSIM_WITH_CUDA
// Runs `work` (the call's launches, with host-side waits skipped: DeviceCall::finish) on the JS
// thread, then settles the promise from the device's stream when the device has done it
// (stream_job.cc). For CUDA jobs whose host copies are all page-locked.
Napi::Promise queueStreamJob(Napi::Env env, Napi::Object keepAlive, std::function<void()> work, std::unique_ptr<OwnedHost> host,
                             int device);
// True on a thread running a queueStreamJob's work: DeviceCall::finish does not wait.
bool streamCompletion();
// False while another thread holds the device's call lock (e.g. a large host-array upload on a
// worker): a promise call then takes the worker instead of blocking the JS thread. A hint only.
bool deviceIdle(int device) noexcept;
#endif

// A rejected promise for an error thrown while a job was being parsed.
Napi::Promise rejectedJob(Napi::Env env, const CodedError& e);

// The two entry points of a kind of job. `parse` reads the job's arguments on the JS thread; `run`
// computes it, told whether the device must have finished when it returns: not for the
// synchronous entry (device-only work may stay queued on the stream), always on the worker
// (the promise means done).
template <typename Job>
Napi::Value syncJobEntry(const Napi::CallbackInfo& info, const char* entry, Job (*parse)(const JobArgs&),
                         void (*run)(Job&, bool)) {
  return runSyncJob(info.Env(), [&] {
    Job job = parse(JobArgs(info, entry));
    run(job, false);
  });
}

// `own` hands the job's host inputs and outputs to an OwnedHost (OwnedHost::input / output).
template <typename Job>
Napi::Value asyncJobEntry(const Napi::CallbackInfo& info, const char* entry, const char* resourceName,
                          Job (*parse)(const JobArgs&), void (*own)(Job&, OwnedHost&, napi_env),
                          void (*run)(Job&, bool)) {
  Napi::Env env = info.Env();
  try {
    const JobArgs args(info, entry);
    auto job = std::make_shared<Job>(parse(args));
    auto host = std::make_unique<OwnedHost>();
    host->preferPinned(job->cuda);
    own(*job, *host, env);
#if CUDA_SSIM_WITH_CUDA
    // CUDA calls whose host copies are all page-locked: enqueued here, completed from the stream
    // (unless the device is busy with another thread's call, or the call runs on a caller's
    // stream: the completion event is recorded on ours).
    if (job->cuda && !job->stream.given && host->allPinned() && deviceIdle(job->device)) {
      return queueStreamJob(env, args.job(), [job, run] { run(*job, false); }, std::move(host), job->device);
    }
#endif
    return queueJob(env, args.job(), [job, run] { run(*job, true); }, std::move(host), resourceName);
  } catch (const CodedError& e) {
    return rejectedJob(env, e);
  } catch (const std::bad_alloc&) {
    return rejectedJob(env, CodedError("ERR_SSIM_OUT_OF_MEMORY", "cuda-ssim: out of host memory"));
  }
}

#if CUDA_SSIM_WITH_CUDA

// One call on a device: holds the device's stream for the call (its mutex keeps the call's
// launches contiguous), uploads host operands into stream-ordered temporaries, downloads host
// outputs, and releases the temporaries on every path out of it. With a caller's stream
// (opts.stream) everything is enqueued there instead; a device-only call with a workspace then
// allocates nothing and never waits for the device (stream capture into a CUDA graph works).
class DeviceCall {
 public:
  explicit DeviceCall(int device, const CallerStream& caller = CallerStream());
  ~DeviceCall();
  DeviceCall(const DeviceCall&) = delete;
  DeviceCall& operator=(const DeviceCall&) = delete;

  cudaStream_t stream() const { return stream_; }
  void* temporary(std::size_t bytes);
  // The operand's device memory: a DeviceBuffer's own, or a temporary holding the uploaded host data.
  const void* input(const Operand& op);
  // Where a kernel writes the operand: a DeviceBuffer's memory or a temporary (null if absent).
  float* output(const Operand& op);
  // Copies `src` back into a host operand (no-op for device or absent operands).
  void download(const Operand& op, const float* src);
  // Waits for the stream when the call moved host data (or the caller must know the work is done).
  void finish(bool waitForDevice, const char* what);

 private:
  int device_;
  DeviceContext& ctx_;
  std::lock_guard<std::mutex> lock_;
  cudaStream_t stream_;
  std::vector<std::pair<void*, std::size_t>> temporaries_;
  bool hostTraffic_ = false;
};

#endif

}  // namespace cudassim
