// Which launches may start before the kernel ahead of them in the stream has finished
// (programmatic dependent launch; ssim_kernels.cuh, "Overlapping launches"). Host-only C++,
// so that its tests run without a GPU (test/native/launch_order_check.cpp).
//
// A value-only forward launched early reads x and y before it waits for its predecessor, so it
// may start early only if no launch that may still be running writes them. Those are, per
// stream: the last launch made the ordinary way (it started after everything before it had
// finished) and the early ones after it (each finishes after its predecessor).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace cudassim {

// Byte range [begin, end) of device memory; empty for a null pointer.
struct Span {
  std::uintptr_t begin = 0, end = 0;
  bool overlaps(const Span& o) const { return begin < o.end && o.begin < end; }
  bool operator==(const Span& o) const { return begin == o.begin && end == o.end; }
};

inline Span spanOf(const void* p, std::size_t bytes) {
  const auto b = reinterpret_cast<std::uintptr_t>(p);
  return p == nullptr ? Span{} : Span{b, b + bytes};
}

class LaunchOrder {
 public:
  static constexpr std::size_t kWrites = 3;     // out, grad, workspace
  static constexpr std::size_t kMaxSpans = 48;  // distinct spans tracked; then one ordinary launch

  // Whether a launch on (device, stream) that reads x and y and writes `writes` may start early:
  // `candidate` (the caller's own conditions) and nothing that may still be running writes x or
  // y. Records the launch's writes either way. Thread-safe.
  bool admit(int device, std::uintptr_t stream, const Span (&writes)[kWrites], const Span& x, const Span& y,
             bool candidate) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Span>& spans = running_[{device, stream}];
    bool early = candidate && spans.size() + kWrites <= kMaxSpans;
    for (const Span& w : spans) early = early && !w.overlaps(x) && !w.overlaps(y);
#ifdef SSIM_TEST_BREAK_WRITE_LOG  // test only: kernel_check's launch-chain cases must then fail
    early = candidate;
#endif
    if (!early) spans.clear();  // an ordinary launch starts after everything before it
    for (const Span& w : writes)  // a loop of calls writes the same buffers again and again
      if (w.end > w.begin && std::find(spans.begin(), spans.end(), w) == spans.end()) spans.push_back(w);
    return early;
  }

 private:
  std::mutex mutex_;
  // One entry per stream ever used (a destroyed stream's entry, inherited by a new stream at the
  // same address, can only make a launch ordinary).
  std::map<std::pair<int, std::uintptr_t>, std::vector<Span>> running_;
};

}  // namespace cudassim
