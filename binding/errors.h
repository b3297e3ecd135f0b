// Errors thrown to JavaScript carry a stable `code` (docs/API.md lists them).
#pragma once

#include <napi.h>

#include <stdexcept>
#include <string>

namespace cudassim {

enum class ErrorKind { Error, TypeError, RangeError };

// Thrown inside native code (also on worker threads); turned into a JS error with `code`.
struct CodedError : std::runtime_error {
  CodedError(std::string code, const std::string& message, ErrorKind kind = ErrorKind::Error)
      : std::runtime_error(message), code(std::move(code)), kind(kind) {}
  std::string code;
  ErrorKind kind;
};

Napi::Error toJsError(Napi::Env env, const CodedError& e);

// Throws ERR_SSIM_INTERNAL: a check that lib/ should have made first failed.
[[noreturn]] void internalError(const std::string& message);

// Why CUDA is missing from a build without it (backendInfo's `reason` too).
extern const char* const kBuiltWithoutCuda;
// Throws ERR_SSIM_CUDA_UNAVAILABLE for CUDA work asked of a build without CUDA.
[[noreturn]] void throwBuiltWithoutCuda();

}  // namespace cudassim
