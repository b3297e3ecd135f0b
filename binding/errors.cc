#include "errors.h"

namespace cudassim {

Napi::Error toJsError(Napi::Env env, const CodedError& e) {
  Napi::Error err = e.kind == ErrorKind::TypeError    ? Napi::TypeError::New(env, e.what())
                    : e.kind == ErrorKind::RangeError ? Napi::RangeError::New(env, e.what())
                                                      : Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code));
  return err;
}

void internalError(const std::string& message) {
  throw CodedError("ERR_SSIM_INTERNAL", "cuda-ssim internal check failed: " + message);
}

#if CUDA_SSIM_CUDA_BUILD_FAILED
const char* const kBuiltWithoutCuda =
    "cuda-ssim's CUDA build failed when it was installed, and the CPU-only addon was built instead "
    "(`npm rebuild cuda-ssim` shows the compiler's errors)";
#elif CUDA_SSIM_CUDA_SWITCHED_OFF
const char* const kBuiltWithoutCuda = "cuda-ssim was built without CUDA (CUDA_SSIM_CUDA=0 when it was installed)";
#else
const char* const kBuiltWithoutCuda = "cuda-ssim was built without CUDA (no nvcc was found when it was installed)";
#endif

void throwBuiltWithoutCuda() {
  throw CodedError("ERR_SSIM_CUDA_UNAVAILABLE", kBuiltWithoutCuda);
}

}  // namespace cudassim
