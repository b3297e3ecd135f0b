// The arguments of every job entry point, as lib/native.ts passes them (nativeJobArgs):
//   (fields: Float64Array, x, y, out, grad, workspace, stream, job)
// The job's numbers and choices travel in one Float64Array, its memory as positional arguments.
// Reading ~25 properties of a job object by name cost over half of a small call's host time
// (each read makes and internalizes a V8 string; docs/PERFORMANCE.md, "What a call costs the host").
#pragma once

#include <napi.h>

#include <string>

#include "common/msssim.h"
#include "common/ssim_types.h"

namespace cudassim {

// The slots of `fields`, in lib/native.ts's JOB_FIELDS order. A choice (backend, dtype, layout,
// window, gradDtype) is its index in lib/native.ts's list of names (the lists below, same order).
// MS-SSIM's weights, finest first, fill the last kMaxScales slots (`scales` of them).
#define CUDA_SSIM_JOB_FIELDS(X)                                                                             \
  X(backend) X(device) X(dtype) X(batch) X(channels) X(height) X(width) X(layout) X(windowSize) X(window)   \
  X(sigma) X(c1) X(c2) X(inputScale) X(gradFactor) X(valid) X(valueOffset) X(valueScale) X(gradDtype)       \
  X(workspaceImages) X(workspaceElements) X(scales) X(weights)

enum class JobField {
#define CUDA_SSIM_JOB_FIELD_ENUM(name) name,
  CUDA_SSIM_JOB_FIELDS(CUDA_SSIM_JOB_FIELD_ENUM)
#undef CUDA_SSIM_JOB_FIELD_ENUM
};
constexpr int kJobFields = int(JobField::weights) + kMaxScales;

// lib/native.ts's BACKENDS, LAYOUTS, WINDOWS and DTYPES.
enum class JobBackend { cpu, cuda, count };
enum class JobLayout { hwc, chw, count };
enum class JobWindow { gaussian, uniform, count };
constexpr DType kJobDTypes[] = {DType::F32, DType::F64, DType::U8, DType::U16, DType::F16, DType::BF16};
constexpr int kJobDTypeCount = int(sizeof kJobDTypes / sizeof kJobDTypes[0]);

// The positional arguments after `fields`. A map job's map goes where `out` does. `job` is the
// job object lib/ resolved: an asynchronous call holds it, and so every array and device buffer
// of the call, until it settles.
enum class JobArg { fields, x, y, out, grad, workspace, stream, job, count };

class JobArgs {
 public:
  // ERR_SSIM_INTERNAL unless the call has the arguments (`entry` names the entry point).
  JobArgs(const Napi::CallbackInfo& info, const char* entry);

  Napi::Env env() const { return info_.Env(); }
  Napi::Value operand(JobArg arg) const { return info_[std::size_t(arg)]; }
  Napi::Object job() const { return info_[std::size_t(JobArg::job)].As<Napi::Object>(); }
  static std::string label(JobField field);  // "job.<field>", for errors of a job lib/ built wrongly

  double number(JobField field) const { return fields_[int(field)]; }
  // ERR_SSIM_INTERNAL unless a positive int32.
  int positiveInt(JobField field) const;
  // A choice: ERR_SSIM_INTERNAL unless an integer in [0, count).
  int choice(JobField field, int count) const;
  double weight(int scale) const { return fields_[int(JobField::weights) + scale]; }

 private:
  const Napi::CallbackInfo& info_;
  const double* fields_ = nullptr;
};

}  // namespace cudassim
