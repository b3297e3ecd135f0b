// The two hardware ceilings the benchmark divides by (METHOD.md: "two numbers first"),
// measured on the device the benchmark runs on.
#pragma once

#include <cuda_runtime_api.h>

namespace cudassim {

struct Ceilings {
  double copyBytesPerSecond;  // device-to-device copy, bytes read + bytes written per second
  double fp32FlopsPerSecond;  // register-only FMA chains over all SMs, 2 flops per FMA
};

cudaError_t measureCeilings(int device, Ceilings* result);

}  // namespace cudassim
