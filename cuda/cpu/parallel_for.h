// parallelFor: the CPU path's worker scheme for independent items (std::thread workers taking
// items from an atomic counter, the calling thread among them). Every item is computed the same
// way whatever thread takes it, so results never depend on the thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <system_error>
#include <thread>
#include <vector>

namespace cudassim {

// The hardware threads, asked once: libstdc++ reads a file under /sys for every
// hardware_concurrency() call, a few microseconds, as much as a small image's whole SSIM.
inline int hardwareThreads() {
  static const int n = std::max(1, int(std::thread::hardware_concurrency()));
  return n;
}

// Calls fn(i) for every i in [0, n). threads <= 0: hardware concurrency. work: the total
// work (e.g. elements touched); a thread is started only per minWorkPerThread of it, so that
// small jobs run on the calling thread alone.
template <typename F>
void parallelFor(std::size_t n, int threads, std::size_t work, std::size_t minWorkPerThread, F&& fn) {
  if (n == 0) return;
  const int hw = threads > 0 ? threads : hardwareThreads();
  const std::size_t byWork = std::max<std::size_t>(1, work / std::max<std::size_t>(1, minWorkPerThread));
  const int workers = int(std::min<std::size_t>({std::size_t(hw), n, byWork}));
  if (workers <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto loop = [&]() {
    for (;;) {
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) break;
      fn(i);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(std::size_t(workers - 1));
  for (int t = 1; t < workers; ++t) {
    try {
      pool.emplace_back(loop);
    } catch (const std::system_error&) {
      break;  // could not start a thread: the others (and this one) take its share
    }
  }
  loop();
  for (std::thread& t : pool) t.join();
}

}  // namespace cudassim
