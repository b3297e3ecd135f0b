// Host memory the device can copy at the bus's speed: page-locked (pinned) blocks for the small
// host copies of promise calls, and large transfers between pageable host memory (the caller's
// typed arrays) and the device staged through pinned buffers in chunks, so that the CPU's copy
// of one chunk overlaps the bus transfer of the previous one (docs/PERFORMANCE.md, "Host arrays").
#pragma once

#include <cstddef>

#if CUDA_SSIM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace cudassim {

#if CUDA_SSIM_WITH_CUDA

// Largest block takePinnedBlock hands out; larger host copies stay pageable.
constexpr std::size_t kPinnedBlockMaxBytes = std::size_t(8) << 20;
// Pageable transfers from this size up are staged (smaller ones go straight to cudaMemcpyAsync).
constexpr std::size_t kStagedMinBytes = std::size_t(4) << 20;

// A pinned block of at least `bytes` (<= kPinnedBlockMaxBytes) from a process-wide cache, its
// size in *capacity; nullptr when none can be had (too large, or page-locking failed).
char* takePinnedBlock(std::size_t bytes, std::size_t* capacity) noexcept;
void givePinnedBlock(char* p, std::size_t capacity) noexcept;

// Copies `bytes` of host memory at `src` to device memory at `dst`, enqueued on `stream` of
// `device` (current); `pinned`: src is page-locked. Pageable copies of kStagedMinBytes and more go
// through that device's staging buffers, and return when `src` has been read (the last chunks'
// transfers may still run); the others are one cudaMemcpyAsync. The caller holds the device's
// lock (DeviceContext::mutex: a DeviceCall, or a device array's copy).
void uploadFromHost(int device, void* dst, const void* src, std::size_t bytes, bool pinned, cudaStream_t stream);
// Copies `bytes` of device memory at `src` (written by work already on `stream`) into host memory
// at `dst`. Staged copies return when `dst` holds them; the others are enqueued.
void downloadToHost(int device, void* dst, const void* src, std::size_t bytes, bool pinned, cudaStream_t stream);

#endif

}  // namespace cudassim
