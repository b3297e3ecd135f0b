// The CPU path of multi-scale SSIM (common/msssim.h's composition over computeSsimCpu).
#pragma once

#include "common/msssim.h"

namespace cudassim {

// Computes job.core.out (if non-null) and job.core.grad (if non-null) on the host; scratch is
// allocated per call (std::bad_alloc if it cannot be had). threads <= 0: hardware concurrency.
void computeMsssimCpu(const MsssimJob& job, int threads);

}  // namespace cudassim
