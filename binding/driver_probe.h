// The NVIDIA driver on this machine, asked through libcuda.so.1 itself (dlopen), so that the
// answer does not depend on the CUDA runtime this addon was built with, or on CUDA at all: a
// CPU-only build can still tell a user that a GPU is there and unused.
#pragma once

#include <string>

namespace cudassim {

struct DriverProbe {
  bool found = false;      // libcuda.so.1 could be loaded
  int version = 0;         // cuDriverGetVersion: 1000 * major + 10 * minor of the CUDA driver API
  int deviceCount = 0;     // cuDeviceGetCount after cuInit (0 where cuInit fails)
  std::string error;       // why found is false, or why cuInit failed
};

// Asked once per process; later calls return the first answer.
const DriverProbe& probeDriver();

}  // namespace cudassim
