// Pinned host blocks and staged host <-> device transfers (host_staging.h).
#include "host_staging.h"

#if CUDA_SSIM_WITH_CUDA

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "cuda_context.h"

namespace cudassim {

namespace {

// ---- pinned blocks: power-of-two sizes from 4 KiB, at most kPinnedCacheBytes kept ----

constexpr std::size_t kPinnedMinBytes = std::size_t(4) << 10;
constexpr std::size_t kPinnedCacheBytes = std::size_t(64) << 20;
// One size class per power of two from kPinnedMinBytes to kPinnedBlockMaxBytes (4 KiB .. 8 MiB: 12).
constexpr int pinnedClassesFrom(std::size_t cap) { return cap >= kPinnedBlockMaxBytes ? 1 : 1 + pinnedClassesFrom(cap * 2); }
constexpr int kPinnedClasses = pinnedClassesFrom(kPinnedMinBytes);
static_assert((kPinnedMinBytes << (kPinnedClasses - 1)) == kPinnedBlockMaxBytes,
              "kPinnedBlockMaxBytes must be kPinnedMinBytes times a power of two");

class PinnedCache {
 public:
  // Never destroyed: promise calls of other threads may give blocks back at exit.
  static PinnedCache& instance() {
    static PinnedCache* cache = new PinnedCache();
    return *cache;
  }

  char* take(std::size_t bytes, std::size_t* capacity) noexcept {
    if (bytes > kPinnedBlockMaxBytes) return nullptr;
    std::size_t cap = kPinnedMinBytes;
    int cls = 0;
    while (cap < bytes) {
      cap <<= 1;
      cls++;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_[cls].empty()) {
        char* p = free_[cls].back();
        free_[cls].pop_back();
        cached_ -= cap;
        *capacity = cap;
        return p;
      }
    }
    void* p = nullptr;
    // Portable: usable by the contexts of every device.
    if (cudaHostAlloc(&p, cap, cudaHostAllocPortable) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    *capacity = cap;
    return static_cast<char*>(p);
  }

  void give(char* p, std::size_t capacity) noexcept {
    if (!p) return;
    int cls = 0;
    for (std::size_t c = kPinnedMinBytes; c < capacity; c <<= 1) cls++;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + capacity <= kPinnedCacheBytes) {
        try {
          free_[cls].push_back(p);
          cached_ += capacity;
          return;
        } catch (...) {
        }
      }
    }
    cudaFreeHost(p);  // over the cache's size: rare (it synchronises the device)
  }

 private:
  std::mutex mutex_;
  std::vector<char*> free_[kPinnedClasses];
  std::size_t cached_ = 0;
};

// ---- parallel memcpy: a few threads, for the CPU half of staged transfers ----

constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;
constexpr std::size_t kHugeAdviceMinBytes = std::size_t(32) << 20;

// A large destination in 2 MiB pages where the kernel gives them on request (transparent huge
// pages in 'madvise' mode, the usual default): a 512th of the page faults, so that populating it
// and copying into it run about twice as fast (docs/PERFORMANCE.md, "Host arrays"). Only the whole
// 2 MiB pages inside the range, which the download overwrites; the contents are unchanged.
void adviseHugePages(char* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes < kHugeAdviceMinBytes) return;
  const std::uintptr_t b = (reinterpret_cast<std::uintptr_t>(p) + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const std::uintptr_t e = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHugePageBytes - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);  // a hint: failure changes nothing
#else
  (void)p;
  (void)bytes;
#endif
}

inline void cpuPause() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins up to ~100 us for ready(): a staged transfer hands out its parts every 100 to 200 us, and a
// thread woken from a futex (an idle core) can take tens of microseconds to run again.
template <typename Ready>
bool spinUntil(Ready ready) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
  for (unsigned i = 0;; ++i) {
    if (ready()) return true;
    cpuPause();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > end) return false;
  }
}

class CopyPool {
 public:
  static CopyPool& instance() {
    static CopyPool* pool = new CopyPool();  // never destroyed: its threads wait forever
    return *pool;
  }

  // Copies with the calling thread and the pool's threads, parts of at least 256 KiB.
  void copy(char* dst, const char* src, std::size_t bytes) { run(dst, src, bytes, false); }

  // Maps the pages of [dst, dst + bytes) that were never touched (a typed array just allocated:
  // its first touch costs a page fault per 4 KiB page), in parallel, without changing the contents.
  void populate(char* dst, std::size_t bytes) {
    adviseHugePages(dst, bytes);
    run(dst, nullptr, bytes, true);
  }

 private:
  void run(char* dst, const char* src, std::size_t bytes, bool populatePages) {
    constexpr std::size_t kPart = std::size_t(256) << 10;
    std::size_t parts = std::min<std::size_t>(threads_ + 1, bytes / kPart);
    if (parts <= 1) {
      work(Task{dst, src, bytes, nullptr, populatePages});
      return;
    }
    Batch batch;
    const std::size_t step = (bytes / parts + 4095) & ~std::size_t(4095);
    std::size_t first = std::min(step, bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t off = first; off < bytes; off += step) {
        tasks_.push_back(Task{dst + off, src ? src + off : nullptr, std::min(step, bytes - off), &batch, populatePages});
        batch.left++;
      }
      queued_.store(int(tasks_.size()), std::memory_order_release);
    }
    cv_.notify_all();
    work(Task{dst, src, first, nullptr, populatePages});
    // Help with what is left (ours or another caller's), then wait for ours.
    for (;;) {
      Task t;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (tasks_.empty()) break;
        t = tasks_.front();
        tasks_.pop_front();
        queued_.store(int(tasks_.size()), std::memory_order_release);
      }
      finish(t);
    }
    const auto done = [&] { return batch.left.load(std::memory_order_acquire) == 0; };
    if (spinUntil(done)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, done);
  }

  struct Batch {
    std::atomic<int> left{0};
  };
  struct Task {
    char* dst = nullptr;
    const char* src = nullptr;
    std::size_t bytes = 0;
    Batch* batch = nullptr;
    bool populate = false;
  };

  static void work(const Task& t) {
    if (!t.populate) {
      std::memcpy(t.dst, t.src, t.bytes);
      return;
    }
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    // Whole pages inside the range only; EINVAL on kernels before 5.14: then the copy faults them.
    static const std::uintptr_t page = std::uintptr_t(sysconf(_SC_PAGESIZE));
    const std::uintptr_t b = (reinterpret_cast<std::uintptr_t>(t.dst) + page - 1) & ~(page - 1);
    const std::uintptr_t e = (reinterpret_cast<std::uintptr_t>(t.dst) + t.bytes) & ~(page - 1);
    if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_WRITE);
#endif
  }

  // With the caller: three quarters of the hardware threads from 8 up, at most 16 (the copy from
  // pageable memory scales to about 12 threads on a 16-core host: docs/PERFORMANCE.md, "Host
  // arrays"); half from 4 to 7; two on 2 or 3; the caller alone on 1.
  CopyPool() {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    threads_ = hw >= 8 ? std::min(15u, hw * 3 / 4 - 1) : hw / 2 - (hw >= 4 ? 1 : 0);
    for (unsigned i = 0; i < threads_; i++) {
      try {
        std::thread([this] { loop(); }).detach();
      } catch (...) {
        threads_ = i;
        break;
      }
    }
  }

  void finish(const Task& t) {
    work(t);
    if (t.batch->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // (the waiter checks under the lock before it sleeps)
      done_.notify_all();
    }
  }

  void loop() {
    for (;;) {
      spinUntil([&] { return queued_.load(std::memory_order_acquire) > 0; });
      Task t;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        t = tasks_.front();
        tasks_.pop_front();
        queued_.store(int(tasks_.size()), std::memory_order_release);
      }
      finish(t);
    }
  }

  unsigned threads_ = 0;
  std::atomic<int> queued_{0};  // tasks_.size(), for the spinning threads
  std::mutex mutex_;
  std::condition_variable cv_, done_;
  std::deque<Task> tasks_;
};

// ---- per-device staging buffers (used under the device's call lock) ----

// Six 4 MiB buffers: a deep ring keeps the bus busy through the copy threads' jitter, and 24 MiB
// stay in the host's last-level cache between the threads' writes and the bus's reads (measured
// on the H200 machine: 51 GB/s through 6 x 4 MiB, 39 through 3 x 8 MiB).
constexpr std::size_t kChunkBytes = std::size_t(4) << 20;  // the buffers' size and the largest chunk
constexpr int kBuffers = 6;

// At least 4 chunks (so that copies overlap transfers), of 1 to 4 MiB.
std::size_t chunkFor(std::size_t bytes) {
  const std::size_t quarter = (bytes / 4 + 65535) & ~std::size_t(65535);
  return std::min(kChunkBytes, std::max(std::size_t(1) << 20, quarter));
}

struct Staging {
  char* buffer[kBuffers] = {};
  cudaEvent_t free[kBuffers] = {};  // recorded after the transfer that last used the buffer
};

Staging& staging(int device) {
  static std::mutex creation;
  static std::vector<std::unique_ptr<Staging>>* all = new std::vector<std::unique_ptr<Staging>>();  // never destroyed
  std::lock_guard<std::mutex> lock(creation);
  if (all->size() <= std::size_t(device)) all->resize(std::size_t(device) + 1);
  std::unique_ptr<Staging>& s = (*all)[std::size_t(device)];
  if (!s) {
    auto fresh = std::make_unique<Staging>();
    for (int b = 0; b < kBuffers; b++) {
      void* p = nullptr;
      cudaError_t e = cudaHostAlloc(&p, kChunkBytes, cudaHostAllocPortable);
      if (e == cudaSuccess) e = cudaEventCreateWithFlags(&fresh->free[b], cudaEventDisableTiming);
      if (e != cudaSuccess) {
        if (p) cudaFreeHost(p);
        for (int k = 0; k < b; k++) {
          cudaFreeHost(fresh->buffer[k]);
          cudaEventDestroy(fresh->free[k]);
        }
        checkCuda(e, "allocating the pinned staging buffers");
      }
      fresh->buffer[b] = static_cast<char*>(p);
      // recorded once so that the first wait on each returns at once
      checkCuda(cudaEventRecord(fresh->free[b], nullptr), "cudaEventRecord");
    }
    s = std::move(fresh);
  }
  return *s;
}

}  // namespace

char* takePinnedBlock(std::size_t bytes, std::size_t* capacity) noexcept { return PinnedCache::instance().take(bytes, capacity); }

void givePinnedBlock(char* p, std::size_t capacity) noexcept { PinnedCache::instance().give(p, capacity); }

namespace {

void stagedUpload(int device, void* dst, const void* src, std::size_t bytes, cudaStream_t stream) {
  Staging& s = staging(device);
  auto* d = static_cast<char*>(dst);
  const auto* h = static_cast<const char*>(src);
  const std::size_t chunk = chunkFor(bytes);
  for (std::size_t off = 0, i = 0; off < bytes; off += chunk, i++) {
    const int b = int(i % kBuffers);
    const std::size_t n = std::min(chunk, bytes - off);
    checkCuda(cudaEventSynchronize(s.free[b]), "the staged upload (waiting for a buffer)");
    CopyPool::instance().copy(s.buffer[b], h + off, n);
    checkCuda(cudaMemcpyAsync(d + off, s.buffer[b], n, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (staged upload)");
    checkCuda(cudaEventRecord(s.free[b], stream), "cudaEventRecord");
  }
  counters().copies++;
}

void stagedDownload(int device, void* dst, const void* src, std::size_t bytes, cudaStream_t stream) {
  Staging& s = staging(device);
  auto* h = static_cast<char*>(dst);
  const auto* d = static_cast<const char*>(src);
  const std::size_t chunk = chunkFor(bytes);
  const std::size_t chunks = (bytes + chunk - 1) / chunk;
  auto issue = [&](std::size_t i) {
    const int b = int(i % kBuffers);
    const std::size_t off = i * chunk;
    // A buffer's first use: an earlier upload's last transfers may still read it, maybe on another
    // stream. (Later uses follow this download's own transfer from it, which the host waited for.)
    if (i < kBuffers) checkCuda(cudaStreamWaitEvent(stream, s.free[b], 0), "cudaStreamWaitEvent");
    checkCuda(cudaMemcpyAsync(s.buffer[b], d + off, std::min(chunk, bytes - off), cudaMemcpyDeviceToHost, stream),
              "cudaMemcpyAsync (staged download)");
    checkCuda(cudaEventRecord(s.free[b], stream), "cudaEventRecord");
  };
  for (std::size_t i = 0; i < std::min<std::size_t>(chunks, kBuffers); i++) issue(i);
  // While the device finishes the kernels and the first transfers: the destination's pages, if
  // it was just allocated (a fresh typed array faults on every page the copy first touches).
  CopyPool::instance().populate(h, bytes);
  for (std::size_t i = 0; i < chunks; i++) {
    const int b = int(i % kBuffers);
    const std::size_t off = i * chunk;
    checkCuda(cudaEventSynchronize(s.free[b]), "the staged download");
    CopyPool::instance().copy(h + off, s.buffer[b], std::min(chunk, bytes - off));
    if (i + kBuffers < chunks) issue(i + kBuffers);
  }
  counters().copies++;
}

}  // namespace

void uploadFromHost(int device, void* dst, const void* src, std::size_t bytes, bool pinned, cudaStream_t stream) {
  if (!pinned && bytes >= kStagedMinBytes) stagedUpload(device, dst, src, bytes, stream);
  else countedCopyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream);
}

void downloadToHost(int device, void* dst, const void* src, std::size_t bytes, bool pinned, cudaStream_t stream) {
  if (!pinned && bytes >= kStagedMinBytes) stagedDownload(device, dst, src, bytes, stream);
  else countedCopyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream);
}

}  // namespace cudassim

#endif
