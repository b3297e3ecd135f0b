// The CUDA path: argument checks, workspace layout and the launches. Kernels: ssim_kernels.cuh.
#include "ssim_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>

#include "common/ssim_math.h"
#include "launch_order.h"
#include "ssim_fused_kernel.cuh"
#include "ssim_kernels.cuh"
#include "ssim_parts_kernels.cuh"

namespace cudassim {

cudaError_t kernelImageFor(int device, int* virtualArch) {
  int previous = 0;
  cudaError_t status = cudaGetDevice(&previous);
  if (status == cudaSuccess) status = cudaSetDevice(device);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return status;
  }
  cudaFuncAttributes attributes{};
  status = cudaFuncGetAttributes(&attributes, kernels::ssimForwardKernel<float, Reciprocal::Ftz>);
  if (status != cudaSuccess) cudaGetLastError();
  cudaSetDevice(previous);
  // ptxVersion: the virtual architecture the code was compiled from (a SASS image records the
  // one it was compiled for).
  if (status == cudaSuccess) *virtualArch = attributes.ptxVersion;
  return status;
}

namespace {

// A device's answer to a query that never changes (an occupancy or attribute query costs
// microseconds), cached in `slot`; 0 when the query fails, and then asked again next time.
constexpr int kCachedDevices = 64;
template <typename T, typename Query>
T cachedPerDevice(std::atomic<T>& slot, Query query) {
  T value = slot.load(std::memory_order_relaxed);
  if (value > 0) return value;
  value = query();
  if (value > 0) slot.store(value, std::memory_order_relaxed);
  return value;
}

// Whether `device` can start a kernel before the previous one of its stream has finished
// (programmatic dependent launch, sm_90+).
bool deviceOverlapsLaunches(int device) {
  static std::atomic<int> cache[kCachedDevices];  // 1: no, 2: yes
  if (device < 0 || device >= kCachedDevices) return false;
  return cachedPerDevice(cache[device], [&] {
    // The kernels signal and wait (griddepcontrol) only where they were compiled for sm_90 or
    // later: compute_75 PTX that the driver compiled for a newer GPU has no wait, so its launches
    // must stay ordinary.
    int virtualArch = 0;
    if (kernelImageFor(device, &virtualArch) != cudaSuccess) return 0;
    return virtualArch >= 90 ? 2 : 1;
  }) == 2;
}

// The default streams are shared (the per-thread one by every thread under one handle), so
// what "the previous launch" on them was cannot be told: launches there stay ordinary.
bool ownStream(cudaStream_t stream) {
  return stream != nullptr && stream != cudaStreamLegacy && stream != cudaStreamPerThread;
}

// Launches `kernel` (launch_overlap.cuh); with `early`, its blocks may start while the previous
// kernel of the stream is still running, once every block of that kernel has signalled
// (griddepcontrol.launch_dependents: only ours do; after any other kernel, or a copy, the launch
// is ordinary). ssim_kernels.cuh, "Overlapping launches", has what the kernels do before they
// wait for the previous one.
template <typename Args>
cudaError_t launchOverlapping(void (*kernel)(Args), unsigned grid, cudaStream_t stream, const Args& args,
                              bool early, std::size_t dynamicSmem = 0) {
  return launchKernel(kernel, dim3(grid), dim3(kernels::kThreads), dynamicSmem, stream, early, args);
}

constexpr std::size_t kStateBytesPerImage = sizeof(kernels::ReduceState);  // 16
constexpr std::size_t kStateAlign = 256;

std::size_t stateBytes(int images) {
  const std::size_t n = images > 0 ? std::size_t(images) : 0;
  return (n * kStateBytesPerImage + kStateAlign - 1) / kStateAlign * kStateAlign;
}

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

unsigned long long ceilDiv(unsigned long long a, unsigned long long b) { return (a + b - 1) / b; }

// Blocks of `kernel` that run at once on `device`: multiprocessors x blocks per multiprocessor.
// 0 when the query fails (then the picker falls back to tall blocks, and the fused kernel is not
// used). A kernel with more than 48 KB of dynamic shared memory (`dynamicSmem`) is allowed it
// here, before its first launch on the device.
constexpr int kBackwardSlots = 12;  // the first backward slot: after the forward kernels' 12
constexpr int kFusedSlots = kBackwardSlots + 6;
constexpr int kPartsSlots = kFusedSlots + 4;
int residentBlocks(const void* kernel, int slot, int device, int dynamicSmem = 0) {
  // slots: forward 2 * dtype + reciprocal (12: 6 dtypes x 2), backward kBackwardSlots + dtype (6),
  // fused kFusedSlots + 2 * packed + reciprocal (4), the forward parts kernel kPartsSlots
  constexpr int kSlots = kPartsSlots + 1;
  static std::atomic<int> cache[kCachedDevices][kSlots];
  if (device < 0 || device >= kCachedDevices || slot >= kSlots) return 0;
  return cachedPerDevice(cache[device][slot], [&] {
    int sms = 0, perSm = 0;
    if ((dynamicSmem > 48 * 1024 &&
         cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamicSmem) != cudaSuccess) ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernel, kernels::kThreads, dynamicSmem) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return sms * perSm;
  });
}

// Bytes of L2 cache on `device`; 0 when the query fails.
long long l2CacheBytes(int device) {
  static std::atomic<long long> cache[kCachedDevices];
  if (device < 0 || device >= kCachedDevices) return 0;
  return cachedPerDevice(cache[device], [&]() -> long long {
    int l2 = 0;
    if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return l2;
  });
}

// Whether the bytes a pass reads (bytesPerElement for each of the job's elements) fit in L2.
bool passFitsL2(const SsimJob& job, std::size_t bytesPerElement, int device) {
  return double(job.shape.elems()) * double(bytesPerElement) <= double(l2CacheBytes(device));
}

// Rows per block (a multiple of kernels::kRB, at most kMaxRowsPerBlock = 8 batches).
// Small grids (docs/PERFORMANCE.md, v6 and v9): a block's time is its rows plus the 2r-row prologue
// that fills its shift register, and the grid runs in waves of `resident` blocks, so the cost
// of nb batches per block is
//   ceil(blocks(nb) / resident) * (nb * kRB + 2 * kMaxRadius).
// Tall blocks waste less on prologues; short ones fill the last wave. The tallest block of 1 to
// 4 batches within 5% of the cheapest wins. Large grids: 8 batches when that still leaves
// 2048 blocks or more (several full waves; -4% on 8 x 3 x 2160 x 3840 against 4 batches). The
// model ranked 8 batches first on 32 x 3 x 256 x 256 too, where it measured 10% slower than its
// 4-batch pick, hence the 2048-block rule for going past 4.
int pickRowsPerBlock(int rows, unsigned long long columnStrips, int resident) {
  using kernels::kRB;
  constexpr int kModelMaxNb = 4;
  const int maxNb = kernels::kMaxRowsPerBlock / kRB;
  const unsigned long long batches = ceilDiv(unsigned(rows), kRB);
  if (maxNb > kModelMaxNb && columnStrips * ceilDiv(batches, unsigned(maxNb)) >= 2048ull) return maxNb * kRB;
  const int topNb = maxNb < kModelMaxNb ? maxNb : kModelMaxNb;
  if (resident <= 0) return topNb * kRB;
  double cost[kModelMaxNb + 1] = {};
  double best = 0.0;
  for (int nb = 1; nb <= topNb; ++nb) {
    const unsigned long long blocks = columnStrips * ceilDiv(batches, unsigned(nb));
    cost[nb] = double(ceilDiv(blocks, unsigned(resident))) * double(nb * kRB + 2 * kMaxRadius);
    if (nb == 1 || cost[nb] < best) best = cost[nb];
  }
  int nb = topNb;
  while (nb > 1 && cost[nb] > 1.05 * best) --nb;
  return nb * kRB;
}

// The units of work of a layout: kRB rows of one strip (a virtual row packs nPack planes).
unsigned long long workUnits(const kernels::WorkLayout& w) {
  return ceilDiv(unsigned(w.planes), unsigned(w.nPack)) * unsigned(w.tilesX) * unsigned(w.unitsPerStrip);
}

// The kernels divide by these (fast_divide.h; every numerator stays below 2^31 because units
// and ranges do, checked in layoutWork).
void setDivisors(kernels::WorkLayout& w) {
  w.byChannels = FastDivide::of(unsigned(w.channels));
  w.byTilesX = FastDivide::of(unsigned(w.tilesX));
  w.byTilesY = FastDivide::of(unsigned(w.tilesY));
  w.byUnitsPerStrip = FastDivide::of(unsigned(w.unitsPerStrip));
  w.byPitch = FastDivide::of(unsigned(w.pitch));
}

// How a kernel's work is cut (ssim_kernels.cuh, "Work"): rows [regY0, regY0 + regH) and
// columns [regX0, regX0 + regW) of every plane. Planar inputs get balanced ranges over the
// resident blocks, with narrow planes packed side by side when that takes fewer strips;
// interleaved ones get them only when the bytes the pass reads fit in L2 (fitsL2), otherwise (and
// after a failed occupancy query) aligned tiles from the wave model. The C planes of an
// interleaved image share cache lines: aligned tiles read the C planes of a strip at the same
// time, so each line comes from DRAM once; balanced ranges read them at different times, which
// costs nothing only while the lines stay in L2 (measured, interleaved, time of planar: 8 x 3 x 4K
// value 1.13 aligned, 1.27 balanced; 128 x 3 x 32 x 48 value + gradient 1.19 aligned, 1.07
// packed; 32 x 3 x 256 x 256 value + gradient 1.32 aligned, 1.22 with the forward packed (its
// reads, 50 MB, fit the H200's L2) and 1.38 with the backward packed too (125 MB read)).
// False when the counts do not fit the kernel's integers.
// packSavesTenth: the launch gives something up by packing, so it packs only where that saves a
// tenth of the strips: pooling (MS-SSIM's scale 1, written by the forward: one plane per strip) is
// worth more than the 2 to 3% packing saves on wide planes, and the fused kernel's packed form
// costs about 6% more per strip than its one-plane form (v21: 5 x 5 x 1080 x 1920 packed, 448
// strips against 450, measured 5.6% slower). stripW: output columns per strip (the fused
// kernel's are narrower).
bool layoutWork(const ImageShape& s, int regY0, int regX0, int regH, int regW, int resident,
                bool computeBound, bool packSavesTenth, bool fitsL2, kernels::WorkLayout& w,
                int stripW = kernels::kTileW) {
  using kernels::kRB;
  const unsigned long long planes = (unsigned long long)s.batch * unsigned(s.channels);
  if (planes > (unsigned long long)INT_MAX) return false;
  w = kernels::WorkLayout{};
  w.planes = int(planes);
  w.channels = s.channels;
  w.regY0 = regY0;
  w.regY1 = regY0 + regH;
  w.regX0 = regX0;
  w.regW = regW;
  w.unitsPerStrip = int(ceilDiv(unsigned(regH), kRB));
  w.nPack = 1;
  w.tilesX = int(ceilDiv(unsigned(regW), unsigned(stripW)));
  unsigned long long strips = planes * unsigned(w.tilesX);
  const bool planar = s.chw || s.channels == 1;
  const bool anyOrder = planar || fitsL2;  // the order in which blocks read the planes costs nothing
  // Packed: planes 2 * kMaxRadius columns apart (their halos), 16-byte aligned;
  // at least 40 columns, so that a strip touches at most kernels::kSlots planes (the forward's
  // 116 output columns; the fused kernel's 118 map columns, ssim_fused_kernel.cuh).
  const unsigned long long pitch = (unsigned long long)(regW + 2 * kMaxRadius + 3) / 4 * 4;
  const unsigned long long packedStrips = ceilDiv(planes * pitch, unsigned(stripW));
  const bool pack = anyOrder && resident > 0 && planes > 1 && pitch >= 40 &&
                    planes * pitch < (1ull << 30) && packedStrips < strips &&
                    !(packSavesTenth && packedStrips * 10 > strips * 9);
  // Balanced ranges against aligned tiles, in the wave model's units (rows of a block, the
  // 2r-row prologue counted as rows): aligned, ceil(blocks / resident) waves of tiles; balanced,
  // the longest range and its prologue (rarely two: a range that crosses into the next strip;
  // a prologue costs less than its rows, it loads without filtering). Balanced
  // ranges give up one thing: with aligned tiles the blocks running at one time read
  // neighbouring strips at the same rows, so the cache lines two strips share (halo columns)
  // come from L2 once. The partial-map passes move 3 to 5 times the bytes of a value forward
  // and measured 10% slower balanced on 5 x 5 x 1080 x 1920 (9.7 waves of aligned tiles): they
  // take balanced ranges only where those win more, i.e. packing saves a tenth of the strips,
  // or aligned tiles leave more than a tenth of their last wave idle.
  const int alignedRows = pickRowsPerBlock(regH, strips, resident);
  const unsigned long long alignedBlocks = strips * ceilDiv(unsigned(regH), unsigned(alignedRows));
  bool balance = anyOrder && resident > 0;
  if (balance) {
    const unsigned long long alignedWaves = ceilDiv(alignedBlocks, unsigned(resident));
    const double alignedCost = double(alignedWaves) * (alignedRows + 2 * kMaxRadius);
    const unsigned long long units = (pack ? packedStrips : strips) * unsigned(w.unitsPerStrip);
    const double balancedCost = double(ceilDiv(units, unsigned(resident))) * kRB + 2 * kMaxRadius;
    const bool alignedFills = alignedBlocks >= 0.9 * double(alignedWaves * unsigned(resident));
    const bool packSaves = pack && packedStrips * 10 <= strips * 9;
    balance = balancedCost <= alignedCost && (computeBound || packSaves || !alignedFills);
  }
  w.balanced = balance ? 1 : 0;
  if (w.balanced) {
    if (pack) {
      w.nPack = int(planes);
      w.pitch = int(pitch);
      w.tilesX = int(packedStrips);
      strips = packedStrips;
    }
    const unsigned long long units = strips * unsigned(w.unitsPerStrip);
    if (units > (unsigned long long)INT_MAX) return false;
    w.ranges = units < unsigned(resident) ? unsigned(units) : unsigned(resident);
    w.unitsPerRange = unsigned(units / w.ranges);
    w.longRanges = unsigned(units % w.ranges);
    setDivisors(w);
    return true;
  }
  w.batchesPerTile = alignedRows / kRB;
  w.tilesY = int(ceilDiv(unsigned(w.unitsPerStrip), unsigned(w.batchesPerTile)));
  const unsigned long long ranges = strips * unsigned(w.tilesY);
  if (strips * unsigned(w.unitsPerStrip) > (unsigned long long)INT_MAX) return false;  // ranges <= units
  w.ranges = unsigned(ranges);
  setDivisors(w);
  return true;
}


// The forward and backward kernels of a dtype, for the occupancy query.
const void* forwardKernelOf(DType t, bool fastRcp) {
  return withElementType(t, [fastRcp](auto e) {
    using T = typename decltype(e)::type;
    return fastRcp ? reinterpret_cast<const void*>(kernels::ssimForwardKernel<T, Reciprocal::Ftz>)
                   : reinterpret_cast<const void*>(kernels::ssimForwardKernel<T, Reciprocal::Exact>);
  });
}
const void* backwardKernelOf(DType t) {
  return withElementType(t, [](auto e) {
    return reinterpret_cast<const void*>(kernels::ssimBackwardKernel<typename decltype(e)::type>);
  });
}

using FusedKernel = void (*)(kernels::FusedArgs);
FusedKernel fusedKernelOf(bool fastRcp, bool packed) {
  using kernels::ssimFusedKernel;
  if (packed) return fastRcp ? ssimFusedKernel<Reciprocal::Ftz, true> : ssimFusedKernel<Reciprocal::Exact, true>;
  return fastRcp ? ssimFusedKernel<Reciprocal::Ftz, false> : ssimFusedKernel<Reciprocal::Exact, false>;
}

// Resident blocks of the fused kernel: the fewer of its two forms (one plane per strip, planes
// packed side by side), since the layout that picks between them is planned with this number.
int fusedResidentBlocks(bool fastRcp, int device) {
  constexpr int smem = kernels::kFusedSharedBytes;
  const int rcp = fastRcp ? 1 : 0;
  const auto resident = [&](bool packed) {
    return residentBlocks(reinterpret_cast<const void*>(fusedKernelOf(fastRcp, packed)), kFusedSlots + 2 * packed + rcp,
                          device, smem);
  };
  return std::min(resident(false), resident(true));
}

// Whether the fused kernel pays on layout w: its work per pixel, (strip columns / plane
// columns) x (rows + kRB) / rows (a segment's warm-up step), at most 1.5. Measured on the H200
// against the two-launch design (docs/PERFORMANCE.md, v19, v21): 256 x 256 one plane per strip
// (1.33) 7 to 11% faster, packed (1.10) 7% faster; 48 wide one plane per strip (2.3) 5% slower,
// 32 x 48 packed (1.25 x 1.375 = 1.72) 3 to 5% slower.
bool fusedPays(const kernels::WorkLayout& w, const ImageShape& s) {
  const unsigned long long strips = (unsigned long long)w.tilesX * unsigned(w.nPack > 1 ? 1 : w.planes);
  const double columns = double(strips) * kernels::kFusedW / (double(w.planes) * s.width);
  return columns * double(s.height + kernels::kRB) / double(s.height) <= 1.5;
}

cudaError_t launchFused(const kernels::FusedArgs& fu, bool fastRcp, cudaStream_t stream) {
  const FusedKernel kernel = fusedKernelOf(fastRcp, fu.f.work.nPack > 1);
  const cudaError_t err = launchOverlapping(kernel, fu.f.work.ranges, stream, fu, false, kernels::kFusedSharedBytes);
  return err == cudaSuccess ? cudaGetLastError() : err;
}

// The forward that also pools (ssim_kernels.cuh, "Pooling"): float32 only.
template <typename T>
cudaError_t launchForward(const kernels::ForwardArgs& fa, bool fastRcp, bool pooling, bool early, unsigned grid,
                          cudaStream_t stream) {
  if constexpr (std::is_same<T, float>::value) {
    if (pooling)
      return fastRcp ? launchOverlapping(kernels::ssimForwardKernel<T, Reciprocal::Ftz, true>, grid, stream, fa, early)
                     : launchOverlapping(kernels::ssimForwardKernel<T, Reciprocal::Exact, true>, grid, stream, fa, early);
  }
  if (pooling) return cudaErrorInvalidValue;
  return fastRcp ? launchOverlapping(kernels::ssimForwardKernel<T, Reciprocal::Ftz>, grid, stream, fa, early)
                 : launchOverlapping(kernels::ssimForwardKernel<T, Reciprocal::Exact>, grid, stream, fa, early);
}

template <typename T>
cudaError_t launchTyped(const kernels::ForwardArgs* fa, const kernels::BackwardArgs* ba, bool fastRcp,
                        bool earlyForward, unsigned int forwardGrid, unsigned int backwardGrid, cudaStream_t stream) {
  cudaError_t err = cudaSuccess;
  if (fa != nullptr) {
    err = launchForward<T>(*fa, fastRcp, fa->poolX != nullptr, earlyForward, forwardGrid, stream);
    if (err == cudaSuccess) err = cudaGetLastError();
  }
  if (err != cudaSuccess || ba == nullptr) return err;
  err = launchOverlapping(kernels::ssimBackwardKernel<T>, backwardGrid, stream, *ba, false);
  if (err == cudaSuccess) err = cudaGetLastError();
  return err;
}

// The rows and columns the forward computes: the map region for a value alone, the whole image
// when the partial maps (zero outside the map) are needed.
struct ForwardRegion {
  int y0, x0, h, w;
};
ForwardRegion forwardRegion(const SsimJob& job, const MapRegion& map) {
  if (job.grad != nullptr) return {0, 0, job.shape.height, job.shape.width};
  return {map.y0, map.x0, map.y1 - map.y0, map.x1 - map.x0};
}

// The forward's resident blocks on `device` (the layout's wave model).
int forwardResidentBlocks(const SsimJob& job, bool fastRcp, int device) {
  return residentBlocks(forwardKernelOf(job.dtype, fastRcp), 2 * int(job.dtype) + (fastRcp ? 1 : 0), device);
}

// Whether a forward of this region and work layout can pool (ssim_kernels.cuh, "Pooling"):
// float32 planar inputs, every pixel computed, one plane per strip.
bool canPool(const SsimJob& job, const ForwardRegion& reg, const kernels::WorkLayout& w) {
  const ImageShape& s = job.shape;
  return job.dtype == DType::F32 && (s.chw || s.channels == 1) && reg.y0 == 0 && reg.x0 == 0 && reg.h == s.height &&
         reg.w == s.width && w.nPack == 1;
}

}  // namespace

bool forwardPools(const SsimJob& job) {
  const ImageShape& s = job.shape;
  if (job.dtype != DType::F32 || !(s.chw || s.channels == 1)) return false;
  if (s.batch < 1 || s.channels < 1 || s.height < 1 || s.width < 1 || job.params.radius > kMaxRadius) return false;
  const MapRegion map = mapRegion(s, job.params);
  if (map.y1 <= map.y0 || map.x1 <= map.x0) return false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  const ForwardRegion reg = forwardRegion(job, map);
  const bool fastRcp = fastReciprocalInRange(job.params.c1, job.params.c2);
  kernels::WorkLayout w{};
  return layoutWork(s, reg.y0, reg.x0, reg.h, reg.w, forwardResidentBlocks(job, fastRcp, device), job.grad == nullptr,
                    true, true /* planar: any order */, w) &&
         canPool(job, reg, w);
}

std::size_t workspaceBytes(int images, std::size_t elements, bool gradient) {
  return stateBytes(images) + (gradient ? 3 * elements * sizeof(float) : 0);
}

bool launchesOverlapOn(cudaStream_t stream) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return ownStream(stream) && deviceOverlapsLaunches(device);
}

namespace {

// What launchSsim or launchSsimParts launches for one job: the arguments of the forward and
// backward kernels, or of the fused kernel.
struct SsimPlan {
  kernels::ForwardArgs fa{};
  kernels::BackwardArgs ba{};
  kernels::WorkLayout fusedWork{};
  bool nothing = false;   // neither values nor a gradient asked for: no launch
  bool fused = false;
  bool fastRcp = false;
  bool forward = false;   // fa is launched (not a backwardOnly call)
  bool backward = false;  // ba is launched (a gradient, not a forwardOnly call)
  int forwardResident = 0;
};

// Plans `job` (launchSsim's arguments) on `device` (the current one: the caller asked for it
// once per launch; the binding selects it before each call). share > 0: a part of a parts
// launch (launchSsimParts), laid out for `share` resident blocks, in the two-launch design; the
// parts kernels take float32 inputs and the fast reciprocal only.
cudaError_t planSsim(const SsimJob& job, void* workspace, int wsImages, std::size_t wsElements, const MsssimHooks& ms,
                     int device, int share, SsimPlan& plan) {
  using namespace kernels;
  const ImageShape& s = job.shape;
  const SsimParams& p = job.params;

  // Cheap checks: the binding validated already; these keep a bug from becoming a bad access.
  if (job.x == nullptr || job.y == nullptr) return cudaErrorInvalidValue;
  if (s.batch < 1 || s.channels < 1 || s.height < 1 || s.width < 1) return cudaErrorInvalidValue;
  if (p.radius < 0 || p.radius > kMaxRadius) return cudaErrorInvalidValue;
  const std::size_t esize = dtypeBytes(job.dtype);
  if (esize == 0 || !aligned(job.x, esize) || !aligned(job.y, esize)) return cudaErrorInvalidValue;
  if (job.out == nullptr && job.grad == nullptr) {  // nothing asked for
    plan.nothing = true;
    return cudaSuccess;
  }
  if (workspace == nullptr || !aligned(workspace, kStateBytesPerImage)) return cudaErrorInvalidValue;
  if (wsImages < s.batch || s.elems() > wsElements) return cudaErrorInvalidValue;
  if (!aligned(job.grad, sizeof(float)) || !aligned(job.out, sizeof(float))) return cudaErrorInvalidValue;
  const MapRegion map = mapRegion(s, p);
  if (map.y1 <= map.y0 || map.x1 <= map.x0) return cudaErrorInvalidValue;  // 'valid' too small

  const bool wantGrad = job.grad != nullptr;
  const bool pooling = ms.poolX != nullptr || ms.poolY != nullptr;
  if ((ms.forwardOnly || ms.backwardOnly) && !wantGrad) return cudaErrorInvalidValue;
  if (ms.forwardOnly && ms.backwardOnly) return cudaErrorInvalidValue;
  if (ms.backwardOnly && (ms.factors == nullptr || pooling || !(s.chw || s.channels == 1))) return cudaErrorInvalidValue;
  auto* state = static_cast<ReduceState*>(workspace);
  float* planes = reinterpret_cast<float*>(static_cast<char*>(workspace) + stateBytes(wsImages));

  const ForwardRegion reg = forwardRegion(job, map);
  const bool fastRcp = fastReciprocalInRange(p.c1, p.c2);
  if (share > 0 && (job.dtype != DType::F32 || !fastRcp)) return cudaErrorInvalidValue;
  plan.fastRcp = fastRcp;
  const bool forwardFitsL2 = passFitsL2(job, 2 * esize, device);  // its reads: x and y
  // Value + gradient in one pass (ssim_fused_kernel.cuh): float32, where its strips cover the
  // planes well, and its blocks fit on the device. Then the two-launch layouts are not planned.
  const bool fusable = share == 0 && wantGrad && !ms.forwardOnly && !ms.backwardOnly && !pooling && job.dtype == DType::F32;
  const int fusedResident = fusable ? fusedResidentBlocks(fastRcp, device) : 0;
  if (fusedResident > 0 &&
      !layoutWork(s, 0, 0, s.height, s.width, fusedResident, true, true, forwardFitsL2, plan.fusedWork, kFusedW))
    return cudaErrorInvalidValue;
  const bool fused = fusedResident > 0 && fusedPays(plan.fusedWork, s);
  plan.fused = fused;

  ForwardArgs& fa = plan.fa;
  const int forwardResident = fused ? 0 : share > 0 ? share : forwardResidentBlocks(job, fastRcp, device);
  plan.forwardResident = forwardResident;
  if (!fused &&
      !layoutWork(s, reg.y0, reg.x0, reg.h, reg.w, forwardResident, !wantGrad, pooling, forwardFitsL2, fa.work))
    return cudaErrorInvalidValue;
  if (pooling) {  // forwardPools(job) said yes
    if (!canPool(job, reg, fa.work) || ms.poolX == nullptr || ms.poolY == nullptr) return cudaErrorInvalidValue;
    fa.poolX = ms.poolX;
    fa.poolY = ms.poolY;
  }
  fa.x = job.x;
  fa.y = job.y;
  fa.out = job.out;
  fa.alpha = wantGrad ? planes : nullptr;
  fa.beta = wantGrad ? planes + wsElements : nullptr;
  fa.gamma = wantGrad ? planes + 2 * wsElements : nullptr;
  fa.state = state;
  fa.pixStride = s.pixStride();
  fa.rowStride = s.rowStride();
  fa.chanStride = s.chanStride();
  fa.imageElems = (long long)s.imageElems();
  fa.planeElems = (long long)s.planeElems();
  fa.height = s.height;
  fa.width = s.width;
  fa.mapY0 = map.y0;
  fa.mapY1 = map.y1;
  fa.mapX0 = map.x0;
  fa.mapX1 = map.x1;
  fa.vecMaps = (s.width % 4 == 0 && wsElements % 4 == 0) ? 1 : 0;
  fa.pixelsPerImage = (unsigned long long)s.channels * map.count();
  for (int k = 0; k <= kMaxRadius; ++k) fa.taps.w[k] = k <= p.radius ? p.taps[k] : 0.0f;
  fa.c1 = p.c1;
  // q C2 for the kernel's reciprocal form: exact (a power of two; c2 >= 2^-124 where q < 1)
  fa.c2q = (fastRcp ? termScale<Reciprocal::Ftz>() : termScale<Reciprocal::Exact>()) * p.c2;
  fa.inputScale = p.inputScale;
  fa.shiftWeight = shiftWeight(s.height, s.width, p.radius, p.valid);
  for (int k = 0; k < kReferenceSamples; ++k)
    fa.samples[k] = referenceOffset(k, s.height, s.width, fa.rowStride, fa.pixStride);
  const double denom = double(s.channels) * double(map.count());
  fa.valueOffset = p.valueOffset;
  fa.valueScale = p.valueScale;
  fa.denom = denom;

  BackwardArgs& ba = plan.ba;
  if (wantGrad) {
    const bool backwardFitsL2 = passFitsL2(job, 2 * esize + 3 * sizeof(float), device);  // x, y, the partial maps
    const int backwardResident =
        share > 0 ? share : residentBlocks(backwardKernelOf(job.dtype), kBackwardSlots + int(job.dtype), device);
    if (!fused && !layoutWork(s, 0, 0, s.height, s.width, backwardResident, false, false, backwardFitsL2, ba.work))
      return cudaErrorInvalidValue;
    ba.x = job.x;
    ba.y = job.y;
    ba.grad = job.grad;
    ba.alpha = fa.alpha;
    ba.beta = fa.beta;
    ba.gamma = fa.gamma;
    ba.pixStride = fa.pixStride;
    ba.rowStride = fa.rowStride;
    ba.chanStride = fa.chanStride;
    ba.imageElems = fa.imageElems;
    ba.planeElems = fa.planeElems;
    ba.height = s.height;
    ba.width = s.width;
    const bool planarRows = (s.chw || s.channels == 1) && s.width % 4 == 0;
    ba.vecGrad = planarRows && aligned(job.grad, 16) ? 1 : 0;
    ba.vecInputs = planarRows && job.dtype == DType::F32 && aligned(job.x, 16) && aligned(job.y, 16) ? 1 : 0;
    ba.taps = fa.taps;
    ba.inputScale = p.inputScale;
    ba.shiftWeight = fa.shiftWeight;
    for (int k = 0; k < kReferenceSamples; ++k) ba.samples[k] = fa.samples[k];
    ba.gradScale = float(double(p.valueScale) * double(p.gradFactor) / denom);
    if (ms.backwardOnly) {
      ba.factors = ms.factors;
      ba.up = ms.up;
      ba.mult = ms.mult;
    }
  }
  plan.forward = !ms.backwardOnly;
  plan.backward = wantGrad && !ms.forwardOnly;
  return cudaSuccess;
}

// The early-launch bookkeeping of every stream (launch_order.h).
LaunchOrder& launchOrder() {
  static LaunchOrder order;
  return order;
}

// Whether a launch of `job` may start early on `stream` (launch_order.h); records its writes.
bool admitLaunch(const SsimJob& job, void* workspace, int wsImages, std::size_t wsElements, int device,
                 cudaStream_t stream, bool candidate) {
  const ImageShape& s = job.shape;
  const std::size_t esize = dtypeBytes(job.dtype);
  const Span writes[LaunchOrder::kWrites] = {spanOf(job.out, std::size_t(s.batch) * sizeof(float)),
                                             spanOf(job.grad, s.elems() * sizeof(float)),
                                             spanOf(workspace, workspaceBytes(wsImages, wsElements, job.grad != nullptr))};
  // (Launches on the shared default streams are never early, so they need no record.)
  return ownStream(stream) && launchOrder().admit(device, reinterpret_cast<std::uintptr_t>(stream), writes,
                                                  spanOf(job.x, s.elems() * esize), spanOf(job.y, s.elems() * esize),
                                                  candidate);
}

// The current device and this stream's key for the bookkeeping; false where launches never overlap.
bool orderKey(cudaStream_t stream, int& device) {
  if (!ownStream(stream)) return false;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return deviceOverlapsLaunches(device);
}

}  // namespace

void recordCombination(cudaStream_t stream, const Span (&touched)[LaunchOrder::kCombinationSpans]) {
  int device = 0;
  if (orderKey(stream, device)) launchOrder().combined(device, reinterpret_cast<std::uintptr_t>(stream), touched);
}

void recordPlainLaunch(cudaStream_t stream) {
  int device = 0;
  if (orderKey(stream, device)) launchOrder().plainLaunch(device, reinterpret_cast<std::uintptr_t>(stream));
}

bool followsCombination(cudaStream_t stream, const Span (&touched)[4]) {
  int device = 0;
  return orderKey(stream, device) &&
         launchOrder().followsCombination(device, reinterpret_cast<std::uintptr_t>(stream), touched);
}

cudaError_t launchSsim(const SsimJob& job, void* workspace, int wsImages, std::size_t wsElements,
                       cudaStream_t stream, bool allowEarly, const MsssimHooks* hooks) {
  using namespace kernels;
  const MsssimHooks none;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return cudaGetLastError();
  SsimPlan plan;
  cudaError_t err = planSsim(job, workspace, wsImages, wsElements, hooks != nullptr ? *hooks : none, device, 0, plan);
  if (err != cudaSuccess || plan.nothing) return err;
  ForwardArgs& fa = plan.fa;
  BackwardArgs& ba = plan.ba;

  // Short launches (at most kShortBatches batches of rows per resident block) let the next
  // kernel of the stream start early: its blocks fill the SMs that the last blocks leave idle,
  // a tenth to a sixth of a launch of 3 to 9 batches per block. Long launches do not (their
  // idle tail is under 1%, and letting the next grid in early measured 1% slower on 4K). The
  // fused kernel signals nothing (fa and ba keep signalNext 0).
  if (!plan.fused) {
    constexpr double kShortBatches = 32.0;
    const double blocks = double(std::min<unsigned>(fa.work.ranges, unsigned(std::max(plan.forwardResident, 1))));
    const double batchesPerBlock = double(job.shape.elems()) / (double(kRB) * kTileW * blocks);
    fa.signalNext = batchesPerBlock <= kShortBatches ? 1 : 0;
    ba.signalNext = fa.signalNext;
  }

  // A value-only forward may start early (launchOverlapping) unless it reads what a launch
  // that may still be running writes.
  const bool candidate = allowEarly && job.grad == nullptr && deviceOverlapsLaunches(device);
  const bool earlyForward = admitLaunch(job, workspace, wsImages, wsElements, device, stream, candidate);

  if (plan.fused) {
    FusedArgs fu{};
    fu.f = fa;
    fu.b = ba;
    fu.f.work = plan.fusedWork;
    return launchFused(fu, plan.fastRcp, stream);
  }
  return withElementType(job.dtype, [&](auto e) {
    return launchTyped<typename decltype(e)::type>(plan.forward ? &fa : nullptr, plan.backward ? &ba : nullptr,
                                                   plan.fastRcp, earlyForward, fa.work.ranges, ba.work.ranges, stream);
  });
}

cudaError_t launchSsimParts(const SsimJob* jobs, void* const* workspaces, const int* wsImages,
                            const std::size_t* wsElements, int count, cudaStream_t stream, bool early,
                            const MsssimFold* fold, bool* folded) {
  using namespace kernels;
  if (folded != nullptr) *folded = false;
  static_assert(kMaxParts == kMaxSsimParts, "the parts kernels hold kMaxSsimParts parts");
  if (count < 1 || count > kMaxSsimParts) return cudaErrorInvalidValue;
  // One launch needs: float32 planar inputs, the same outputs asked for (a gradient for all or
  // none), and C1, C2 in the fast reciprocal's range (the parts kernels' one mode) for all.
  bool together = count > 1;
  for (int k = 0; k < count; ++k) {
    const SsimJob& j = jobs[k];
    const ImageShape& s = j.shape;
    together = together && j.dtype == DType::F32 && (s.chw || s.channels == 1) && j.out != nullptr &&
               (j.grad != nullptr) == (jobs[0].grad != nullptr) && fastReciprocalInRange(j.params.c1, j.params.c2);
  }
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return cudaGetLastError();
  const bool gradient = jobs[0].grad != nullptr;
  // Both parts kernels run 4 blocks per multiprocessor, as their single-problem forms.
  const int resident = together ? residentBlocks(reinterpret_cast<const void*>(ssimForwardPartsKernel<Reciprocal::Ftz>),
                                                 kPartsSlots, device)
                                : 0;
  if (resident <= 0) {
    for (int k = 0; k < count; ++k) {
      const cudaError_t err = launchSsim(jobs[k], workspaces[k], wsImages[k], wsElements[k], stream, false);
      if (err != cudaSuccess) return err;
    }
    return cudaSuccess;
  }
  // Each part gets a share of the resident blocks in proportion to its units of work (kRB rows
  // of a strip), not to its pixels: a block's time is its units, and a unit of a plane's last,
  // narrow strip costs about what a full one does, so the smallest scales (a strip or two per
  // plane) hold more units than their pixels say. Shares in proportion to pixels gave fhd's
  // scales 2 to 4 four units a block against scale 1's three (docs/PERFORMANCE.md, ms-v13).
  // The shares: the fewest blocks that give no block more than U units, U the least that fits.
  const MsssimHooks none;
  unsigned long long units[kMaxParts] = {};
  unsigned long long allUnits = 0;
  for (int k = 0; k < count; ++k) {
    SsimPlan plan;
    const cudaError_t err = planSsim(jobs[k], workspaces[k], wsImages[k], wsElements[k], none, device, resident, plan);
    if (err != cudaSuccess) return err;
    units[k] = workUnits(plan.fa.work);
    allUnits += units[k];
  }
  unsigned long long perBlock = std::max(1ull, ceilDiv(allUnits, unsigned(resident)));
  const auto blocksFor = [&](unsigned long long u) {
    unsigned long long blocks = 0;
    for (int k = 0; k < count; ++k) blocks += ceilDiv(units[k], u);
    return blocks;
  };
  while (blocksFor(perBlock) > unsigned(resident)) ++perBlock;
  PartsArgs<ForwardArgs> fwd{};
  PartsArgs<BackwardArgs> bwd{};
  fwd.count = bwd.count = count;
  unsigned long long fEnd = 0, bEnd = 0;
  for (int k = 0; k < count; ++k) {
    const int share = int(std::max(1ull, ceilDiv(units[k], perBlock)));
    SsimPlan plan;
    const cudaError_t err = planSsim(jobs[k], workspaces[k], wsImages[k], wsElements[k], none, device, share, plan);
    if (err != cudaSuccess) return err;
    if (plan.nothing) return cudaErrorInvalidValue;  // (out is set: checked above)
    admitLaunch(jobs[k], workspaces[k], wsImages[k], wsElements[k], device, stream, false);
    fwd.part[k] = plan.fa;
    bwd.part[k] = plan.ba;
    fEnd += plan.fa.work.ranges;
    bEnd += gradient ? plan.ba.work.ranges : 0;
    if (fEnd > 0x7fffffffull || bEnd > 0x7fffffffull) return cudaErrorInvalidValue;
    fwd.end[k] = unsigned(fEnd);
    bwd.end[k] = unsigned(bEnd);
  }
  if (fold != nullptr && (fold->count == nullptr || folded == nullptr)) return cudaErrorInvalidValue;
  // The forward waits for the kernel ahead of it before it reads anything (that kernel may have
  // written its inputs), so it may launch early; it lets the next kernel launch early too (the
  // backward is launched the ordinary way; MS-SSIM's combination waits first). Its writes are
  // recorded above as those of an ordinary launch, which is what it is to memory.
  cudaError_t err = launchKernel(ssimForwardPartsKernel<Reciprocal::Ftz>, dim3(unsigned(fEnd)), dim3(kThreads), 0, stream,
                                 early, fwd, fold != nullptr ? *fold : MsssimFold{});
  if (err == cudaSuccess) err = cudaGetLastError();
  if (err == cudaSuccess && fold != nullptr) *folded = true;
  if (err != cudaSuccess || !gradient) return err;
  err = launchOverlapping(ssimBackwardPartsKernel, unsigned(bEnd), stream, bwd, false);
  return err == cudaSuccess ? cudaGetLastError() : err;
}

}  // namespace cudassim
