#include "side_stream.h"

#include <memory>

namespace cudassim {

SideStream* SideStream::current() {
  constexpr int kDevices = 64;
  static std::mutex registry;
  static std::unique_ptr<SideStream> streams[kDevices];
  static bool failed[kDevices] = {};
  int device = -1;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kDevices) {
    cudaGetLastError();
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(registry);
  if (streams[device] == nullptr && !failed[device]) {
    std::unique_ptr<SideStream> s(new SideStream());
    if (s->make() == cudaSuccess) {
      streams[device] = std::move(s);
    } else {
      failed[device] = true;
      cudaGetLastError();  // the caller runs in order instead; leave no sticky error behind
    }
  }
  return streams[device].get();
}

cudaError_t SideStream::make() {
  // The highest priority: the block scheduler then starts the side stream's (small) grids as
  // soon as a big grid on the caller's stream leaves room, instead of after its last block.
  int least = 0, greatest = 0;
  cudaError_t err = cudaDeviceGetStreamPriorityRange(&least, &greatest);
  if (err == cudaSuccess) err = cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, greatest);
  if (err == cudaSuccess) err = cudaEventCreateWithFlags(&forked_, cudaEventDisableTiming);
  if (err == cudaSuccess) err = cudaEventCreateWithFlags(&done_, cudaEventDisableTiming);
  if (err != cudaSuccess) {
    if (done_ != nullptr) cudaEventDestroy(done_);
    if (forked_ != nullptr) cudaEventDestroy(forked_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  return err;
}

cudaError_t SideStream::fork(cudaStream_t main) {
  cudaError_t err = cudaEventRecord(forked_, main);
  return err == cudaSuccess ? cudaStreamWaitEvent(stream_, forked_, 0) : err;
}

cudaError_t SideStream::join(cudaStream_t main) {
  cudaError_t err = cudaEventRecord(done_, stream_);
  return err == cudaSuccess ? cudaStreamWaitEvent(main, done_, 0) : err;
}

}  // namespace cudassim
