// What bounds a host-array call's transfers (docs/PERFORMANCE.md, "Host arrays"): the host copy
// between pageable memory and the pinned staging buffers, by thread count; first-touch page faults
// of a fresh destination, with and without transparent huge pages; page-locking the caller's
// memory in place; and the staged pipeline itself, by thread count, chunk and ring size.
//
//   nvcc -O3 -std=c++17 bench/native/host_copy_probe.cu -o host_copy_probe && ./host_copy_probe
#include <cuda_runtime.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

namespace {

#define CHECK(x)                                                                  \
  do {                                                                            \
    cudaError_t e_ = (x);                                                         \
    if (e_ != cudaSuccess) {                                                      \
      std::fprintf(stderr, "%s: %s (line %d)\n", #x, cudaGetErrorString(e_), __LINE__); \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// T threads that run f(thread, threads) together, with a spinning start and end.
class Team {
 public:
  explicit Team(int threads) : n_(threads) {
    for (int t = 1; t < n_; t++) workers_.emplace_back([this, t] { loop(t); });
  }
  ~Team() {
    stop_ = true;
    generation_.fetch_add(1);
    for (auto& w : workers_) w.join();
  }
  void run(const std::function<void(int, int)>& f) {
    job_ = &f;
    left_.store(n_ - 1);
    generation_.fetch_add(1, std::memory_order_release);
    f(0, n_);
    while (left_.load(std::memory_order_acquire) != 0) {
    }
  }

 private:
  void loop(int t) {
    unsigned seen = 0;
    for (;;) {
      unsigned g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      }
      seen = g;
      if (stop_) return;
      (*job_)(t, n_);
      left_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> left_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<bool> stop_{false};
};

void parallelCopy(Team& team, char* dst, const char* src, size_t bytes) {
  team.run([&](int t, int n) {
    size_t step = (bytes / n + 4095) & ~size_t(4095);
    size_t b = std::min(bytes, step * t), e = std::min(bytes, b + step);
    if (e > b) std::memcpy(dst + b, src + b, e - b);
  });
}

char* freshPages(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::exit(2);
  return static_cast<char*>(p);
}

void fill(char* p, size_t bytes) {
  for (size_t i = 0; i < bytes; i += 4096) p[i] = char(i * 7 + 1);
}

}  // namespace

int main() {
  const size_t up = size_t(1592) << 20;   // 8x3x2160x3840 float32 x and y: 1.59 GB
  const size_t down = size_t(198) << 20;  // 5x5x1080x1920 float32 gradient: 207 MB
  const int threadCounts[] = {1, 2, 4, 8, 12, 16};
  CHECK(cudaSetDevice(0));
  CHECK(cudaFree(nullptr));
  char* src = freshPages(up);
  fill(src, up);
  std::memset(src, 3, up);
  char *pinned = nullptr, *dev = nullptr;
  CHECK(cudaHostAlloc(reinterpret_cast<void**>(&pinned), up, cudaHostAllocPortable));
  std::memset(pinned, 1, up);
  CHECK(cudaMalloc(&dev, up));
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  // 1. The bus alone: pinned <-> device.
  for (int r = 0; r < 2; r++) {
    double t0 = seconds();
    CHECK(cudaMemcpyAsync(dev, pinned, up, cudaMemcpyHostToDevice, stream));
    CHECK(cudaStreamSynchronize(stream));
    double t1 = seconds();
    CHECK(cudaMemcpyAsync(pinned, dev, up, cudaMemcpyDeviceToHost, stream));
    CHECK(cudaStreamSynchronize(stream));
    double t2 = seconds();
    std::printf("bus pinned H2D %.1f GB/s, D2H %.1f GB/s\n", up / (t1 - t0) / 1e9, up / (t2 - t1) / 1e9);
  }

  // 2. Host copy pageable (warm) -> pinned, by threads.
  for (int T : threadCounts) {
    Team team(T);
    parallelCopy(team, pinned, src, up);
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
      double t0 = seconds();
      parallelCopy(team, pinned, src, up);
      best = std::min(best, seconds() - t0);
    }
    std::printf("host copy pageable->pinned T=%2d %.1f GB/s\n", T, up / best / 1e9);
  }

  // 3. Staged upload pipeline: ring of pinned buffers, each chunk copied by T threads, then DMA.
  struct Variant {
    int threads;
    size_t chunk;
    int ring;
  };
  const Variant variants[] = {{8, 8 << 20, 3},  {12, 8 << 20, 3}, {12, 16 << 20, 4}, {12, 4 << 20, 6},
                              {12, 4 << 20, 8}, {12, 8 << 20, 6}, {16, 4 << 20, 6}, {12, 2 << 20, 12}};
  for (const Variant& v : variants) {
    Team team(v.threads);
    std::vector<char*> ring(v.ring);
    std::vector<cudaEvent_t> freeEv(v.ring);
    for (int b = 0; b < v.ring; b++) {
      CHECK(cudaHostAlloc(reinterpret_cast<void**>(&ring[b]), v.chunk, cudaHostAllocPortable));
      CHECK(cudaEventCreateWithFlags(&freeEv[b], cudaEventDisableTiming));
      CHECK(cudaEventRecord(freeEv[b], stream));
    }
    double best = 1e9;
    for (int r = 0; r < 4; r++) {
      double t0 = seconds();
      for (size_t off = 0, i = 0; off < up; off += v.chunk, i++) {
        int b = int(i % v.ring);
        size_t n = std::min(v.chunk, up - off);
        CHECK(cudaEventSynchronize(freeEv[b]));
        parallelCopy(team, ring[b], src + off, n);
        CHECK(cudaMemcpyAsync(dev + off, ring[b], n, cudaMemcpyHostToDevice, stream));
        CHECK(cudaEventRecord(freeEv[b], stream));
      }
      CHECK(cudaStreamSynchronize(stream));
      if (r) best = std::min(best, seconds() - t0);
    }
    std::printf("staged upload T=%2d chunk %2zu MiB ring %d: %.1f GB/s\n", v.threads, v.chunk >> 20, v.ring,
                up / best / 1e9);
    for (int b = 0; b < v.ring; b++) {
      CHECK(cudaFreeHost(ring[b]));
      CHECK(cudaEventDestroy(freeEv[b]));
    }
  }

  // 4. Page-locking the caller's memory in place, then DMA from it.
  for (size_t bytes : {down, up}) {
    double t0 = seconds();
    CHECK(cudaHostRegister(src, bytes, cudaHostRegisterDefault));
    double t1 = seconds();
    CHECK(cudaMemcpyAsync(dev, src, bytes, cudaMemcpyHostToDevice, stream));
    CHECK(cudaStreamSynchronize(stream));
    double t2 = seconds();
    CHECK(cudaHostUnregister(src));
    double t3 = seconds();
    std::printf("register %zu MB: %.2f ms, H2D %.1f GB/s, unregister %.2f ms\n", bytes >> 20, (t1 - t0) * 1e3,
                bytes / (t2 - t1) / 1e9, (t3 - t2) * 1e3);
  }

  // 5. A fresh destination (a new typed array): populate, by threads, 4 KiB pages and huge pages;
  //    then the copy from pinned into it.
  for (int huge = 0; huge < 2; huge++) {
    for (int T : {1, 4, 8, 16}) {
      Team team(T);
      double best = 1e9, copyBest = 1e9;
      for (int r = 0; r < 3; r++) {
        char* fresh = freshPages(down + (size_t(2) << 20));
        char* aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(fresh) + (size_t(2) << 20) - 1) &
                                                ~((uintptr_t(2) << 20) - 1));
        if (huge) madvise(aligned, down, MADV_HUGEPAGE);
        double t0 = seconds();
        team.run([&](int t, int n) {
          size_t step = (down / n + 4095) & ~size_t(4095);
          size_t b = std::min(down, step * t), e = std::min(down, b + step);
          if (e > b) madvise(aligned + b, e - b, MADV_POPULATE_WRITE);
        });
        double t1 = seconds();
        parallelCopy(team, aligned, pinned, down);
        double t2 = seconds();
        best = std::min(best, t1 - t0);
        copyBest = std::min(copyBest, t2 - t1);
        munmap(fresh, down + (size_t(2) << 20));
      }
      std::printf("fresh %s T=%2d populate %.1f GB/s (%.2f ms), then copy pinned->it %.1f GB/s\n",
                  huge ? "huge" : "4KiB", T, down / best / 1e9, best * 1e3, down / copyBest / 1e9);
    }
  }
  // 6. Faulting copy (no populate first), 8 threads.
  {
    Team team(8);
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
      char* fresh = freshPages(down);
      double t0 = seconds();
      parallelCopy(team, fresh, pinned, down);
      best = std::min(best, seconds() - t0);
      munmap(fresh, down);
    }
    std::printf("fresh faulting copy T=8: %.1f GB/s\n", down / best / 1e9);
  }
  std::printf("probe done\n");
  return 0;
}
