#include "side_streams.h"

#include <atomic>
#include <memory>

namespace cudassim {

SideStreams* SideStreams::current() {
  constexpr int kDevices = 64;
  static std::mutex registry;
  static std::unique_ptr<SideStreams> perDevice[kDevices];
  static std::atomic<SideStreams*> made[kDevices];  // read without the mutex once set (every call)
  static bool failed[kDevices] = {};
  int device = -1;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kDevices) {
    cudaGetLastError();
    return nullptr;
  }
  if (SideStreams* s = made[device].load(std::memory_order_acquire)) return s;
  std::lock_guard<std::mutex> lock(registry);
  if (perDevice[device] == nullptr && !failed[device]) {
    std::unique_ptr<SideStreams> s(new SideStreams());
    if (s->make() == cudaSuccess) {
      perDevice[device] = std::move(s);
      made[device].store(perDevice[device].get(), std::memory_order_release);
    } else {
      failed[device] = true;
      cudaGetLastError();  // the caller runs in order instead; leave no sticky error behind
    }
  }
  return perDevice[device].get();
}

cudaError_t SideStreams::make() {
  // The highest priority: the block scheduler then starts the side streams' (small) grids as
  // soon as a big grid on the caller's stream leaves room, instead of after its last block.
  int least = 0, greatest = 0;
  cudaError_t err = cudaDeviceGetStreamPriorityRange(&least, &greatest);
  for (int i = 0; i < kStreams && err == cudaSuccess; ++i) {
    err = cudaStreamCreateWithPriority(&streams_[i], cudaStreamNonBlocking, greatest);
    if (err == cudaSuccess) err = cudaEventCreateWithFlags(&marks_[i], cudaEventDisableTiming);
  }
  if (err == cudaSuccess) err = cudaEventCreateWithFlags(&forked_, cudaEventDisableTiming);
  if (err != cudaSuccess) {
    if (forked_ != nullptr) cudaEventDestroy(forked_);
    for (int i = 0; i < kStreams; ++i) {
      if (marks_[i] != nullptr) cudaEventDestroy(marks_[i]);
      if (streams_[i] != nullptr) cudaStreamDestroy(streams_[i]);
    }
  }
  return err;
}

cudaError_t SideStreams::fork(cudaStream_t main) {
  cudaError_t err = cudaEventRecord(forked_, main);
  return err == cudaSuccess ? cudaStreamWaitEvent(streams_[0], forked_, 0) : err;
}

cudaError_t SideStreams::fanOut(int count) {
  cudaError_t err = count > 1 ? cudaEventRecord(marks_[0], streams_[0]) : cudaSuccess;
  for (int i = 1; i < count && err == cudaSuccess; ++i) err = cudaStreamWaitEvent(streams_[i], marks_[0], 0);
  return err;
}

cudaError_t SideStreams::join(cudaStream_t main, int count) {
  cudaError_t err = cudaSuccess;
  for (int i = 0; i < count && err == cudaSuccess; ++i) {
    err = cudaEventRecord(marks_[i], streams_[i]);
    if (err == cudaSuccess) err = cudaStreamWaitEvent(main, marks_[i], 0);
  }
  return err;
}

}  // namespace cudassim
