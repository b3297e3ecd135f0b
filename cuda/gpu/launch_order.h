// Which launches may start before the kernel ahead of them in the stream has finished
// (programmatic dependent launch; ssim_kernels.cuh, "Overlapping launches"). Host-only C++,
// so that its tests run without a GPU (test/native/launch_order_check.cpp).
//
// A value-only forward launched early reads x and y before it waits for its predecessor, so it
// may start early only if no launch that may still be running writes them. Those are, per
// stream: the last launch made the ordinary way (it started after everything before it had
// finished) and the early ones after it (each finishes after its predecessor).
//
// MS-SSIM's combination (msssim_cuda.cu) waits for the kernel ahead of it before anything else
// and only then lets the next launch start: while a launch after it starts early, the combination
// alone may still run. So does the coarse scales' launch that folds the combination
// (ssim_parts_kernels.cuh): its blocks let the next launch start once their SSIM work is done.
// MS-SSIM's scale-0 forward, which also writes the pooled scale 1 before it waits, may start
// early behind it (and only behind it) where nothing it touches before waiting overlaps what the
// combination touches.
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
    combination_.erase({device, stream});
    return early;
  }

  // A value call's: reads the values, writes out, and the folded combination's count.
  static constexpr std::size_t kCombinationSpans = 3;

  // Records MS-SSIM's combination launched on (device, stream), which touches `touched` (its
  // reads and writes). Once a launch after it starts, the combination alone may still run.
  template <std::size_t N>
  void combined(int device, std::uintptr_t stream, const Span (&touched)[N]) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Span>& spans = running_[{device, stream}];
    std::vector<Span>& mine = combination_[{device, stream}];
    spans.clear();
    mine.clear();
    for (const Span& t : touched)
      if (t.end > t.begin) {
        spans.push_back(t);  // as writes: what a later early launch may not read
        mine.push_back(t);
      }
  }

  // After a launch of ours that admit() does not see and that may follow a call's end (a map, a
  // rounding to half): the combination is no longer the last kernel on (device, stream). (MS-SSIM's
  // own kernels need not say so: a call's scale-0 forward consults the record only as the call's
  // first launch.)
  void plainLaunch(int device, std::uintptr_t stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    combination_.erase({device, stream});
  }

  // Whether a kernel that touches `touched` before it waits for the kernel ahead may start early
  // on (device, stream): the last launch recorded there is a combination (combined) none of whose
  // spans overlaps them. The launch itself is recorded by the admit() that follows.
  template <std::size_t N>
  bool followsCombination(int device, std::uintptr_t stream, const Span (&touched)[N]) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = combination_.find({device, stream});
    if (it == combination_.end()) return false;
    for (const Span& c : it->second)
      for (const Span& t : touched)
        if (c.overlaps(t)) return false;
    return true;
  }

 private:
  std::mutex mutex_;
  // One entry per stream ever used (a destroyed stream's entry, inherited by a new stream at the
  // same address, can only make a launch ordinary).
  std::map<std::pair<int, std::uintptr_t>, std::vector<Span>> running_;
  // Per stream whose last recorded launch is a combination: its spans.
  std::map<std::pair<int, std::uintptr_t>, std::vector<Span>> combination_;
};

}  // namespace cudassim
