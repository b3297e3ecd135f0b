// Streams per device for work that may run beside the caller's stream, with the events that fork
// them from it and join them back (MS-SSIM runs its coarse scales there while scale 0 runs on the
// caller's stream). Made on first use, kept for the process.
#pragma once

#include <cuda_runtime_api.h>

#include <mutex>

namespace cudassim {

class SideStreams {
 public:
  static constexpr int kStreams = 2;

  // The current device's, or nullptr if they cannot be made (then run everything in order).
  static SideStreams* current();

  // Held from fork() to join(): the events are shared by every caller of this device.
  std::mutex& mutex() { return mutex_; }
  cudaStream_t stream(int i) const { return streams_[i]; }
  // Side stream 0 waits for what `main` has queued so far.
  cudaError_t fork(cudaStream_t main);
  // Side streams 1..count-1 wait for what side stream 0 has queued so far.
  cudaError_t fanOut(int count);
  // `main` waits for what side streams 0..count-1 have queued so far.
  cudaError_t join(cudaStream_t main, int count);

 private:
  SideStreams() = default;
  cudaError_t make();

  std::mutex mutex_;
  cudaStream_t streams_[kStreams] = {};
  cudaEvent_t forked_ = nullptr;
  cudaEvent_t marks_[kStreams] = {};
};

}  // namespace cudassim
