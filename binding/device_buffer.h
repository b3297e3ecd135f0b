// DeviceBuffer: a block of device memory owned by a JS object (lib/ wraps it as DeviceArray
// and Workspace). Freed by free() or, failing that, by the garbage collector's finalizer.
// A view (new DeviceBuffer(device, byteLength, address): DeviceArray.fromPointer) wraps memory
// that another library allocated: it is never freed here, free() only drops the view.
#pragma once

#include <napi.h>

#include <cstddef>
#include <mutex>

#include "common/ssim_types.h"

namespace cudassim {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Init(Napi::Env env);
  static bool IsInstance(Napi::Value v);
  static DeviceBuffer* Unwrap(Napi::Value v);  // nullptr if v is not a DeviceBuffer

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  ~DeviceBuffer() override;
  void Finalize(Napi::Env env) override;  // GC: free what dispose() did not

  void* data() const { return ptr_; }
  std::size_t byteLength() const { return bytes_; }
  int device() const { return device_; }
  bool owned() const { return owned_; }
  // Freed for JS (free() was called or the memory is gone); the memory itself may outlive this
  // while promise calls that use it are in flight (pin).
  bool freed() const { return ptr_ == nullptr || freeRequested_; }

  // JS thread. A promise call pins the buffers it uses from queueing until it settles: free()
  // meanwhile only marks the buffer freed, and the memory goes when the last such call unpins.
  void pin() { ++pins_; }
  void unpin(napi_env env);

  // Used as a workspace by a call whose reduction states are `states` (any thread): held while
  // the call enqueues, so that calls sharing the buffer enqueue one at a time. needsZeroing: the
  // last call had other state spans and may have written over these (a Workspace is zeroed when
  // it is made), so this call zeroes them first, stream-ordered after that call.
  class WorkspaceUse {
   public:
    WorkspaceUse(DeviceBuffer& b, const StateSpans& states) : lock_(b.layoutMutex_) {
      needsZeroing = b.states_.count > 0 && !(b.states_ == states);
      b.states_ = states;
    }
    bool needsZeroing = false;

   private:
    std::lock_guard<std::mutex> lock_;
  };

 private:
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetFreed(const Napi::CallbackInfo& info);
  Napi::Value GetAddress(const Napi::CallbackInfo& info);
  void Upload(const Napi::CallbackInfo& info);
  void Download(const Napi::CallbackInfo& info);
  void Zero(const Napi::CallbackInfo& info);
  void Free(const Napi::CallbackInfo& info);
  void copyHost(const Napi::CallbackInfo& info, bool toDevice);
  void release(Napi::Env* env);
  void requireLive(const char* what) const;

  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = 0;
  bool reported_ = false;  // external memory reported to V8
  int pins_ = 0;           // promise calls in flight that use this buffer (JS thread only)
  bool freeRequested_ = false;
  bool owned_ = true;      // false for a view of another library's memory
  std::mutex layoutMutex_;
  StateSpans states_;       // of the last call that used this buffer as a workspace
};

}  // namespace cudassim
