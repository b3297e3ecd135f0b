// The CPU path of multi-scale SSIM (common/msssim.h's steps over the CPU SSIM path).
#pragma once

#include "common/msssim.h"

namespace cudassim {

// Computes job.core.out (if non-null) and job.core.grad (if non-null) on the host; scratch comes
// from HostScratch (host_scratch.h: reused across calls; std::bad_alloc if it cannot be had).
// threads <= 0: hardware concurrency; the results do not depend on it.
void computeMsssimCpu(const MsssimJob& job, int threads);

}  // namespace cudassim
