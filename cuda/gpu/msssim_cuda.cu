// The CUDA operations of common/msssim.h's composition (msssim_cuda.h).
#include "msssim_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <mutex>

#include "common/fast_divide.h"
#include "common/msssim_pyramid.h"
#include "common/ssim_math.h"
#include "launch_overlap.cuh"
#include "msssim_combine.cuh"
#include "side_streams.h"
#include "ssim_cuda.h"

namespace cudassim {

namespace {

constexpr int kThreads = 256;
constexpr std::size_t kAlign = 256;
// Side streams of the coarse scales: scale 1 on the first, after the pooling; the smaller ones
// (the small ones in one launch, launchSsimParts), whose sum takes about as long, on the second
// (more streams cost more host time in events than they save). Where scale 1 is small, all the
// coarse scales are one launch, on the first.
constexpr int kCoarseStreams = SideStreams::kStreams;
static_assert(kCoarseStreams == 2, "scale 1's lane and the smaller scales' lane");
static_assert(kMsssimSsimParts == kMaxScales && StateSpans::kMax >= kMaxScales, "an SSIM workspace per scale");

// Coarse scales below this many pixels (all planes) share one launch: their own launches cost
// more in fixed time than in work (docs/PERFORMANCE.md, "MS-SSIM", ms-v9).
constexpr std::size_t kGroupedElems = std::size_t(1) << 21;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// The workspace's head: the folded combination's count of coarse values (ssim_parts_kernels.cuh),
// zero between launches like the reduction states, with which it is zeroed.
constexpr std::size_t kHeadBytes = kAlign;
static_assert(kHeadBytes >= sizeof(unsigned long long), "the count");

// The SSIM workspaces, after the head: part j for scale j (the small coarse scales run at the
// same time, so each needs its own). Byte offsets of each part, and the total in offsets[count].
struct SsimParts {
  std::size_t offsets[kMaxScales + 1] = {};
  int count = 1;
};

SsimParts ssimParts(const MsssimLayout& L, bool gradient) {
  SsimParts parts;
  parts.count = L.scales;
  parts.offsets[0] = kHeadBytes;
  for (int i = 0; i < parts.count; ++i) {
    parts.offsets[i + 1] = parts.offsets[i] + aligned(workspaceBytes(L.planes, L.elems(i), gradient));
  }
  return parts;
}

struct BlockSync {
  __device__ void operator()() const { __syncthreads(); }
};

unsigned gridFor(std::size_t n) {
  std::size_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535u * 16u) blocks = 65535u * 16u;  // grid-stride loops cover the rest
  return unsigned(blocks == 0 ? 1 : blocks);
}

unsigned tileGrid(long long tiles) { return unsigned(tiles < (1LL << 20) ? tiles : (1LL << 20)); }

// Interleaved (hwc) x, y -> planar float32 intensities (plane p = b * C + c).
template <typename T>
__global__ void planarizeKernel(const T* __restrict__ x, const T* __restrict__ y, float* __restrict__ xd,
                                float* __restrict__ yd, std::size_t n, int channels, std::size_t planeElems,
                                float scale) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    // i: interleaved index b * (HW C) + pix * C + c
    const std::size_t c = i % unsigned(channels);
    const std::size_t rest = i / unsigned(channels);  // b * HW + pix
    const std::size_t b = rest / planeElems, pix = rest % planeElems;
    const std::size_t o = (b * unsigned(channels) + c) * planeElems + pix;
    xd[o] = toIntensity(x[i], scale);
    yd[o] = toIntensity(y[i], scale);
  }
}

// One pass of the pooling pyramid (common/msssim_pyramid.h): a tile per block. Launched early
// where it may (GpuOps::pyramid), it waits for the kernel ahead (scale 0's pooling forward
// wrote its input) before anything else; the coarse scales' launch after it does the same.
template <typename T>
__global__ void __launch_bounds__(kThreads) poolPyramidKernel(PyramidPass pass, const T* __restrict__ xs,
                                                             const T* __restrict__ ys, float scale, PyramidLevels xd,
                                                             PyramidLevels yd) {
  waitForPreviousLaunch();
  allowNextLaunch();
  __shared__ float shared[kPyramidSharedFloats];
  for (long long t = blockIdx.x; t < pass.tiles(); t += gridDim.x) {
    poolPyramidTile(pass, xs, ys, scale, xd, yd, t, shared, int(threadIdx.x), kThreads, BlockSync{});
  }
}

// One pass of the gradient's way back over levels >= 1 (common/msssim_pyramid.h): a tile per block.
__global__ void __launch_bounds__(kThreads) accumulatePyramidKernel(PyramidPass pass, PyramidLevels g, PyramidLevels dst,
                                                                   const float* top, const float* __restrict__ factors) {
  __shared__ float shared[kPyramidSharedFloats];
  for (long long t = blockIdx.x; t < pass.tiles(); t += gridDim.x) {
    accumulatePyramidTile(pass, g, dst, top, factors, t, shared, int(threadIdx.x), kThreads, BlockSync{});
  }
}

// Scale 0 of the gradient's way back, elementwise over the planar order e = index(p, r, c); each
// thread loads its kAccumulateBatch pixels before it stores any (dst may be g). Narrow: n < 2^31,
// divisions by multiply and shift.
template <bool Narrow>
__global__ void __launch_bounds__(kThreads) accumulateBottomKernel(const float* g, float* dst, const float* __restrict__ up,
                                                                  const float* __restrict__ factors, float mult,
                                                                  BottomGeometry geo, FastDivide byW, FastDivide byH,
                                                                  std::size_t n) {
  constexpr int kB = kAccumulateBatch;
  const std::size_t stride = std::size_t(gridDim.x) * kThreads * kB;
  for (std::size_t e0 = std::size_t(blockIdx.x) * kThreads * kB + threadIdx.x; e0 < n; e0 += stride) {
    float gv[kB], uv[kB], fv[kB];
    int pv[kB], rv[kB], cv[kB];
#pragma unroll
    for (int q = 0; q < kB; ++q) {
      const std::size_t e = e0 + std::size_t(q) * kThreads;
      if (e >= n) break;
      const std::size_t row = Narrow ? byW.div(unsigned(e)) : e / unsigned(geo.w);
      cv[q] = int(e - row * unsigned(geo.w));
      pv[q] = int(Narrow ? byH.div(unsigned(row)) : row / unsigned(geo.h));
      rv[q] = int(row - std::size_t(pv[q]) * unsigned(geo.h));
      gv[q] = g[e];
      uv[q] = up != nullptr ? up[geo.upIndex(pv[q], rv[q], cv[q])] : 0.0f;
      fv[q] = factors[pv[q]];
    }
#pragma unroll
    for (int q = 0; q < kB; ++q) {
      const std::size_t e = e0 + std::size_t(q) * kThreads;
      if (e >= n) break;
      dst[geo.dstIndex(pv[q], rv[q], cv[q])] = accumulateBottom(fv[q], gv[q], up != nullptr, uv[q], mult);
    }
  }
}

constexpr int kCombineThreads = 128;

// A block per image (msssim_combine.cuh).
__global__ void __launch_bounds__(kCombineThreads) combineKernel(const MsssimCombination c) {
  waitForPreviousLaunch();  // launched early after the coarse scales' launch (GpuOps::combine)
  // Everything before this kernel has finished: the next launch may start (the next value call's
  // scale-0 forward, launch_order.h), while this one reads the values and writes its outputs.
  allowNextLaunch();
  __shared__ double term[kCombineThreads];
  __shared__ double prod[kCombineThreads];
  kernels::combineImage<kCombineThreads>(c, int(blockIdx.x), int(threadIdx.x), term, prod, BlockSync{});
}

struct GpuOps {
  const MsssimJob& job;
  const MsssimLayout& L;
  char* ws;                // the workspace: SSIM parts, then the layout
  const SsimParts& parts;
  float* scratch;          // the layout's base
  cudaStream_t main;
  SideStreams* side;       // null: everything on `main`, in order
  cudaStream_t stream;     // where the next launch goes
  int coarse = -1;         // coarse scales launched since forkCoarse; -1 outside
  bool forked = false;     // the side streams wait for `main`: joinCoarse must join them back
  bool overlaps = false;   // launchesOverlapOn(main)
  // The streams whose last enqueued operation is a kernel of this call (null: a free entry).
  cudaStream_t afterKernel[1 + kCoarseStreams] = {};
  bool scale0Launched = false;
  bool callStarted = false;  // something of this call is enqueued on `main` (a kernel or an event)
  // Small coarse scales held for one launch at endCoarse (launchSsimParts).
  SsimJob grouped[kMaxScales];
  int groupedScale[kMaxScales] = {};
  int groupedCount = 0;
  bool folded = false;  // the coarse scales' launch combined the values (endCoarse)
  cudaError_t err = cudaSuccess;

  float* scratchAt(std::size_t off) const { return scratch + off; }

  bool ok() {
    if (err == cudaSuccess) err = cudaGetLastError();
    return err == cudaSuccess;
  }

  // Whether a kernel that waits for the one ahead before it touches memory may launch early on
  // `s` (launch_overlap.cuh): where the last thing enqueued there is a kernel of this call. Not
  // right after an event (an early launch waits for the kernel ahead, not for the event), nor as
  // the first launch on `main` (what is ahead is the caller's, perhaps an event wait).
  bool mayLaunchEarlyOn(cudaStream_t s) const { return overlaps && lastIsKernel(s); }
  bool lastIsKernel(cudaStream_t s) const {
    for (const cudaStream_t k : afterKernel)
      if (k == s) return true;
    return false;
  }
  // After each launch on `s`, and each event recorded or waited for there.
  void launchedOn(cudaStream_t s) {
    callStarted = true;
    if (err != cudaSuccess || lastIsKernel(s)) return;
    for (cudaStream_t& k : afterKernel)
      if (k == nullptr) {
        k = s;
        return;
      }
  }
  void eventOn(cudaStream_t s) {
    for (cudaStream_t& k : afterKernel)
      if (k == s) k = nullptr;
  }
  // After a fork or a join: events on every stream of the call.
  void forgetKernels() { std::fill(std::begin(afterKernel), std::end(afterKernel), nullptr); }

  bool isGrouped(int j) const { return j >= 1 && L.elems(j) < kGroupedElems; }
  // Scale 1 on the first side stream, the smaller scales on the second.
  bool twoLanes() const { return L.scales > 2 && !isGrouped(1); }
  // Where a coarse scale goes: scale 1's lane (`stream`), or the smaller scales'.
  cudaStream_t lane(bool scaleOne) const { return forked && twoLanes() && !scaleOne ? side->stream(1) : stream; }

  // The coarse scales go to the side streams where something runs beside them: scale 0's SSIM
  // (when it comes after them), or each other (twoLanes). Otherwise they run on `main` in order,
  // without the events.
  void forkCoarse() {
    coarse = 0;
    groupedCount = 0;
    if (err != cudaSuccess || side == nullptr || (scale0Launched && !twoLanes())) return;
    err = side->fork(main);
    callStarted = true;
    forked = err == cudaSuccess;
    stream = side->stream(0);
    forgetKernels();
  }
  void endCoarse() {
    // The small scales, kMaxSsimParts per launch, on their lane.
    for (int first = 0; first < groupedCount && err == cudaSuccess; first += kMaxSsimParts) {
      const int n = groupedCount - first < kMaxSsimParts ? groupedCount - first : kMaxSsimParts;
      void* wsp[kMaxSsimParts];
      int images[kMaxSsimParts];
      std::size_t elems[kMaxSsimParts];
      for (int k = 0; k < n; ++k) {
        const int j = groupedScale[first + k];
        wsp[k] = ws + parts.offsets[j];
        images[k] = L.planes;
        elems[k] = L.elems(j);
      }
      // may overlap the tail of the kernel ahead (the pyramid's where it follows it on its lane)
      const cudaStream_t to = lane(false);
      MsssimFold fold;
      const bool folds = foldsCombination(n);
      if (folds) {
        fold.c = combination(scratchAt(L.vals), nullptr);
        fold.count = reinterpret_cast<unsigned long long*>(ws);  // the head
        fold.target = (unsigned long long)job.core.shape.channels * unsigned(n);
      }
      err = launchSsimParts(grouped + first, wsp, images, elems, n, to, mayLaunchEarlyOn(to), folds ? &fold : nullptr,
                            &folded);
      launchedOn(to);
    }
    groupedCount = 0;
    coarse = -1;
    stream = main;
  }
  // Whether the launch of all n coarse scales combines the values too (ssim_parts_kernels.cuh,
  // "Folded combination"): a value call of one image whose terms a warp holds, where every other
  // launch of the call is ahead of it on `main` (scale 0's values are written when it starts).
  bool foldsCombination(int n) const {
    const ImageShape& s = job.core.shape;
    return n == L.scales - 1 && groupedCount == n && !forked && scale0Launched && job.core.grad == nullptr &&
           s.batch == 1 && s.channels * L.scales <= kernels::kFoldedTerms;
  }
  MsssimCombination combination(const float* vals, float* factors) const {
    MsssimCombination c;
    c.vals = vals;
    c.factors = factors;
    c.out = job.core.out;
    c.channels = job.core.shape.channels;
    c.planes = L.planes;
    c.scales = job.scales;
    for (int j = 0; j < job.scales; ++j) c.weights[j] = job.weights[j];
    c.valueOffset = job.core.params.valueOffset;
    c.valueScale = job.core.params.valueScale;
    return c;
  }

  void joinCoarse() {
    // Also after a failed launch: what the side streams did enqueue must finish before anything
    // the caller's stream runs next (the allocating call frees the workspace after the call).
    if (!forked) return;
    forked = false;
    forgetKernels();
    const cudaError_t e = side->join(main, twoLanes() ? kCoarseStreams : 1);
    if (err == cudaSuccess) err = e;
  }

  void planarize(float* xd, float* yd) {
    if (err != cudaSuccess) return;
    const ImageShape& s = job.core.shape;
    const std::size_t n = s.elems();
    withElementType(job.core.dtype, [&](auto e) {
      using T = typename decltype(e)::type;
      planarizeKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(job.core.x), static_cast<const T*>(job.core.y),
                                                              xd, yd, n, s.channels, s.planeElems(), job.core.params.inputScale);
    });
    if (ok()) launchedOn(stream);
  }

  void pyramid(const void* xs, const void* ys, DType dt, float scale, int from) {
    // A block per tile: the SSIM forward of scale 0, launched beside it, takes every register of
    // a multiprocessor it runs on, so the two never share one; a grid capped to leave room for it
    // (2 or 4 blocks per multiprocessor, measured) only made the pooling slower.
    float* x[kMaxScales] = {};
    float* y[kMaxScales] = {};
    for (int j = 1; j < L.scales; ++j) {
      x[j] = scratchAt(L.x[j]);
      y[j] = scratchAt(L.y[j]);
    }
    if (err != cudaSuccess) return;
    forEachPoolPass(L, x, y, from, [&](const PyramidPass& pass, const PyramidLevels& xd, const PyramidLevels& yd) {
      // passes after the first start from the previous one's top level, in float32
      const bool first = pass.lo == 0;
      withElementType(first ? dt : DType::F32, [&](auto e) {
        using T = typename decltype(e)::type;
        const T* xsrc = static_cast<const T*>(first ? xs : x[pass.lo]);
        const T* ysrc = static_cast<const T*>(first ? ys : y[pass.lo]);
        PyramidPass p = pass;
        p.alignedRows = quadRowsAligned(pass, xsrc, ysrc);
        err = launchKernel(poolPyramidKernel<T>, dim3(tileGrid(pass.tiles())), dim3(kThreads), 0, stream,
                           mayLaunchEarlyOn(stream), p, xsrc, ysrc, first ? scale : 1.0f, xd, yd);
      });
      launchedOn(stream);
      return ok();
    });
    if (err == cudaSuccess && forked && twoLanes()) {
      err = side->fanOut(kCoarseStreams);
      for (int k = 0; k < kCoarseStreams; ++k) eventOn(side->stream(k));
    }
  }

  // One SSIM call with scale j's workspace part: scale 0's on `main`; a coarse scale's on the
  // side stream of its lane, or held for endCoarse's launch if it is small (and without hooks).
  // Ordinary launches: the pooled inputs are written by this file's kernels, which the SSIM
  // path's early-launch bookkeeping (launch_order.h) does not see.
  void launch(const SsimJob& sj, const MsssimHooks& hooks) {
    if (err != cudaSuccess) return;
    int j = 0;
    if (coarse >= 0) {
      j = 1 + coarse++;  // the coarse scales come in order
      const bool plain = hooks.poolX == nullptr && !hooks.forwardOnly && !hooks.backwardOnly;
      if (plain && isGrouped(j)) {
        grouped[groupedCount] = sj;
        groupedScale[groupedCount++] = j;
        return;
      }
    } else {
      scale0Launched = true;
    }
    const cudaStream_t to = j > 0 ? lane(j == 1) : stream;
    err = launchSsim(sj, ws + parts.offsets[j], L.planes, L.elems(j), to, j == 0 && scale0MayStartEarly(sj, hooks), &hooks);
    launchedOn(to);
  }

  // Scale 0's value forward as the call's first launch may start behind the previous call's
  // combination (its kernel, or the coarse scales' launch that folded it), where what it reads
  // (x, y) and writes (the pooled scale 1) before it waits is none of what that combination
  // touches (launch_order.h; -3.6 us a call on 1 x 3 x 1080 x 1920, docs/PERFORMANCE.md, ms-v15).
  // launchSsim then checks x and y against the launches that may still run, as for any early
  // forward.
  bool scale0MayStartEarly(const SsimJob& sj, const MsssimHooks& hooks) const {
    if (callStarted || !overlaps || sj.grad != nullptr) return false;
    const std::size_t in = sj.shape.elems() * dtypeBytes(sj.dtype);
    const std::size_t pooled = L.scales > 1 ? L.elems(1) * sizeof(float) : 0;
    const Span touched[4] = {spanOf(sj.x, in), spanOf(sj.y, in), spanOf(hooks.poolX, pooled), spanOf(hooks.poolY, pooled)};
    return followsCombination(stream, touched);
  }

  bool ssimPooling(const SsimJob& sj, ScalePhase phase, int j) {
    if (err != cudaSuccess || !forwardPools(sj)) return false;
    MsssimHooks hooks;
    hooks.poolX = scratchAt(L.x[j + 1]);
    hooks.poolY = scratchAt(L.y[j + 1]);
    hooks.forwardOnly = phase == ScalePhase::kForward;
    launch(sj, hooks);
    return true;
  }

  // A coarse scale of 2^24 pixels or more fills the GPU many times over: the pyramid could not
  // run beside it anyway, and its forward saves the pyramid a read of it (4K: 8 x 3 x 1080 x 1920).
  bool poolsAtCoarseScale(int j) const { return L.elems(j) >= (std::size_t(1) << 24); }

  void ssim(const SsimJob& sj, ScalePhase phase) {
    MsssimHooks hooks;
    hooks.forwardOnly = phase == ScalePhase::kForward;
    launch(sj, hooks);
  }

  // Scale 0's backward finishes the gradient (ssim_kernels.cuh, loadFold): one pass over
  // the gradient fewer than accumulate()'s scale-0 step.
  bool foldsScaleZero() const { return true; }
  void ssimBackwardFolded(const SsimJob& sj, const float* up, float mult) {
    MsssimHooks hooks;
    hooks.backwardOnly = true;
    hooks.factors = scratchAt(L.factors);  // scale 0's: the first `planes`
    hooks.up = up;
    hooks.mult = mult;
    launch(sj, hooks);  // on `main`, with scale 0's workspace part (its forward's partial maps)
  }

  void combine(const float* vals, float* factors) {
    if (err != cudaSuccess) return;
    const ImageShape& s = job.core.shape;
    if (!folded) {
      // Early after the coarse scales' launch on `main` (fhd: no side streams); after a join, ordinary.
      err = launchKernel(combineKernel, dim3(s.batch), dim3(kCombineThreads), 0, stream, mayLaunchEarlyOn(stream),
                         combination(vals, factors));
      if (!ok()) return;
      launchedOn(stream);
    }
    // A value-only call ends here: the next call's scale-0 forward may start behind it.
    if (factors == nullptr) {
      const Span touched[LaunchOrder::kCombinationSpans] = {
          spanOf(vals, std::size_t(L.scales) * std::size_t(L.planes) * sizeof(float)),
          spanOf(job.core.out, std::size_t(s.batch) * sizeof(float)),
          spanOf(folded ? ws : nullptr, kHeadBytes)};
      recordCombination(stream, touched);
    }
  }

  void accumulate(float* const* g, float* const* dst, bool hwc, float mult, bool bottom) {
    if (err != cudaSuccess) return;
    forEachAccumulatePass(L, g, dst, [&](const PyramidPass& pass, const PyramidLevels& gl, const PyramidLevels& dl,
                                         const float* top) {
      accumulatePyramidKernel<<<tileGrid(pass.tiles()), kThreads, 0, stream>>>(pass, gl, dl, top, scratchAt(L.factors));
      launchedOn(stream);
      return ok();
    });
    if (err != cudaSuccess || !bottom) return;
    const BottomGeometry geo = bottomGeometry(L, job.core.shape.channels, hwc);
    const std::size_t n = L.elems(0);
    const float* up = L.scales > 1 ? dst[1] : nullptr;
    std::size_t blocks = (n + std::size_t(kThreads) * kAccumulateBatch - 1) / (std::size_t(kThreads) * kAccumulateBatch);
    if (blocks > 65535u * 16u) blocks = 65535u * 16u;
    const FastDivide byW = FastDivide::of(unsigned(geo.w)), byH = FastDivide::of(unsigned(geo.h));
    if (n < (std::size_t(1) << 31)) {
      accumulateBottomKernel<true><<<unsigned(blocks), kThreads, 0, stream>>>(g[0], dst[0], up, scratchAt(L.factors), mult, geo,
                                                                              byW, byH, n);
    } else {
      accumulateBottomKernel<false><<<unsigned(blocks), kThreads, 0, stream>>>(g[0], dst[0], up, scratchAt(L.factors), mult,
                                                                               geo, byW, byH, n);
    }
    if (ok()) launchedOn(stream);
  }
};

}  // namespace

std::size_t msssimWorkspaceBytes(const ImageShape& shape, int scales, bool gradient) {
  const MsssimLayout L = msssimLayout(shape, scales, gradient);
  const SsimParts parts = ssimParts(L, gradient);
  return parts.offsets[parts.count] + L.floats * sizeof(float);
}

StateSpans msssimStateSpans(const ImageShape& shape, int scales, bool gradient) {
  const MsssimLayout L = msssimLayout(shape, scales, gradient);
  const SsimParts parts = ssimParts(L, gradient);
  const std::size_t state = workspaceBytes(L.planes, 0, false);
  StateSpans spans;
  spans.count = parts.count;
  for (int i = 0; i < parts.count; ++i) spans.span[i] = {parts.offsets[i], state};
  spans.span[0] = {0, kHeadBytes + state};  // the head with scale 0's states
  return spans;
}

cudaError_t launchMsssim(const MsssimJob& job, void* workspace, std::size_t wsBytes, cudaStream_t stream) {
  const ImageShape& s = job.core.shape;
  if (job.core.x == nullptr || job.core.y == nullptr || workspace == nullptr) return cudaErrorInvalidValue;
  if (job.scales < 1 || job.scales > kMaxScales) return cudaErrorInvalidValue;
  if (s.batch < 1 || s.channels < 1 || s.height < 1 || s.width < 1) return cudaErrorInvalidValue;
  if ((long long)s.batch * s.channels > 0x7fffffffLL) return cudaErrorInvalidValue;
  if (dtypeBytes(job.core.dtype) == 0) return cudaErrorInvalidValue;
  const bool gradient = job.core.grad != nullptr;
  if (job.core.out == nullptr && !gradient) return cudaSuccess;
  if (wsBytes < msssimWorkspaceBytes(s, job.scales, gradient)) return cudaErrorInvalidValue;
  if (reinterpret_cast<std::uintptr_t>(workspace) % kAlign != 0) return cudaErrorInvalidValue;
  const MsssimLayout L = msssimLayout(s, job.scales, gradient);
  const SsimParts parts = ssimParts(L, gradient);
  char* base = static_cast<char*>(workspace);
  // The coarse scales run beside scale 0 on the device's side streams, except while `stream` is
  // being captured into a graph (a forked stream stays in the capture until it ends, so no other
  // call could use it meanwhile) or with one scale.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cudaError_t err = cudaStreamIsCapturing(stream, &capture);
  if (err != cudaSuccess) return err;
  SideStreams* side = capture == cudaStreamCaptureStatusNone && L.scales > 1 ? SideStreams::current() : nullptr;
  GpuOps ops{job, L, base, parts, reinterpret_cast<float*>(base + parts.offsets[parts.count]), stream, side, stream};
  ops.overlaps = launchesOverlapOn(stream);
  if (side == nullptr) {
    composeMsssim(job, L, ops);
  } else {
    std::lock_guard<std::mutex> lock(side->mutex());
    composeMsssim(job, L, ops);
  }
  return ops.err;
}

}  // namespace cudassim
