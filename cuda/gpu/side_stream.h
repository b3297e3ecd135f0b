// A second stream per device for work that may run beside the caller's stream, with the events
// that fork it from and join it back to that stream (MS-SSIM runs its coarse scales there while
// scale 0's SSIM runs on the caller's stream). Made on first use, kept for the process.
#pragma once

#include <cuda_runtime_api.h>

#include <mutex>

namespace cudassim {

class SideStream {
 public:
  // The current device's, or nullptr if it cannot be made (then run everything in order).
  static SideStream* current();

  // Held from fork() to join(): the events are shared by every caller of this device.
  std::mutex& mutex() { return mutex_; }
  cudaStream_t stream() const { return stream_; }
  // The side stream waits for what `main` has queued so far.
  cudaError_t fork(cudaStream_t main);
  // `main` waits for what the side stream has queued so far.
  cudaError_t join(cudaStream_t main);

 private:
  SideStream() = default;
  cudaError_t make();

  std::mutex mutex_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t forked_ = nullptr, done_ = nullptr;
};

}  // namespace cudassim
