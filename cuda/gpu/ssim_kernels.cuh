// The CUDA kernels of the GPU path (launched by cuda/gpu/ssim_cuda.cu). Design notes (v4,
// "column walk"; docs/PERFORMANCE.md has the measurements behind it):
//
// Strips. A block of 128 threads (4 warps) walks down an output strip of kTileW = 116 columns,
// one segment of rows at a time (see "Work" below for how segments are handed out). Thread t
// owns input column gx0 - kHalo + t (t < 126 = 116 + 2 * kHalo; the last 2 threads carry
// zeros) and walks down the segment, kRB = 12 rows per batch:
//   - inputs: each input element is read from global memory exactly once (coalesced across
//     the warp for planar images). float: the next batch's rows are copied asynchronously
//     (cp.async, sm_80+) into this thread's column of a staging array while the current
//     batch's horizontal pass runs (a batch wholly inside the image walks one pointer per
//     input down the rows: no per-row bounds or 64-bit index arithmetic); other dtypes (and
//     sm_75): register loads issued before the horizontal pass. The backward stages its float
//     maps the same way for every dtype;
//   - vertical pass, in registers: the thread keeps the last 2r+1 rows of its column's
//     (x, y, x^2 + y^2, xy) in a shift register (44 registers; the loop is unrolled so the
//     shift is register renaming) and writes the four vertically filtered moments of the
//     batch's rows to shared memory;
//   - __syncthreads; horizontal pass from shared memory: one work item = 4 consecutive output
//     columns of one row: four 128-bit loads per moment (16 values, conflict-free: the row
//     pitch of 148 floats = 37 16-byte groups, 8 more than the 29 items of a row, keeps 8
//     consecutive items on 8 distinct 16-byte bank groups even across a row boundary), the
//     folded filter, then SSIM (and partials) per pixel, computed for all 4 columns without
//     branches and masked outside the map. 116 columns (v10; 112 before) is the widest strip
//     whose halo fits the 128 threads and whose start stays 16-byte aligned: 126 of 128 lanes
//     work in the vertical pass and 348 items fill 2.7 rounds of 128 threads (112: 122 lanes,
//     336 items in 2.6 rounds);
//   - __syncthreads, next batch.
// Each vertical moment is read once from shared memory (v1 staged the inputs, re-read every
// horizontal moment 2r+1 times from shared memory and recomputed products 3.5 times).
// Taps are symmetric and folded (w0 v0 + sum_k wk (v[-k] + v[+k])); the window radius is a
// runtime value, taps beyond it are zero (one instantiation per input dtype). The arithmetic
// of the passes uses explicit round-to-nearest intrinsics so that the compiler cannot contract
// the moments of x and of y differently: with x == y, E[x^2 + y^2] comes out as exactly twice
// E[xy], which is what keeps ssim(x, x) at 1. Four moments, not five (v7, docs/PERFORMANCE.md):
// S needs E[x^2] and E[y^2] only through their sum (ssim_math.h, Moments4).
//
// Shifted moments (cuda/common/MATH.md): every loaded pixel is fma(v, inputScale, -shift), the shift
// being its plane's reference intensity (planeReference: the median of nine sample pixels; each
// thread takes its column's, and the thread on a plane's first output column of the strip puts
// it in shared memory for the per-item terms; the backward's threads 0..3 take the strip's
// planes'); zero padding is -shift.
//
// Pooling (kPool, float32 planar inputs whose every pixel is computed, one plane per strip): the
// forward also writes MS-SSIM's scale 1, the 2 x 2 average pooling of x and y, from the values it
// already holds, so that MS-SSIM reads x and y once. In the vertical pass, at the row that closes a
// window (rows rb0 + j - 1 and rb0 + j, the centre of the shift register and the row before it),
// each thread puts its column's two-row sum in shared memory (spool); after the barrier, a thread
// per pooled column (poolBatch) adds the two columns of each window down the batch. The sums are
// of shifted intensities (the plane's shift added back after the quarter), so level 1 agrees with
// pooling the intensities to a few units in the last place, not bit for bit; x == y still pools to
// equal images. The pooling forward measured 6 to 14% slower than the plain one (fhd, 4K), more
// than its writes; docs/PERFORMANCE.md, "MS-SSIM".
//
// Backward: the same strip walk over the three partial maps (alpha, beta, gamma: 33 registers
// of shift register), then grad = scale * (G*alpha + 2 x G*beta + y G*gamma) per item. For float32
// planes it covers well, ssim_fused_kernel.cuh does both in one pass, keeping the maps on chip;
// the item helpers below (filterMoments, itemPartials, itemGradient...) serve both designs.
//
// Work (v11, docs/PERFORMANCE.md). A "virtual row" holds one plane (b, c) or, for narrow planar
// planes, all planes side by side, `pitch` columns apart (packed: 2 * kHalo zero or halo
// columns between two planes, so a 256-wide plane no longer leaves 92 of its third strip's
// 348 columns idle). A strip is kTileW columns of a virtual row, cut into units of kRB rows.
// Ranges of consecutive units go to blocks; the part of a range inside one strip is a segment
// (its own 2r-row prologue, its own flush of the sums). The host picks one of:
//   - balanced (planar inputs, where the wave model says it pays): the grid is the resident
//     blocks and the R ranges hold U / R units each, give or take one, so there is no partly
//     empty last wave and prologues are rare;
//   - aligned (v10's tiles): range r = ((b * tilesY + ty) * tilesX + tx) * C + c is a tile of
//     `batchesPerTile` units, channels fastest, so that the C planes of one strip of an
//     interleaved image, which share cache lines, are read by neighbouring blocks at the same
//     time (and neighbouring strips at the same rows); blocks loop r += gridDim.x.
//
// Per-image mean without memsets: each thread sums its map pixels per segment (float per
// batch, double across the segment: a balanced segment can be hundreds of batches long;
// packed, one sum per item, each item lying in one plane), the block reduces per plane of the
// strip (packed: at most kSlots planes), adds each sum to its image's double accumulator
// (atomicAdd), fences, and adds the number of map pixels it covered to the image's counter.
// The block that brings the counter to C * (map pixels) writes out[b] and resets accumulator
// and counter to zero for the next launch.
//
// Overlapping launches (sm_90+, ssim_cuda.cu launchSsim). In a short launch (signalNext) every
// block signals at its start that the next kernel of the stream may launch early; the host
// asks for that only for value-only forwards whose x and y the previous launch did not write
// (the forward with partial maps and the backward are launched the ordinary way: they start
// after the kernel ahead of them has finished). Such a forward's blocks take the SMs that the
// last blocks of the previous kernel leave idle, do all their work, and wait for that kernel to
// finish (griddepcontrol.wait: completed, its writes visible) only before the atomics on the
// per-image state and out[b], which it reads and writes. Every forward has a thread that waits
// before it exits, so a chain of them finishes in order. MS-SSIM's coarse scales in one launch
// (launchSsimParts) read what the kernel ahead of them wrote (the pooling pyramid): that forward
// launches early too, but waits first (ssim_parts_kernels.cuh), so only its launch and its
// blocks' placement overlap the kernel ahead. MS-SSIM's pooling scale-0 forward writes scale 1
// before it waits: it starts early only behind MS-SSIM's combination, which lets it in once it
// has waited itself, or behind the coarse scales' launch that folds the combination, whose blocks
// let it in once their work is done (launch_order.h, ssim_parts_kernels.cuh).
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/fast_divide.h"
#include "common/msssim_pyramid.h"
#include "common/ssim_math.h"
#include "common/ssim_types.h"
#include "launch_overlap.cuh"

namespace cudassim {
namespace kernels {

constexpr int kThreads = 128;                  // 4 warps
constexpr int kWarps = kThreads / 32;
constexpr int kHalo = kMaxRadius;              // 5
constexpr int kWin = 2 * kHalo + 1;            // 11 rows in the shift register
constexpr int kTileW = 116;                    // output columns per strip (a multiple of 4)
constexpr int kInCols = kTileW + 2 * kHalo;    // 126 input columns (threads 126, 127 idle)
constexpr int kRB = 12;                        // rows per batch (vertical pass -> shared -> horizontal)
constexpr int kSegW = 4;                       // outputs per horizontal work item
constexpr int kSegs = kTileW / kSegW;          // 29 items per row
constexpr int kSegLoad = 16;                   // values read per item (>= 4 + 2 * kHalo)
constexpr int kPitch = 4 * (kSegs + 8);        // floats per shared row (148: see above)
constexpr int kBuf = kRB * kPitch;             // floats per moment buffer
constexpr int kItems = kRB * kSegs;            // 348 horizontal items per batch
constexpr int kMoments = 4;                    // forward: E[x], E[y], E[x^2 + y^2], E[xy]
constexpr int kMaxRowsPerBlock = 8 * kRB;  // the host picks 1 to 4, or 8, batches

// Resident blocks per SM the register allocation is sized for (4 x 128 threads: <= 128 registers).
constexpr int kForwardMinBlocks = 4;
constexpr int kBackwardMinBlocks = 4;

static_assert(kSegLoad >= kSegW + 2 * kHalo, "a horizontal item must see its whole window");
static_assert((kSegs - 1) * kSegW + kSegLoad <= kPitch, "items read inside the row");
static_assert(kInCols <= kThreads, "one input column per thread");
static_assert(kTileW % kSegW == 0, "strips start 16-byte aligned (float4 stores of the maps)");
static_assert(kPitch % 4 == 0 && (kPitch / 4 - kSegs) % 8 == 0, "conflict-free 128-bit loads");

// Per-image reduction state (16 bytes), at the start of the workspace.
struct ReduceState {
  double acc;
  unsigned long long count;  // map pixels summed so far
};
static_assert(sizeof(ReduceState) == 16, "the workspace layout assumes 16 bytes per image");

struct Taps {
  float w[kMaxRadius + 1];  // w[k] = weight at distance k, zero beyond the radius
};

// How the work of a launch is cut (see "Work" above). Filled by the host.
struct WorkLayout {
  unsigned ranges;            // balanced: the grid; aligned: planes * tilesX * tilesY (< 2^31)
  unsigned unitsPerRange;     // balanced: units / ranges; the first `longRanges` get one more
  unsigned longRanges;
  int balanced;               // 1: equal ranges of units; 0: aligned tiles
  int planes, channels;       // B * C, C
  int nPack;                  // planes side by side in one virtual row (1: not packed)
  int pitch;                  // packed: virtual columns per plane (multiple of 4, >= regW + 2 kHalo)
  int tilesX;                 // strips per virtual row
  int unitsPerStrip;          // batches of kRB rows down a strip
  int tilesY, batchesPerTile; // aligned mode
  int regY0, regY1, regX0, regW;  // the rows and columns of each plane that are computed
  // The divisors above as multiply-and-shift (numerators stay below 2^31: the host checks).
  FastDivide byChannels, byTilesX, byTilesY, byUnitsPerStrip, byPitch;
};

struct ForwardArgs {
  const void* x;
  const void* y;
  float* out;               // batch values, or null: no reduction at all
  float* alpha;             // partial maps (planar, B*C*H*W each), or null: value only
  float* beta;
  float* gamma;
  ReduceState* state;       // one per image
  long long pixStride, rowStride, chanStride, imageElems, planeElems;
  int height, width;
  int mapY0, mapY1, mapX0, mapX1;  // pixels that count (MapRegion)
  int vecMaps;                     // 1: alpha/beta/gamma rows may be stored as float4
  int signalNext;                  // 1: let the next kernel of the stream launch early (short launches)
  WorkLayout work;
  unsigned long long pixelsPerImage;  // channels * map pixels: the counter's final value
  Taps taps;
  float c1, c2q, inputScale;    // c2q = termScale<M>() * C2 (ssim_math.h)
  float shiftWeight;            // ssim_math.h, shiftWeight: 1, or 0 for images smaller than the window
  long long samples[kReferenceSamples];  // element offsets of a plane's sample pixels (planeReference)
  double valueOffset, valueScale, denom;  // out[b] = offset + scale * (sum / denom)
  // kPool (MS-SSIM's scale 1, see "Pooling" above): planar float32 2 x 2 averages of x and y,
  // pooledSide(height) x pooledSide(width) per plane, windows starting one row / column early on
  // an odd side.
  float* poolX;
  float* poolY;
};

struct BackwardArgs {
  const void* x;
  const void* y;
  float* grad;
  const float* alpha;
  const float* beta;
  const float* gamma;
  long long pixStride, rowStride, chanStride, imageElems, planeElems;
  int height, width;
  int vecGrad;                     // 1: grad rows may be stored as float4 (planar, aligned)
  int vecInputs;                   // 1: x and y rows may be loaded as float4 (float, planar, aligned)
  int signalNext;                  // 1: let the next kernel of the stream launch early (short launches)
  WorkLayout work;
  Taps taps;
  float inputScale;
  float shiftWeight;  // the forward's
  long long samples[kReferenceSamples];  // the forward's
  float gradScale;  // valueScale / (channels * mapCount)
  // MS-SSIM's scale 0 (factors not null; planar): grad = mult (factors[plane] g + 1/4 up[parent]),
  // up (pooledSide(height) x pooledSide(width) per plane, or null) scale 1's accumulated
  // gradient (loadFold)
  const float* factors;
  const float* up;
  float mult;
};

// One stored input element through the read-only cache (the half types: their 16 bits).
template <typename T>
__device__ __forceinline__ T loadInput(const T* p) {
  return __ldg(p);
}
__device__ __forceinline__ Float16 loadInput(const Float16* p) {
  return Float16{__ldg(reinterpret_cast<const unsigned short*>(p))};
}
__device__ __forceinline__ BFloat16 loadInput(const BFloat16* p) {
  return BFloat16{__ldg(reinterpret_cast<const unsigned short*>(p))};
}

// A stored value (as float) as an intensity minus the plane's shift (ssim_math.h, Shift): one
// fma, the same wherever the value comes from (registers, staging, a prologue row).
__device__ __forceinline__ float shiftStored(float v, float scale, float shift) { return __fmaf_rn(v, scale, -shift); }
template <typename T>
__device__ __forceinline__ float loadShifted(const T* __restrict__ p, long long off, float scale, float shift) {
  return shiftStored(static_cast<float>(loadInput(p + off)), scale, shift);
}
__device__ __forceinline__ float loadShifted(const double* __restrict__ p, long long off, float scale, float shift) {
  return __fsub_rn(toIntensity(__ldg(p + off), scale), shift);
}

// Folded symmetric filter of v around index c (compile-time after unrolling):
// w0 v[c] + sum_{k=1..R} wk (v[c-k] + v[c+k]), summed from the outermost (smallest) taps in.
template <int N>
__device__ __forceinline__ float foldAt(const float (&v)[N], const int c, const Taps& t) {
  float acc = __fmul_rn(t.w[kMaxRadius], __fadd_rn(v[c - kMaxRadius], v[c + kMaxRadius]));
#pragma unroll
  for (int k = kMaxRadius - 1; k >= 1; --k) acc = __fmaf_rn(t.w[k], __fadd_rn(v[c - k], v[c + k]), acc);
  return __fmaf_rn(t.w[0], v[c], acc);
}

__device__ __forceinline__ void loadSegment(const float* src, float (&v)[kSegLoad]) {
  const float4* s4 = reinterpret_cast<const float4*>(src);
#pragma unroll
  for (int q = 0; q < kSegLoad / 4; ++q) {
    const float4 f = s4[q];
    v[4 * q + 0] = f.x;
    v[4 * q + 1] = f.y;
    v[4 * q + 2] = f.z;
    v[4 * q + 3] = f.w;
  }
}

// Horizontal filter of one item: 4 outputs from the 16 staged values at src.
__device__ __forceinline__ void filterItem(const float* src, const Taps& t, float (&o)[kSegW]) {
  float v[kSegLoad];
  loadSegment(src, v);
#pragma unroll
  for (int j = 0; j < kSegW; ++j) o[j] = foldAt(v, kHalo + j, t);
}

// x^2 + y^2 of one input pixel, each step rounded on its own: with x == y it is exactly
// 2 xy, so the filtered E[x^2 + y^2] is exactly 2 E[xy] and ssim(x, x) stays 1.
__device__ __forceinline__ float sumOfSquares(float x, float y) {
  return __fadd_rn(__fmul_rn(x, x), __fmul_rn(y, y));
}

template <int N>
__device__ __forceinline__ void shiftIn(float (&r)[N], float v) {
#pragma unroll
  for (int k = 0; k < N - 1; ++k) r[k] = r[k + 1];
  r[N - 1] = v;
}

// Asynchronous 4-byte global -> shared copies (sm_80+): the next batch's inputs land in shared
// memory while the current batch's horizontal pass runs, without holding registers.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define SSIM_ASYNC_COPY 1
#else
#define SSIM_ASYNC_COPY 0
#endif

__device__ __forceinline__ void cpAsync4(float* dst, const float* src, bool valid) {
#if SSIM_ASYNC_COPY
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 4 : 0)
               : "memory");
#else
  *dst = valid ? *src : 0.0f;
#endif
}
__device__ __forceinline__ void cpAsyncCommit() {
#if SSIM_ASYNC_COPY
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void cpAsyncWaitAll() {
#if SSIM_ASYNC_COPY
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#endif
}

constexpr int kSlots = 4;  // planes one packed strip can touch (host: pitch >= 40)

// Where range r starts (virtual row, strip within it, unit within the strip) and how many
// units it holds. 32-bit unsigned arithmetic with divisions by multiply and shift
// (fast_divide.h); nothing but additions for a further segment.
// Rows rb0 + kHalo .. rb0 + kHalo + kRB - 1 of this thread's column of N float arrays (element
// colOff of row 0, rows `rowStride` apart), copied asynchronously into the thread's column of
// stage (array k at stage rows k * kRB ..), zeros outside the image (above it too: the fused
// kernel's first batch of a segment starts above the segment); only this thread reads them back.
// A batch wholly inside the image walks one pointer per array down the rows: no per-row bounds
// or 64-bit index arithmetic (v10).
template <int N>
__device__ __forceinline__ void stageBatchRows(float* stage, const float* const (&src)[N], long long colOff,
                                               long long rowStride, int rb0, int height, bool colOk) {
  const int tid = threadIdx.x;
  if (rb0 + kHalo >= 0 && rb0 + kHalo + kRB <= height) {  // uniform
    const long long off = colOff + (long long)(rb0 + kHalo) * rowStride;
    const float* p[N];
#pragma unroll
    for (int k = 0; k < N; ++k) p[k] = src[k] + off;  // element 0 if !colOk: valid
#pragma unroll
    for (int j = 0; j < kRB; ++j) {
#pragma unroll
      for (int k = 0; k < N; ++k) {
        cpAsync4(stage + (k * kRB + j) * kThreads + tid, p[k], colOk);
        p[k] += rowStride;
      }
    }
    cpAsyncCommit();
    return;
  }
#pragma unroll
  for (int j = 0; j < kRB; ++j) {
    const int gy = rb0 + kHalo + j;
    const bool ok = colOk && unsigned(gy) < unsigned(height);
    const long long off = ok ? colOff + (long long)gy * rowStride : 0;
#pragma unroll
    for (int k = 0; k < N; ++k) cpAsync4(stage + (k * kRB + j) * kThreads + tid, src[k] + off, ok);
  }
  cpAsyncCommit();
}

// Which ranges a block takes: r = first(), first() + step(), ... The whole grid's (WholeGrid),
// or a part's of a launch that runs several problems (ssim_parts_kernels.cuh).
struct WholeGrid {
  __device__ unsigned first() const { return blockIdx.x; }
  __device__ unsigned step() const { return gridDim.x; }
};
struct PartGrid {
  unsigned block, blocks;  // the block's index within its part, the part's blocks
  __device__ unsigned first() const { return block; }
  __device__ unsigned step() const { return blocks; }
};

struct RangeCursor {
  unsigned vrow, tx, unit, left;
  unsigned b, ch;  // image and channel of the virtual row's first plane (vrow * nPack)
};

__device__ __forceinline__ RangeCursor rangeStart(const WorkLayout& w, unsigned r) {
  RangeCursor c;
  const unsigned perStrip = unsigned(w.unitsPerStrip);
  if (w.balanced) {
    const unsigned first = r * w.unitsPerRange + min(r, w.longRanges);
    c.left = w.unitsPerRange + (r < w.longRanges ? 1u : 0u);
    const unsigned strip = w.byUnitsPerStrip.div(first);
    c.unit = first - strip * perStrip;
    c.vrow = w.byTilesX.div(strip);
    c.tx = strip - c.vrow * unsigned(w.tilesX);
    c.b = w.byChannels.div(c.vrow * unsigned(w.nPack));
    c.ch = c.vrow * unsigned(w.nPack) - c.b * unsigned(w.channels);
    return c;
  }
  // r = ((b * tilesY + ty) * tilesX + tx) * C + ch
  const unsigned C = unsigned(w.channels);
  const unsigned t1 = w.byChannels.div(r);
  const unsigned ch = r - t1 * C;
  const unsigned t2 = w.byTilesX.div(t1);
  c.tx = t1 - t2 * unsigned(w.tilesX);
  const unsigned b = w.byTilesY.div(t2);
  const unsigned ty = t2 - b * unsigned(w.tilesY);
  c.vrow = b * C + ch;
  c.b = b;
  c.ch = ch;
  c.unit = ty * unsigned(w.batchesPerTile);
  c.left = min(unsigned(w.batchesPerTile), perStrip - c.unit);
  return c;
}

// The part of a range that lies in one strip: rows [gy0, gyEnd) of the strip starting at
// virtual column gx0 of the virtual row whose first plane is plane0.
struct Segment {
  int plane0, gx0, gy0, gyEnd;
  int nBatches;      // batches of kRB rows covering [gy0, gyEnd)
  unsigned b0, ch0;  // image and channel of plane0
};

// The segment at the cursor; the cursor moves to the start of the next strip (strips of
// kStripW output columns).
template <int kStripW = kTileW>
__device__ __forceinline__ Segment nextSegment(const WorkLayout& w, RangeCursor& c) {
  const unsigned n = min(c.left, unsigned(w.unitsPerStrip) - c.unit);
  Segment s;
  s.plane0 = int(c.vrow) * w.nPack;
  s.gx0 = int(c.tx) * kStripW;
  s.gy0 = w.regY0 + int(c.unit) * kRB;
  s.gyEnd = min(w.regY0 + int(c.unit + n) * kRB, w.regY1);
  s.nBatches = (s.gyEnd - s.gy0 + kRB - 1) / kRB;
  s.b0 = c.b;
  s.ch0 = c.ch;
  c.left -= n;
  c.unit = 0;
  if (++c.tx == unsigned(w.tilesX)) {  // next virtual row (only one when packed)
    c.tx = 0;
    ++c.vrow;
    if (++c.ch == unsigned(w.channels)) {
      c.ch = 0;
      ++c.b;
    }
  }
  return s;
}

// Virtual column v (>= -kHalo) of a virtual row -> the plane it belongs to (index p within the
// row) and its column relative to the region (may lie in a halo: < 0 or >= regW).
__device__ __forceinline__ int planeOfColumn(const WorkLayout& w, int v, int& local) {
  if (w.nPack == 1) {
    local = v;
    return 0;
  }
  const int p = int(w.byPitch.div(unsigned(v + kHalo)));
  local = v - p * w.pitch;
  return p;
}

// This thread's input column in a segment: its plane (index p within the virtual row), its
// image column gx (regX0 + the column within the region) and whether it lies in a plane and
// inside the image (else the thread loads zeros).
struct InputColumn {
  int p, plane, gx;
  bool ok;
};

__device__ __forceinline__ InputColumn inputColumn(const WorkLayout& w, const Segment& sg, int width) {
  const int tid = threadIdx.x;
  int local;
  InputColumn c;
  c.p = planeOfColumn(w, sg.gx0 - kHalo + tid, local);
  c.plane = sg.plane0 + c.p;
  c.gx = w.regX0 + local;
  c.ok = tid < kInCols && c.p < w.nPack && c.plane < w.planes && unsigned(c.gx) < unsigned(width);
  return c;
}

// One horizontal item column group (4 output columns at virtual column gx0 + 4 * seg) of the
// current segment, shared by the threads whose items fall on it:
//   off: forward: index of its first column in the planar maps; backward: element offset of
//        its first pixel in x, y and grad (row 0);
//   mask: bits 0-3: columns inside the plane's region (computed, stored); bits 4-7: columns
//        that count in the mean (inside the map);  slot: plane within the strip (forward sums).
struct ItemColumns {
  long long off;
  int mask, slot;
};
static_assert(sizeof(ItemColumns) == 16, "one 128-bit shared load per item");

// A thread's items (it = tid + k * kThreads, the same in every batch) packed into one int,
// kItemBits per item: mask (bits 0-7) and slot (bits 8-9) of its ItemColumns.
constexpr int kItemBits = 10;
static_assert(kItemBits * ((kItems + kThreads - 1) / kThreads) <= 31, "a thread's items fit in an int");
__device__ __forceinline__ int loadItemBits(const ItemColumns* cols, int tid) {
  int bits = 0;
#pragma unroll
  for (int k = 0; k * kThreads < kItems; ++k) {
    const int it = tid + k * kThreads;
    if (it < kItems) {
      const ItemColumns& ic = cols[it % kSegs];
      bits |= ((ic.mask & 0xFF) | (ic.slot << 8)) << (kItemBits * k);
    }
  }
  return bits;
}

// Bits j (0 <= j < kSegW) with lo <= j < hi.
__device__ __forceinline__ int columnBits(int lo, int hi) {
  const int l = min(max(lo, 0), kSegW);
  const int h = min(max(hi, 0), kSegW);
  return ((1 << h) - 1) & ~((1 << l) - 1);
}

// Element offset of plane p's first pixel in x, y (and grad).
template <typename Args>
__device__ __forceinline__ long long planeOffset(const Args& a, unsigned p) {
  const unsigned b = a.work.byChannels.div(p);
  return (long long)b * a.imageElems + (long long)(p - b * unsigned(a.work.channels)) * a.chanStride;
}

// planeOffset() of a segment's first plane, from the image and channel its cursor carried.
template <typename Args>
__device__ __forceinline__ long long firstPlaneOffset(const Args& a, const Segment& sg) {
  return (long long)sg.b0 * a.imageElems + (long long)sg.ch0 * a.chanStride;
}

// A stored value as planeReference compares it (SampleValue: a double stays a double).
template <typename T>
__device__ __forceinline__ float sampleValue(const T* p) {
  return static_cast<float>(loadInput(p));
}
__device__ __forceinline__ double sampleValue(const double* p) { return __ldg(p); }

// The shift of plane p (element offset planeOff): planeReference of its sample pixels, whose
// offsets in the plane the host computed (Args::samples).
template <typename T, typename Args>
__device__ __forceinline__ Shift planeShift(const Args& a, const T* xp, const T* yp, long long planeOff) {
  if (a.shiftWeight == 0.0f) return Shift{0.0f, 0.0f};
  using V = SampleValue<T>;
  V x[kReferenceSamples], y[kReferenceSamples];
#pragma unroll
  for (int k = 0; k < kReferenceSamples; ++k) {
    x[k] = sampleValue(xp + planeOff + a.samples[k]);
    y[k] = sampleValue(yp + planeOff + a.samples[k]);
  }
  return planeReference(x, y, a.shiftWeight, a.inputScale);
}

// The forward's vertical shift register primed with input rows firstRow .. firstRow + 2 kHalo - 1
// of this thread's column (positions 1 .. 2 kHalo; position 0 is shifted out by the first row
// the passes add): shifted(i) is row firstRow + i's shifted x and y inside the image; outside, the
// zero padding, which shifted is -shift.
template <typename Shifted>
__device__ __forceinline__ void primeRows(const ForwardArgs& a, bool colOk, int firstRow, Shift sh, Shifted shifted,
                                          float (&rx)[kWin], float (&ry)[kWin], float (&rss)[kWin], float (&rxy)[kWin]) {
  rx[0] = ry[0] = rss[0] = rxy[0] = 0.0f;
#pragma unroll
  for (int k = 1; k < kWin; ++k) {
    float vx = -sh.x, vy = -sh.y;
    if (colOk && unsigned(firstRow + k - 1) < unsigned(a.height)) shifted(k - 1, vx, vy);
    rx[k] = vx;
    ry[k] = vy;
    rss[k] = sumOfSquares(vx, vy);
    rxy[k] = __fmul_rn(vx, vy);
  }
}

// primeRows from the inputs, loaded after the shift is known.
template <typename T>
__device__ __forceinline__ void primeMoments(const ForwardArgs& a, const T* __restrict__ xp, const T* __restrict__ yp,
                                             long long colOff, bool colOk, int firstRow, Shift sh, float (&rx)[kWin],
                                             float (&ry)[kWin], float (&rss)[kWin], float (&rxy)[kWin]) {
  const auto shifted = [&](int i, float& vx, float& vy) {
    const long long off = colOff + (long long)(firstRow + i) * a.rowStride;
    vx = loadShifted(xp, off, a.inputScale, sh.x);
    vy = loadShifted(yp, off, a.inputScale, sh.y);
  };
  primeRows(a, colOk, firstRow, sh, shifted, rx, ry, rss, rxy);
}

// primeMoments in two steps for float32 inputs, so that the loads can be issued before the
// shift is known: the stored values of the rows (loadPrimeRows: 0 outside the image), then
// primeRows from them (primeFromRows: shiftStored, as loadShifted).
__device__ __forceinline__ void loadPrimeRows(const ForwardArgs& a, const float* __restrict__ xp,
                                              const float* __restrict__ yp, long long colOff, bool colOk, int firstRow,
                                              float (&px)[kWin - 1], float (&py)[kWin - 1]) {
#pragma unroll
  for (int k = 0; k < kWin - 1; ++k) {
    const int gy = firstRow + k;
    const bool in = colOk && unsigned(gy) < unsigned(a.height);
    const long long off = in ? colOff + (long long)gy * a.rowStride : 0;
    px[k] = in ? loadInput(xp + off) : 0.0f;
    py[k] = in ? loadInput(yp + off) : 0.0f;
  }
}
__device__ __forceinline__ void primeFromRows(const ForwardArgs& a, bool colOk, int firstRow, const float (&px)[kWin - 1],
                                              const float (&py)[kWin - 1], Shift sh, float (&rx)[kWin],
                                              float (&ry)[kWin], float (&rss)[kWin], float (&rxy)[kWin]) {
  const auto shifted = [&](int i, float& vx, float& vy) {
    vx = shiftStored(px[i], a.inputScale, sh.x);
    vy = shiftStored(py[i], a.inputScale, sh.y);
  };
  primeRows(a, colOk, firstRow, sh, shifted, rx, ry, rss, rxy);
}

// Shifts of the planes a segment's strip touches (slot j: the plane of virtual column
// firstColumn, + j), into shared memory by threads 0 .. kSlots - 1; read per item after the
// segment's first barrier. (The backward's, from its first output column: its columns read the
// partial maps, which need no shift; the fused kernel's, from its first map column, for its input
// columns and items; the forward's columns each take their own plane's and hand them over.)
template <typename T, typename Args>
__device__ __forceinline__ void slotShifts(const Args& a, const T* xp, const T* yp, const Segment& sg, int firstColumn,
                                           Shift* sref) {
  const int tid = threadIdx.x;
  if (tid < kSlots) {
    const WorkLayout& w = a.work;
    int l0;
    const int p0 = planeOfColumn(w, firstColumn, l0);
    Shift sh{0.0f, 0.0f};
    if (p0 + tid < w.nPack && sg.plane0 + p0 + tid < w.planes) {
      const long long off = p0 + tid == 0 ? firstPlaneOffset(a, sg) : planeOffset(a, unsigned(sg.plane0 + p0 + tid));
      sh = planeShift(a, xp, yp, off);
    }
    sref[tid] = sh;
  }
}

// The columns of item column group `seg` of a segment, computed once per segment into a
// shared table (scols) by threads 0..28; each thread then keeps its own items' mask and slot
// in a register (loadItemBits), and only packed strips read `off` back per item (computed
// inline in the item loop, these cost more than the table: v11f in
// `git show 61916af:bench/NOTES.md`).
// planeBase: element offset of the segment's first plane in x and y (backward only).
__device__ __forceinline__ ItemColumns forwardColumns(const ForwardArgs& a, const Segment& sg, int seg) {
  const WorkLayout& w = a.work;
  int lc, l0;
  const int pc = planeOfColumn(w, sg.gx0 + seg * kSegW, lc);
  ItemColumns ic;
  ic.off = 0;
  ic.mask = 0;
  ic.slot = pc - planeOfColumn(w, sg.gx0, l0);
  if (pc < w.nPack && sg.plane0 + pc < w.planes) {
    const int gx = w.regX0 + lc;
    ic.off = (long long)(sg.plane0 + pc) * a.planeElems + gx;
    const int store = columnBits(-lc, w.regW - lc);
    ic.mask = store | ((store & columnBits(a.mapX0 - gx, a.mapX1 - gx)) << 4);
  }
  return ic;
}

__device__ __forceinline__ ItemColumns backwardColumns(const BackwardArgs& a, const Segment& sg, int seg,
                                                       long long planeBase) {
  const WorkLayout& w = a.work;
  int lc, l0;
  const int pc = planeOfColumn(w, sg.gx0 + seg * kSegW, lc);
  ItemColumns ic;
  ic.off = 0;
  ic.mask = 0;
  ic.slot = pc - planeOfColumn(w, sg.gx0, l0);  // the item's shift (sref)
  if (pc < w.nPack && sg.plane0 + pc < w.planes) {
    const long long base = pc == 0 ? planeBase : planeOffset(a, unsigned(sg.plane0 + pc));
    ic.off = base + (long long)lc * a.pixStride;
    ic.mask = columnBits(-lc, a.width - lc);
  }
  return ic;
}

constexpr int kPoolRows = kRB / 2;       // pooled rows a batch closes (kRB even, batches start on even rows)
constexpr int kPoolCols = kTileW / 2;    // pooled columns a strip owns (kTileW even, strips start on even columns)
static_assert(kRB % 2 == 0 && kTileW % 2 == 0, "pooling windows never straddle two owners");

// The pooled pixels whose windows close in a batch's rows (kPool, see "Pooling"): pooled row
// rb0 / 2 + m closes at row rb0 + 2m + 1 - height % 2, pooled column gx0 / 2 + q at column
// gx0 + 2q + 1 - width % 2 (thread t2 = that column - gx0 + kHalo; the window's other column is
// thread t2 - 1's). spool: kPoolRows two-row sums of x, then of y, per thread. Threads 0..63 write
// x's pooled column q = tid, threads 64..127 y's, down the batch's pooled rows (v2: a thread per
// pooled pixel, index arithmetic for each, cost the 4K forward 14%).
__device__ __forceinline__ void poolBatch(const ForwardArgs& a, const Segment& sg, int rb0, const float* spool, Shift sh) {
  static_assert(kPoolCols <= kThreads / 2, "a thread per pooled column of x and of y");
  const int half = threadIdx.x / (kThreads / 2), q = threadIdx.x % (kThreads / 2);
  const int c2 = sg.gx0 + 2 * q + 1 - (a.width & 1);
  if (q >= kPoolCols || c2 >= a.width) return;
  const int rows = min(kPoolRows, (sg.gyEnd - rb0 + (a.height & 1)) >> 1);  // r2 < gyEnd
  const int poolW = pooledSide(a.width);
  const float* src = spool + half * kPoolRows * kThreads + (c2 - sg.gx0 + kHalo);
  float* dst = (half ? a.poolY : a.poolX) + ((long long)sg.plane0 * pooledSide(a.height) + (rb0 >> 1)) * poolW +
               (sg.gx0 >> 1) + q;
  const float shift = half ? sh.y : sh.x;
#pragma unroll
  for (int m = 0; m < kPoolRows; ++m) {
    if (m < rows) dst[(long long)m * poolW] = __fmaf_rn(__fadd_rn(src[m * kThreads - 1], src[m * kThreads]), 0.25f, shift);
  }
}

__device__ __forceinline__ float warpSum(float s) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// Packed strips' sums per plane slot. addItemSums: this thread's items' map sums over the
// segment (sitem[it], it = tid + k kThreads; the item's slot in bits 8-9 of its kFieldBits-wide
// field of `bits`) added to part[slot]. slotSumsToShared: part[j] summed over each warp into
// sred[warp * kSlots + j], for slots j < slots (uniform).
template <int kItemCount, int kFieldBits>
__device__ __forceinline__ void addItemSums(const double* sitem, int bits, float (&part)[kSlots], int tid) {
  for (int it = tid; it < kItemCount; it += kThreads, bits >>= kFieldBits) {
    const int slot = (bits >> 8) & 3;
    const float v = float(sitem[it]);
#pragma unroll
    for (int j = 0; j < kSlots; ++j) part[j] += slot == j ? v : 0.0f;
  }
}
__device__ __forceinline__ void slotSumsToShared(const float (&part)[kSlots], int slots, float* sred, int tid) {
  const int lane = tid & 31;
  const int warp = tid >> 5;
#pragma unroll
  for (int j = 0; j < kSlots; ++j) {
    if (j < slots) {
      const float t = warpSum(part[j]);
      if (lane == 0) sred[warp * kSlots + j] = t;
    }
  }
}
// Slot j's sum over the block, once slotSumsToShared's writes are visible (a barrier).
__device__ __forceinline__ float blockSlotSum(const float* sred, int j) {
  float s = 0.0f;
#pragma unroll
  for (int v = 0; v < kWarps; ++v) s += sred[v * kSlots + j];
  return s;
}

// The four filtered moments of an item's 4 pixels: src is the item's first staged column in
// the first moment buffer, the buffers `buf` floats apart.
struct ItemMoments {
  float mx[kSegW], my[kSegW], mss[kSegW], mxy[kSegW];
};
__device__ __forceinline__ void filterMoments(const float* src, int buf, const Taps& taps, ItemMoments& m) {
  filterItem(src + 0 * buf, taps, m.mx);
  filterItem(src + 1 * buf, taps, m.my);
  filterItem(src + 2 * buf, taps, m.mss);
  filterItem(src + 3 * buf, taps, m.mxy);
}

// SSIM and the partial maps of an item's 4 pixels, computed for all 4 (no branches): pixel j's
// partials are kept where bit j of inBits is set (inside the map; zero elsewhere, as the backward
// needs), its SSIM summed where bit j of sumBits is. Returns the sum.
template <Reciprocal M>
__device__ __forceinline__ float itemPartials(const ItemMoments& im, Shift sh, float c1, float c2q, int inBits,
                                              int sumBits, float (&al)[kSegW], float (&be)[kSegW], float (&ga)[kSegW]) {
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < kSegW; ++j) {
    const Moments4 m{im.mx[j], im.my[j], im.mss[j], im.mxy[j]};
    const PixelSsim ps = pixelSsimWithPartials<M>(m, sh, c1, c2q);
    const bool in = (inBits >> j) & 1;
    s += (sumBits >> j) & 1 ? ps.s : 0.0f;
    al[j] = in ? ps.alpha : 0.0f;
    be[j] = in ? ps.beta : 0.0f;
    ga[j] = in ? ps.gamma : 0.0f;
  }
  return s;
}

// Adds a block's sum over n map pixels of image b to the image's state; the block that completes
// the image's pixel count writes out[b], leaves the state zeroed for the next launch (no memset)
// and returns true.
__device__ __forceinline__ bool addToImage(const ForwardArgs& a, unsigned b, float blockSum, unsigned long long n) {
  waitForPreviousLaunch();  // the state and out[b] (returns at once after the first time)
  ReduceState* st = a.state + b;
  atomicAdd(&st->acc, double(blockSum));
  __threadfence();
  const unsigned long long before = atomicAdd(&st->count, n);
  if (before + n == a.pixelsPerImage) {
    __threadfence();
    const double total = atomicAdd(&st->acc, 0.0);  // coherent read of the final sum
    a.out[b] = float(a.valueOffset + a.valueScale * (total / a.denom));
    atomicExch(reinterpret_cast<unsigned long long*>(&st->acc), 0ull);
    atomicExch(&st->count, 0ull);
    return true;
  }
  return false;
}

// An item's x and y (4 pixels from element off0, pixStride apart) minus their plane's shift:
// the backward's partial maps were taken with respect to the shifted moments. Pixels outside
// the image (bit j of bits clear) read 0.
template <typename T>
__device__ __forceinline__ void loadItemInputs(const BackwardArgs& a, const T* __restrict__ xp, const T* __restrict__ yp,
                                               long long off0, int bits, Shift sh, float (&xv)[kSegW], float (&yv)[kSegW]) {
  if (std::is_same<T, float>::value && a.vecInputs) {  // planar, width % 4 == 0, aligned
    const float4 x4 = __ldg(reinterpret_cast<const float4*>(reinterpret_cast<const float*>(xp) + off0));
    const float4 y4 = __ldg(reinterpret_cast<const float4*>(reinterpret_cast<const float*>(yp) + off0));
    xv[0] = x4.x, xv[1] = x4.y, xv[2] = x4.z, xv[3] = x4.w;
    yv[0] = y4.x, yv[1] = y4.y, yv[2] = y4.z, yv[3] = y4.w;
#pragma unroll
    for (int j = 0; j < kSegW; ++j) {
      xv[j] = shiftStored(xv[j], a.inputScale, sh.x);
      yv[j] = shiftStored(yv[j], a.inputScale, sh.y);
    }
  } else {
#pragma unroll
    for (int j = 0; j < kSegW; ++j) {
      const bool in = (bits >> j) & 1;
      xv[j] = in ? loadShifted(xp, off0 + j * a.pixStride, a.inputScale, sh.x) : 0.0f;
      yv[j] = in ? loadShifted(yp, off0 + j * a.pixStride, a.inputScale, sh.y) : 0.0f;
    }
  }
}

// The gradient of an item's 4 pixels from the vertically filtered partial maps staged at src
// (alpha, beta, gamma buffers `buf` floats apart) and the item's shifted x and y.
__device__ __forceinline__ void itemGradient(const float* src, int buf, const Taps& taps, const float (&xv)[kSegW],
                                             const float (&yv)[kSegW], float gradScale, float (&g)[kSegW]) {
  float ga[kSegW], gb[kSegW], gg[kSegW];
  filterItem(src + 0 * buf, taps, ga);
  filterItem(src + 1 * buf, taps, gb);
  filterItem(src + 2 * buf, taps, gg);
#pragma unroll
  for (int j = 0; j < kSegW; ++j) g[j] = pixelGradient(ga[j], gb[j], gg[j], xv[j], yv[j], gradScale);
}

__device__ __forceinline__ void storeItemGradient(const BackwardArgs& a, long long off0, int bits, const float (&g)[kSegW]) {
  if (a.vecGrad) {  // planar, width % 4 == 0, aligned
    *reinterpret_cast<float4*>(a.grad + off0) = make_float4(g[0], g[1], g[2], g[3]);
  } else {
#pragma unroll
    for (int j = 0; j < kSegW; ++j)
      if ((bits >> j) & 1) a.grad[off0 + j * a.pixStride] = g[j];
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: SSIM map (+ partial maps), per-image mean.
// M: how 1 / (B1 B2) is taken (ssim_math.h); the host picks Ftz where it is exact.
// kPool: also write MS-SSIM's scale 1 (float only; see "Pooling").
// forwardRanges: the ranges of a's work that block g.first() takes (g.first(), + g.step(), ...):
// the whole grid's (WholeGrid), or one part's of a parts launch (ssim_parts_kernels.cuh).
// imageDone(b): called by the thread that wrote out[b].
struct NoImageHook {
  __device__ void operator()(unsigned) const {}
};
template <typename T, Reciprocal M, bool kPool = false, typename Grid = WholeGrid, typename ImageDone = NoImageHook>
__device__ __forceinline__ void forwardRanges(const ForwardArgs& a, const Grid g = Grid{},
                                              const ImageDone imageDone = ImageDone{}) {
  __shared__ __align__(16) float sm[kMoments * kBuf];  // vertical E[x], E[y], E[x^2 + y^2], E[xy]
  constexpr bool kStaged = std::is_same<T, float>::value;
  static_assert(!kPool || kStaged, "pooling reads float32 planar inputs");
  __shared__ __align__(16) float sstage[kStaged ? 2 * kRB * kThreads : 1];  // next batch's x, y
  __shared__ __align__(16) float spool[kPool ? 2 * kPoolRows * kThreads : 1];  // two-row sums of x, y
  __shared__ __align__(16) ItemColumns scols[kSegs];
  // packed: map sum of each item over the segment (owner only); never packed when pooling (and
  // within the 48 KB of static shared memory that way)
  __shared__ double sitem[kPool ? 1 : kItems];
  __shared__ float sred[kWarps * kSlots];
  __shared__ Shift sref[kSlots];  // the shifts of the strip's planes (slot order)

  const T* __restrict__ xp = static_cast<const T*>(a.x);
  const T* __restrict__ yp = static_cast<const T*>(a.y);
  const WorkLayout& w = a.work;
  const int tid = threadIdx.x;
  const bool wantGrad = a.alpha != nullptr;
  const bool wantValue = a.out != nullptr;
  const Taps taps = a.taps;
  if (a.signalNext) allowNextLaunch();

  for (unsigned r = g.first(); r < w.ranges; r += g.step()) {
    RangeCursor cur = rangeStart(w, r);
    while (cur.left > 0) {
      const Segment sg = nextSegment(w, cur);
      const int nBatches = sg.nBatches;

      const InputColumn col = inputColumn(w, sg, a.width);
      const bool colOk = col.ok;
      long long colOff = 0;
      const bool inPlane = tid < kInCols && col.p < w.nPack && col.plane < w.planes;
      long long po = 0;
      if (inPlane) {
        po = col.p == 0 ? firstPlaneOffset(a, sg) : planeOffset(a, unsigned(col.plane));
        if (colOk) colOff = po + (long long)col.gx * a.pixStride;
      }
      // float: the segment's first batch (staged) and its prologue rows are loaded before the
      // shift's samples are waited for: one round trip to memory at a segment's start, not two.
      float px0[kWin - 1], py0[kWin - 1];
      if constexpr (kStaged) {
        const float* const xy[2] = {reinterpret_cast<const float*>(xp), reinterpret_cast<const float*>(yp)};
        stageBatchRows(sstage, xy, colOff, a.rowStride, sg.gy0, a.height, colOk);
        loadPrimeRows(a, reinterpret_cast<const float*>(xp), reinterpret_cast<const float*>(yp), colOff, colOk,
                      sg.gy0 - kHalo, px0, py0);
      }
      // This column's shift: its plane's (padding too: zero padding becomes -shift).
      Shift csh{0.0f, 0.0f};
      if (inPlane) csh = planeShift(a, xp, yp, po);

      // The segment's item columns, once per segment (packed, they divide by the pitch); each
      // thread keeps the bits of its own items in a register (read after the first barrier).
      const bool packed = !kPool && w.nPack > 1;
      if (tid < kSegs) scols[tid] = forwardColumns(a, sg, tid);
      int itemBits = 0;
      const long long mapBase = (long long)sg.plane0 * a.planeElems + w.regX0 + sg.gx0;  // not packed

      // Inputs of a batch: rows rb0 + kHalo .. rb0 + kHalo + kRB - 1 of this column (zero
      // outside). float: staged asynchronously (stageBatchRows); other types: registers.
      float lx[kRB], ly[kRB];
      auto loadBatch = [&](int rb0) {
        if constexpr (kStaged) {
          const float* const xy[2] = {reinterpret_cast<const float*>(xp), reinterpret_cast<const float*>(yp)};
          stageBatchRows(sstage, xy, colOff, a.rowStride, rb0, a.height, colOk);
        } else {
#pragma unroll
          for (int j = 0; j < kRB; ++j) {
            const int gy = rb0 + kHalo + j;
            float vx = -csh.x, vy = -csh.y;
            if (colOk && gy < a.height) {
              const long long off = colOff + (long long)gy * a.rowStride;
              vx = loadShifted(xp, off, a.inputScale, csh.x);
              vy = loadShifted(yp, off, a.inputScale, csh.y);
            }
            lx[j] = vx;
            ly[j] = vy;
          }
        }
      };
      if constexpr (!kStaged) loadBatch(sg.gy0);  // first, so that the batch flies while the halo rows load
      // The strip's planes' shifts for the items (slot: plane - the first output column's plane),
      // each from the thread on the plane's first output column: the same planeShift, no loads
      // of its own. Read after the segment's first barrier.
      if (tid >= kHalo && tid < kHalo + kTileW && col.p < w.nPack && col.plane < w.planes &&
          (tid == kHalo || col.gx - w.regX0 == -kHalo)) {
        int l0;
        const int slot = col.p - planeOfColumn(w, sg.gx0, l0);
        if (slot < kSlots) sref[slot] = csh;
      }

      float rx[kWin], ry[kWin], rss[kWin], rxy[kWin];
      if constexpr (kStaged) {
        primeFromRows(a, colOk, sg.gy0 - kHalo, px0, py0, csh, rx, ry, rss, rxy);
      } else {
        primeMoments(a, xp, yp, colOff, colOk, sg.gy0 - kHalo, csh, rx, ry, rss, rxy);
      }

      // Map sums. Not packed: one plane, one sum per thread (float per batch, double across
      // the segment, which can be hundreds of batches long). Packed: one sum per item (it =
      // tid + k * kThreads: the same columns in every batch of the segment, so in one plane).
      double segSum = 0.0;
      if (packed)
        for (int it = tid; it < kItems; it += kThreads) sitem[it] = 0.0;

      for (int batch = 0; batch < nBatches; ++batch) {
        const int rb0 = sg.gy0 + batch * kRB;
        if constexpr (kStaged) {
          cpAsyncWaitAll();
#pragma unroll
          for (int j = 0; j < kRB; ++j) {
            // (Unconditional: skipping the multiplies for a scale of 1 took two copies of
            // lx, ly and 24 moves to merge them, more than the 24 multiplies.)
            lx[j] = shiftStored(sstage[j * kThreads + tid], a.inputScale, csh.x);  // zero padding: -shift
            ly[j] = shiftStored(sstage[(kRB + j) * kThreads + tid], a.inputScale, csh.y);
          }
        }
        // 1. Vertical pass: rows rb0 .. rb0 + kRB - 1 of this column.
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          shiftIn(rx, lx[j]);
          shiftIn(ry, ly[j]);
          shiftIn(rss, sumOfSquares(lx[j], ly[j]));
          shiftIn(rxy, __fmul_rn(lx[j], ly[j]));
          float* dst = sm + j * kPitch + tid;
          dst[0 * kBuf] = foldAt(rx, kHalo, taps);
          dst[1 * kBuf] = foldAt(ry, kHalo, taps);
          dst[2 * kBuf] = foldAt(rss, kHalo, taps);
          dst[3 * kBuf] = foldAt(rxy, kHalo, taps);
          if constexpr (kPool) {
            if ((j + a.height) & 1) {  // row rb0 + j closes a pooling window (rb0 is even)
              spool[(j >> 1) * kThreads + tid] = __fadd_rn(rx[kHalo - 1], rx[kHalo]);
              spool[(kPoolRows + (j >> 1)) * kThreads + tid] = __fadd_rn(ry[kHalo - 1], ry[kHalo]);
            }
          }
        }
        if constexpr (!kStaged) {
          // The next batch's loads fly while this batch's horizontal pass runs.
          if (batch + 1 < nBatches) loadBatch(rb0 + kRB);
        }
        __syncthreads();
        if constexpr (kStaged) {
          // After the barrier: this thread's reads of sstage are complete.
          if (batch + 1 < nBatches) loadBatch(rb0 + kRB);
        }

        // 2. Horizontal pass + per-pixel SSIM: items of 4 output columns. (Not unrolled: three
        // copies of the item body pushed the hot loop out of the instruction cache.)
        if (batch == 0) itemBits = loadItemBits(scols, tid);  // after the barrier: scols written
        if constexpr (kPool) poolBatch(a, sg, rb0, spool, sref[0]);  // (spool is rewritten after the next barrier)
        float batchSum = 0.0f;
        int bits = itemBits;
        for (int it = tid; it < kItems; it += kThreads, bits >>= kItemBits) {
          const int row = it / kSegs;
          const int seg = it - row * kSegs;
          const int gy = rb0 + row;
          if (gy >= sg.gyEnd) continue;
          if ((bits & 0xF) == 0) continue;  // a gap between packed planes, or past the edge
          const Shift sh = sref[(bits >> 8) & 3];  // the item's plane
          ItemMoments im;
          filterMoments(sm + row * kPitch + seg * kSegW, kBuf, taps, im);
          const bool rowInMap = gy >= a.mapY0 && gy < a.mapY1;
          float s = 0.0f;
          if (wantGrad) {
            float al[kSegW], be[kSegW], ga[kSegW];
            const int in = rowInMap ? (bits >> 4) & 0xF : 0;
            s = itemPartials<M>(im, sh, a.c1, a.c2q, in, in, al, be, ga);
            const long long idx =
                (packed ? scols[seg].off : mapBase + seg * kSegW) + (long long)gy * a.width;
            if (a.vecMaps) {  // width % 4 == 0: the 4 columns are in the plane, 16-byte aligned
              *reinterpret_cast<float4*>(a.alpha + idx) = make_float4(al[0], al[1], al[2], al[3]);
              *reinterpret_cast<float4*>(a.beta + idx) = make_float4(be[0], be[1], be[2], be[3]);
              *reinterpret_cast<float4*>(a.gamma + idx) = make_float4(ga[0], ga[1], ga[2], ga[3]);
            } else {
#pragma unroll
              for (int j = 0; j < kSegW; ++j) {
                if ((bits >> j) & 1) {
                  a.alpha[idx + j] = al[j];
                  a.beta[idx + j] = be[j];
                  a.gamma[idx + j] = ga[j];
                }
              }
            }
          } else if (rowInMap) {
#pragma unroll
            for (int j = 0; j < kSegW; ++j) {
              const Moments4 m{im.mx[j], im.my[j], im.mss[j], im.mxy[j]};
              const float v = pixelSsimValue<M>(m, sh, a.c1, a.c2q);  // computed for all 4: no branches
              s += ((bits >> (4 + j)) & 1) ? v : 0.0f;
            }
          }
          if (packed)
            sitem[it] += s;
          else
            batchSum += s;
        }
        segSum += batchSum;
        __syncthreads();  // the next batch overwrites sm
      }

      // 3. Per-image mean: sums per plane slot -> block -> double atomics; the block that
      // completes an image's pixel count writes out[b] and resets its state.
      if (wantValue) {
        const int slots = packed ? kSlots : 1;
        float part[kSlots];
        part[0] = float(segSum);
#pragma unroll
        for (int j = 1; j < kSlots; ++j) part[j] = 0.0f;
        if (packed) addItemSums<kItems, kItemBits>(sitem, itemBits, part, tid);
        slotSumsToShared(part, slots, sred, tid);
        __syncthreads();
        if (tid < slots) {
          const float blockSum = blockSlotSum(sred, tid);
          int cols = 0;
          if (packed) {
            for (int q = 0; q < kSegs; ++q)
              cols += scols[q].slot == tid ? __popc((scols[q].mask >> 4) & 0xF) : 0;
          } else {  // the strip's columns inside the region and the map
            const int x0 = w.regX0 + sg.gx0;
            cols = max(0, min(min(x0 + kTileW, w.regX0 + w.regW), a.mapX1) - max(x0, a.mapX0));
          }
          const int rows = max(0, min(sg.gyEnd, a.mapY1) - max(sg.gy0, a.mapY0));
          const unsigned long long n = (unsigned long long)cols * unsigned(rows);
          if (n > 0) {
            int firstLocal;
            const int plane = sg.plane0 + planeOfColumn(w, sg.gx0, firstLocal) + tid;
            const unsigned b = w.byChannels.div(unsigned(plane));
            if (addToImage(a, b, blockSum, n)) imageDone(b);
          }
        }
        if (cur.left > 0 || r + g.step() < w.ranges) __syncthreads();  // scols, sred: next segment
      }
    }
  }
}

template <typename T, Reciprocal M, bool kPool = false>
__global__ void __launch_bounds__(kThreads, kForwardMinBlocks) ssimForwardKernel(const ForwardArgs a) {
  forwardRanges<T, M, kPool>(a);
}

// MS-SSIM's scale 0 (BackwardArgs::factors): the 4 gradients g of an item at row gy become
// mult (f g + 1/4 up[parent]), common/msssim_pyramid.h's accumulateBottom, with f the plane's
// factor and up[parent] scale 1's accumulated gradient at the pixel's parent (columns outside the
// plane, not stored, get no parent). Loaded with the item's x and y, so that their latency hides
// behind the filters too (v1 loaded them after: the epilogue cost b5's backward 79 us of 506).
struct FoldTerms {
  float f;
  float up[kSegW];
};
__device__ __forceinline__ FoldTerms loadFold(const BackwardArgs& a, const Segment& sg, int seg, int bits, int gy) {
  FoldTerms t;
  int local;
  const int plane = sg.plane0 + planeOfColumn(a.work, sg.gx0 + seg * kSegW, local);
  t.f = __ldg(a.factors + plane);
  const float* up =
      a.up != nullptr
          ? a.up + ((long long)plane * pooledSide(a.height) + ((gy + (a.height & 1)) >> 1)) * pooledSide(a.width)
          : nullptr;
#pragma unroll
  for (int j = 0; j < kSegW; ++j)
    t.up[j] = up != nullptr && ((bits >> j) & 1) ? __ldg(up + ((local + j + (a.width & 1)) >> 1)) : 0.0f;
  return t;
}
__device__ __forceinline__ void applyFold(const FoldTerms& t, bool withUp, float mult, float (&g)[kSegW]) {
#pragma unroll
  for (int j = 0; j < kSegW; ++j) g[j] = accumulateBottom(t.f, g[j], withUp, t.up[j], mult);
}

// ---------------------------------------------------------------------------------------------
// Backward: blur alpha/beta/gamma, combine with x and y at the pixel.
// backwardRanges: the ranges of a's work that block g.first() takes (as forwardRanges).
template <typename T, typename Grid = WholeGrid>
__device__ __forceinline__ void backwardRanges(const BackwardArgs& a, const Grid g = Grid{}) {
  __shared__ __align__(16) float sm[3 * kBuf];
  __shared__ __align__(16) float sstage[3 * kRB * kThreads];  // next batch's alpha, beta, gamma
  __shared__ __align__(16) ItemColumns scols[kSegs];
  __shared__ Shift sref[kSlots];  // the forward's shifts of the strip's planes (slot order)

  const T* __restrict__ xp = static_cast<const T*>(a.x);
  const T* __restrict__ yp = static_cast<const T*>(a.y);
  const WorkLayout& w = a.work;
  const int tid = threadIdx.x;
  const Taps taps = a.taps;
  const float* __restrict__ pa = a.alpha;
  const float* __restrict__ pb = a.beta;
  const float* __restrict__ pg = a.gamma;
  if (a.signalNext) allowNextLaunch();  // (launched the ordinary way: after its forward)

  for (unsigned r = g.first(); r < w.ranges; r += g.step()) {
    RangeCursor cur = rangeStart(w, r);
    while (cur.left > 0) {
      const Segment sg = nextSegment(w, cur);
      const int nBatches = sg.nBatches;

      const InputColumn col = inputColumn(w, sg, a.width);  // regX0 = 0: the whole image
      const bool colOk = col.ok;
      const long long colOff = colOk ? (long long)col.plane * a.planeElems + col.gx : 0;

      const bool packed = w.nPack > 1;
      const long long planeBase = firstPlaneOffset(a, sg);
      if (tid < kSegs) scols[tid] = backwardColumns(a, sg, tid, planeBase);
      int itemBits = 0;

      // The partial maps of a batch, staged asynchronously (stageBatchRows).
      const float* const maps[3] = {pa, pb, pg};
      auto loadBatch = [&](int rb0) { stageBatchRows(sstage, maps, colOff, a.width, rb0, a.height, colOk); };
      loadBatch(sg.gy0);  // first, so that the batch flies while the halo rows load
      // The planes' shifts after the batch's loads are issued: warp 0 waits here for the
      // sample pixels (an L2 round trip), which before held back its share of the batch.
      slotShifts(a, xp, yp, sg, sg.gx0, sref);

      float ra[kWin], rb[kWin], rg[kWin];
      ra[0] = rb[0] = rg[0] = 0.0f;
#pragma unroll
      for (int k = 1; k < kWin; ++k) {
        const int gy = sg.gy0 - kHalo - 1 + k;
        float va = 0.0f, vbt = 0.0f, vg = 0.0f;
        if (colOk && unsigned(gy) < unsigned(a.height)) {
          const long long off = colOff + (long long)gy * a.width;
          va = __ldg(pa + off);
          vbt = __ldg(pb + off);
          vg = __ldg(pg + off);
        }
        ra[k] = va;
        rb[k] = vbt;
        rg[k] = vg;
      }

      for (int batch = 0; batch < nBatches; ++batch) {
        const int rb0 = sg.gy0 + batch * kRB;
        cpAsyncWaitAll();
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          shiftIn(ra, sstage[j * kThreads + tid]);
          shiftIn(rb, sstage[(kRB + j) * kThreads + tid]);
          shiftIn(rg, sstage[(2 * kRB + j) * kThreads + tid]);
          float* dst = sm + j * kPitch + tid;
          dst[0 * kBuf] = foldAt(ra, kHalo, taps);
          dst[1 * kBuf] = foldAt(rb, kHalo, taps);
          dst[2 * kBuf] = foldAt(rg, kHalo, taps);
        }
        __syncthreads();
        if (batch + 1 < nBatches) loadBatch(rb0 + kRB);  // after the barrier: sstage reads done

        if (batch == 0) itemBits = loadItemBits(scols, tid);  // after the barrier: scols written
        int bits = itemBits;
        for (int it = tid; it < kItems; it += kThreads, bits >>= kItemBits) {
          const int row = it / kSegs;
          const int seg = it - row * kSegs;
          const int gy = rb0 + row;
          if (gy >= sg.gyEnd) continue;
          if ((bits & 0xF) == 0) continue;
          // x and y first: their latency hides behind the three filters.
          const long long colOff0 = packed ? scols[seg].off : planeBase + (long long)(sg.gx0 + seg * kSegW) * a.pixStride;
          const long long off0 = colOff0 + (long long)gy * a.rowStride;
          float xv[kSegW], yv[kSegW];
          loadItemInputs(a, xp, yp, off0, bits, sref[(bits >> 8) & 3], xv, yv);
          const bool folding = a.factors != nullptr;  // MS-SSIM's scale 0
          FoldTerms fold;
          if (folding) fold = loadFold(a, sg, seg, bits, gy);
          float g[kSegW];
          itemGradient(sm + row * kPitch + seg * kSegW, kBuf, taps, xv, yv, a.gradScale, g);
          if (folding) applyFold(fold, a.up != nullptr, a.mult, g);
          storeItemGradient(a, off0, bits, g);
        }
        __syncthreads();
      }
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads, kBackwardMinBlocks) ssimBackwardKernel(const BackwardArgs a) {
  backwardRanges<T>(a);
}

}  // namespace kernels
}  // namespace cudassim
