// Host scratch memory reused across calls of the CPU path. A fresh large allocation costs its
// page faults on first touch (glibc serves big blocks with mmap and gives them back on free):
// on a loaded virtual machine about 3-4 ms per MiB, more than the arithmetic of an SSIM call
// over the same bytes. HostScratch takes a block from a small process-wide cache instead (best
// fit, under a mutex) and gives it back when destroyed; concurrent calls each get their own
// block (best fit, at most twice the request). The cache keeps at most kCacheBlocks blocks and kCacheBytes bytes; a block that would
// exceed them is freed. Contents are NOT initialised (they are whatever the previous user left).
#pragma once

#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

namespace cudassim {

class HostScratch {
 public:
  // blocks: one per worker of a call (up to the core count) and a call's own, under the byte cap
  static constexpr std::size_t kCacheBlocks = 64;
  static constexpr std::size_t kCacheBytes = std::size_t(128) << 20;

  HostScratch() = default;
  explicit HostScratch(std::size_t bytes) { acquire(bytes); }
  HostScratch(const HostScratch&) = delete;
  HostScratch& operator=(const HostScratch&) = delete;
  ~HostScratch() { release(); }

  // At least `bytes` bytes (64-byte aligned), replacing any block held. std::bad_alloc if it cannot be had.
  void acquire(std::size_t bytes) {
    release();
    if (bytes == 0) bytes = 64;
    {
      std::lock_guard<std::mutex> lock(cache().mutex);
      std::vector<Block>& free = cache().blocks;
      std::size_t best = free.size();
      for (std::size_t i = 0; i < free.size(); ++i)
        // best fit, and never a block over twice the request (it would sit idle in a small call)
        if (free[i].bytes >= bytes && free[i].bytes / 2 <= bytes && (best == free.size() || free[i].bytes < free[best].bytes)) best = i;
      if (best != free.size()) {
        block_ = free[best];
        free.erase(free.begin() + std::ptrdiff_t(best));
        cache().bytes -= block_.bytes;
        return;
      }
    }
    block_.bytes = (bytes + 63) / 64 * 64;
    block_.data = ::operator new(block_.bytes, std::align_val_t(64));
  }

  template <typename T = float>
  T* as() const {
    return static_cast<T*>(block_.data);
  }

 private:
  struct Block {
    void* data = nullptr;
    std::size_t bytes = 0;
  };
  struct Cache {
    Cache() { blocks.reserve(kCacheBlocks); }  // release() never allocates
    std::mutex mutex;
    std::vector<Block> blocks;
    std::size_t bytes = 0;
  };
  static Cache& cache() {
    static Cache* c = new Cache();  // never destroyed: blocks may come back from threads at exit
    return *c;
  }
  static void freeBlock(Block b) { ::operator delete(b.data, std::align_val_t(64)); }

  void release() {
    if (block_.data == nullptr) return;
    Block b = block_;
    block_ = Block{};
    Block evicted[kCacheBlocks + 1];
    std::size_t nEvicted = 0;
    {
      std::lock_guard<std::mutex> lock(cache().mutex);
      Cache& c = cache();
      if (b.bytes <= kCacheBytes) {
        // Oldest first out, until the new block fits.
        while (!c.blocks.empty() && (c.blocks.size() >= kCacheBlocks || c.bytes + b.bytes > kCacheBytes)) {
          evicted[nEvicted++] = c.blocks.front();
          c.bytes -= c.blocks.front().bytes;
          c.blocks.erase(c.blocks.begin());
        }
        c.blocks.push_back(b);
        c.bytes += b.bytes;
      } else {
        evicted[nEvicted++] = b;
      }
    }
    for (std::size_t i = 0; i < nEvicted; ++i) freeBlock(evicted[i]);
  }

  Block block_;
};

}  // namespace cudassim
