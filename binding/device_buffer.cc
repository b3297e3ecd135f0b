#include "device_buffer.h"

#include <cstdint>
#include <string>

#include "cuda_context.h"
#include "errors.h"
#include "host_memory.h"
#include "host_staging.h"
#include "interop.h"

namespace cudassim {

namespace {
// Every DeviceBuffer object carries this tag from its construction: the tag, not `instanceof`,
// says an argument is one (a prototype can be faked; a type tag cannot, and checking it is cheaper).
constexpr napi_type_tag kDeviceBufferTag = {0x637564617373696dULL, 0x446576427566ULL};

// The typed array's memory as Node-API reports it (SharedArrayBuffer-backed arrays too).
HostMemory hostView(const Napi::Value& v, const char* name) {
  HostMemory mem;
  if (!typedArrayMemory(v.Env(), v, &mem)) throw CodedError("ERR_SSIM_INVALID_ARGUMENT", std::string("Expected a typed array for ") + name, ErrorKind::TypeError);
  if (mem.detached) throw CodedError("ERR_SSIM_DETACHED", std::string("Expected the ") + name + " to hold memory but its ArrayBuffer was detached (transferred)");
  return mem;
}
}  // namespace

Napi::Function DeviceBuffer::Init(Napi::Env env) {
  Napi::Function cls = DefineClass(env, "DeviceBuffer",
                                   {InstanceAccessor<&DeviceBuffer::GetByteLength>("byteLength"),
                                    InstanceAccessor<&DeviceBuffer::GetDevice>("device"),
                                    InstanceAccessor<&DeviceBuffer::GetFreed>("freed"),
                                    InstanceAccessor<&DeviceBuffer::GetAddress>("address"),
                                    InstanceMethod<&DeviceBuffer::Upload>("upload"),
                                    InstanceMethod<&DeviceBuffer::Download>("download"),
                                    InstanceMethod<&DeviceBuffer::Zero>("zero"),
                                    InstanceMethod<&DeviceBuffer::Free>("free")});
  return cls;
}

bool DeviceBuffer::IsInstance(Napi::Value v) {
  bool tagged = false;
  // napi_object_expected for a non-object: not a DeviceBuffer
  return napi_check_object_type_tag(v.Env(), v, &kDeviceBufferTag, &tagged) == napi_ok && tagged;
}

DeviceBuffer* DeviceBuffer::Unwrap(Napi::Value v) {
  return IsInstance(v) ? Napi::ObjectWrap<DeviceBuffer>::Unwrap(v.As<Napi::Object>()) : nullptr;
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  Napi::Env env = info.Env();
  try {
    if (napi_type_tag_object(env, info.This(), &kDeviceBufferTag) != napi_ok) internalError("napi_type_tag_object failed");
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) internalError("DeviceBuffer(device, byteLength[, address])");
    device_ = info[0].As<Napi::Number>().Int32Value();
    const double bytes = info[1].As<Napi::Number>().DoubleValue();
    if (!(bytes >= 0) || bytes > 9.0e15) internalError("DeviceBuffer byteLength out of range");
    bytes_ = std::size_t(bytes);
    if (info.Length() >= 3 && !info[2].IsUndefined()) {
      if (!info[2].IsBigInt()) internalError("DeviceBuffer address is not a bigint");
      bool lossless = false;
      const std::uint64_t address = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless || address == 0) internalError("DeviceBuffer address out of range");
      owned_ = false;
#if CUDA_SSIM_WITH_CUDA
      deviceContext(device_);  // checks the device, makes it current
      requireDeviceMemory(reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), device_);
      ptr_ = reinterpret_cast<void*>(static_cast<std::uintptr_t>(address));
#else
      throwBuiltWithoutCuda();
#endif
      return;  // a view: nothing allocated, nothing reported to V8
    }
#if CUDA_SSIM_WITH_CUDA
    DeviceContext& ctx = deviceContext(device_);
    std::lock_guard<std::mutex> lock(ctx.mutex);
    ptr_ = countedMalloc(bytes_);
#else
    throwBuiltWithoutCuda();
#endif
  } catch (const CodedError& e) {
    throw toJsError(env, e);
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, int64_t(bytes_));
  reported_ = true;
}

DeviceBuffer::~DeviceBuffer() { release(nullptr); }

void DeviceBuffer::Finalize(Napi::Env env) { release(&env); }

void DeviceBuffer::release(Napi::Env* env) {
  if (!ptr_) return;
#if CUDA_SSIM_WITH_CUDA
  if (owned_) {  // a view's memory belongs to the library that allocated it
    cudaSetDevice(device_);
    countedFree(ptr_, bytes_);
  }
#endif
  ptr_ = nullptr;
  if (reported_ && env) {
    // The C call: this also runs from finalizers while an environment is torn down, where the
    // C++ wrapper's throw on failure would end the process.
    int64_t adjusted = 0;
    napi_adjust_external_memory(*env, -int64_t(bytes_), &adjusted);
    reported_ = false;
  }
}

void DeviceBuffer::unpin(napi_env env) {
  if (--pins_ > 0 || !freeRequested_) return;
  Napi::Env e(env);
  release(&e);
}

void DeviceBuffer::requireLive(const char* what) const {
  if (freed()) throw CodedError("ERR_SSIM_DISPOSED", std::string("Cannot ") + what + " a disposed device array");
}

Napi::Value DeviceBuffer::GetByteLength(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(bytes_)); }
Napi::Value DeviceBuffer::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
Napi::Value DeviceBuffer::GetFreed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed()); }
// The device address as a bigint (0n once freed), for other libraries' kernels.
Napi::Value DeviceBuffer::GetAddress(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<std::uint64_t>(freed() ? 0 : reinterpret_cast<std::uintptr_t>(ptr_)));
}

// Both directions wait for the copy: an upload's source is JS memory that may change as soon as
// we return, and a download's destination is read by JS right after. Large copies go through the
// pinned staging buffers, as a call's host arrays do (the driver's own pageable path runs at a
// fraction of the bus's speed, and at 1 GB/s into a fresh array).
void DeviceBuffer::copyHost(const Napi::CallbackInfo& info, bool toDevice) {
  try {
    requireLive(toDevice ? "upload to" : "download from");
    HostMemory host = hostView(info[0], toDevice ? "source" : "destination");
    if (host.bytes > bytes_) internalError("copy larger than the device buffer");
#if CUDA_SSIM_WITH_CUDA
    DeviceContext& ctx = deviceContext(device_);
    std::lock_guard<std::mutex> lock(ctx.mutex);  // the staging buffers' lock too
    if (toDevice) uploadFromHost(device_, ptr_, host.data, host.bytes, false, ctx.stream);
    else downloadToHost(device_, host.data, ptr_, host.bytes, false, ctx.stream);
    checkCuda(cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize");
#endif
  } catch (const CodedError& e) {
    throw toJsError(info.Env(), e);
  }
}

void DeviceBuffer::Upload(const Napi::CallbackInfo& info) { copyHost(info, true); }
void DeviceBuffer::Download(const Napi::CallbackInfo& info) { copyHost(info, false); }

void DeviceBuffer::Zero(const Napi::CallbackInfo& info) {
  try {
    requireLive("zero");
#if CUDA_SSIM_WITH_CUDA
    DeviceContext& ctx = deviceContext(device_);
    std::lock_guard<std::mutex> lock(ctx.mutex);
    countedMemsetAsync(ptr_, bytes_, ctx.stream);
    // Done before returning: a call on another stream (opts.stream) may use the memory next.
    checkCuda(cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize");
#endif
  } catch (const CodedError& e) {
    throw toJsError(info.Env(), e);
  }
}

void DeviceBuffer::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pins_ > 0) {
    freeRequested_ = true;  // a promise call still uses it: the last one to settle frees it
    return;
  }
#if CUDA_SSIM_WITH_CUDA
  if (ptr_ && owned_) {
    // Work already queued on the stream may still read this buffer.
    DeviceContext& ctx = deviceContext(device_);
    std::lock_guard<std::mutex> lock(ctx.mutex);
    cudaStreamSynchronize(ctx.stream);
    release(&env);
    return;
  }
#endif
  release(&env);
}

}  // namespace cudassim
