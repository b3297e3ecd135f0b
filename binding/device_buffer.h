// DeviceBuffer: a block of device memory owned by a JS object (lib/ wraps it as DeviceArray
// and Workspace). Freed by free() or, failing that, by the garbage collector's finalizer.
#pragma once

#include <napi.h>

#include <cstddef>

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
  bool freed() const { return ptr_ == nullptr; }

 private:
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetFreed(const Napi::CallbackInfo& info);
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
};

}  // namespace cudassim
