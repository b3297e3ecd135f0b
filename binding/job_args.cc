// The arguments of the job entry points (job_args.h).
#include "job_args.h"

#include "errors.h"

namespace cudassim {

namespace {

const char* const kFieldNames[] = {
#define CUDA_SSIM_JOB_FIELD_NAME(name) #name,
    CUDA_SSIM_JOB_FIELDS(CUDA_SSIM_JOB_FIELD_NAME)
#undef CUDA_SSIM_JOB_FIELD_NAME
};

}  // namespace

JobArgs::JobArgs(const Napi::CallbackInfo& info, const char* entry) : info_(info) {
  // The message prefix is built on the error paths only: this runs on every call.
  const auto call = [entry] { return std::string(entry) + "(fields, x, y, out, grad, workspace, stream, job)"; };
  if (info.Length() < std::size_t(JobArg::count)) internalError(call() + " needs " + std::to_string(int(JobArg::count)) + " arguments");
  if (!info[std::size_t(JobArg::job)].IsObject()) internalError(call() + ": job is not an object");
  napi_typedarray_type type;
  std::size_t length = 0;
  void* data = nullptr;
  // (napi_get_typedarray_info fails for anything but a typed array.)
  if (napi_get_typedarray_info(info.Env(), info[std::size_t(JobArg::fields)], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array || length < std::size_t(kJobFields) || data == nullptr) {
    internalError(call() + ": fields is not a Float64Array of " + std::to_string(kJobFields));
  }
  fields_ = static_cast<const double*>(data);
}

std::string JobArgs::label(JobField field) { return std::string("job.") + kFieldNames[int(field)]; }

int JobArgs::positiveInt(JobField field) const {
  const double v = number(field);
  if (!(v >= 1 && v <= 2147483647.0) || v != double(static_cast<long long>(v))) internalError(label(field) + " is not a positive int32");
  return int(v);
}

int JobArgs::choice(JobField field, int count) const {
  const double v = number(field);
  if (!(v >= 0 && v < count) || v != double(int(v))) internalError(label(field) + " is not one of its " + std::to_string(count) + " choices");
  return int(v);
}

}  // namespace cudassim
