// The memory of a host typed array as Node-API reports it (the ArrayBuffer's or SharedArrayBuffer's
// store, the view's offset and element count), never the view's own properties: `buffer`,
// `byteOffset`, `length` and `byteLength` can be overridden on the object or by a subclass.
#pragma once

#include <node_api.h>

#include <cstddef>

namespace cudassim {

struct HostMemory {
  void* data = nullptr;
  std::size_t bytes = 0;
  bool detached = false;  // its ArrayBuffer was detached (transferred): no memory left
};

inline std::size_t typedArrayElementBytes(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:
      return 8;  // float64, bigint64, biguint64
  }
}

// False when `value` is not a typed array (or Node-API cannot read it). Never throws.
inline bool typedArrayMemory(napi_env env, napi_value value, HostMemory* out) {
  bool isTyped = false;
  if (napi_is_typedarray(env, value, &isTyped) != napi_ok || !isTyped) return false;
  napi_typedarray_type type;
  std::size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  std::size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset) != napi_ok) return false;
  bool detached = false;
  // false for a SharedArrayBuffer (those cannot be detached)
  if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok) detached = false;
  out->detached = detached;
  out->data = detached ? nullptr : data;
  out->bytes = detached || data == nullptr ? 0 : length * typedArrayElementBytes(type);
  return true;
}

}  // namespace cudassim
