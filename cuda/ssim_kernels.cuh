// The CUDA kernels of the GPU path (launched by cuda/ssim_cuda.cu). Design notes (v4,
// "column walk"; bench/NOTES.md has the measurements behind it):
//
// Strips. A block of 128 threads (4 warps) owns an output strip of kTileW = 116 columns and
// `rowsPerBlock` rows (1 to 4, or 8, batches of kRB = 12 rows, chosen by the host) of one plane
// (b, c). Thread t owns input column gx0 - kHalo + t (t < 126 = 116 + 2 * kHalo; the last 2
// threads carry zeros) and walks down the strip, kRB rows per batch:
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
// E[xy], which is what keeps ssim(x, x) at 1. Four moments, not five (v7, bench/NOTES.md):
// S needs E[x^2] and E[y^2] only through their sum (ssim_math.h, Moments4).
//
// Backward: the same strip walk over the three partial maps (alpha, beta, gamma: 33 registers
// of shift register), then grad = scale * (G*alpha + 2 x G*beta + y G*gamma) per item.
//
// Grid. A flat 1-D grid over "virtual blocks" v = ((b * tilesY + ty) * tilesX + tx) * C + c
// (channels fastest: the C planes of one strip of an interleaved image share cache lines), and
// each block loops v += gridDim.x, so any batch * channels works (no 65535 limit).
//
// Per-image mean without memsets: each block sums its map pixels (float, per thread <= a few
// hundred terms), adds the block sum to its image's double accumulator (atomicAdd), fences,
// and bumps the image's counter. The block that sees count == blocksPerImage - 1 writes out[b]
// and resets accumulator and counter to zero for the next launch.
#pragma once

#include <cstdint>
#include <type_traits>

#include "ssim_math.h"
#include "ssim_types.h"

namespace cudassim {
namespace kernels {

constexpr int kThreads = 128;                  // 4 warps
constexpr int kWarps = kThreads / 32;
constexpr int kHalo = kMaxRadius;              // 5
constexpr int kWin = 2 * kHalo + 1;            // 11 rows in the shift register
#ifndef SSIM_TILE_W
#define SSIM_TILE_W 116
#endif
constexpr int kTileW = SSIM_TILE_W;            // output columns per strip (a multiple of 4)
constexpr int kInCols = kTileW + 2 * kHalo;    // 126 input columns (threads 126, 127 idle)
#ifndef SSIM_RB
#define SSIM_RB 12
#endif
constexpr int kRB = SSIM_RB;                   // rows per batch (vertical pass -> shared -> horizontal)
constexpr int kSegW = 4;                       // outputs per horizontal work item
constexpr int kSegs = kTileW / kSegW;          // 29 items per row
constexpr int kSegLoad = 16;                   // values read per item (>= 4 + 2 * kHalo)
constexpr int kPitch = 4 * (kSegs + 8);        // floats per shared row (148: see above)
constexpr int kBuf = kRB * kPitch;             // floats per moment buffer
constexpr int kItems = kRB * kSegs;            // 348 horizontal items per batch
constexpr int kMoments = 4;                    // forward: E[x], E[y], E[x^2 + y^2], E[xy]
#ifndef SSIM_MAX_BATCHES
#define SSIM_MAX_BATCHES 8
#endif
constexpr int kMaxRowsPerBlock = SSIM_MAX_BATCHES * kRB;  // the host picks 1 to 4, or 8, batches

// Resident blocks per SM the register allocation is sized for (4 x 128 threads: <= 128 registers).
#ifndef SSIM_FWD_MIN_BLOCKS
#define SSIM_FWD_MIN_BLOCKS 4
#endif
#ifndef SSIM_BWD_MIN_BLOCKS
#define SSIM_BWD_MIN_BLOCKS 4
#endif
constexpr int kForwardMinBlocks = SSIM_FWD_MIN_BLOCKS;
constexpr int kBackwardMinBlocks = SSIM_BWD_MIN_BLOCKS;

static_assert(kSegLoad >= kSegW + 2 * kHalo, "a horizontal item must see its whole window");
static_assert((kSegs - 1) * kSegW + kSegLoad <= kPitch, "items read inside the row");
static_assert(kInCols <= kThreads, "one input column per thread");
static_assert(kTileW % kSegW == 0, "strips start 16-byte aligned (float4 stores of the maps)");
static_assert(kPitch % 4 == 0 && (kPitch / 4 - kSegs) % 8 == 0, "conflict-free 128-bit loads");

// Per-image reduction state (16 bytes), at the start of the workspace.
struct ReduceState {
  double acc;
  unsigned int count;
  unsigned int pad;
};
static_assert(sizeof(ReduceState) == 16, "the workspace layout assumes 16 bytes per image");

struct Taps {
  float w[kMaxRadius + 1];  // w[k] = weight at distance k, zero beyond the radius
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
  int height, width, channels;
  int mapY0, mapY1, mapX0, mapX1;  // pixels that count (MapRegion)
  int regY0, regX0, regY1, regX1;  // the tiled region (map region or whole image)
  int tilesX, tilesY, rowsPerBlock;
  int vecMaps;                     // 1: alpha/beta/gamma rows may be stored as float4
  unsigned long long totalBlocks;  // batch * blocksPerImage
  unsigned int blocksPerImage;     // channels * tilesX * tilesY
  Taps taps;
  float c1, c2, inputScale;
  double valueOffset, valueScale, denom;  // out[b] = offset + scale * (sum / denom)
};

struct BackwardArgs {
  const void* x;
  const void* y;
  float* grad;
  const float* alpha;
  const float* beta;
  const float* gamma;
  long long pixStride, rowStride, chanStride, imageElems, planeElems;
  int height, width, channels;
  int tilesX, tilesY, rowsPerBlock;
  int vecGrad;                     // 1: grad rows may be stored as float4 (planar, aligned)
  unsigned long long totalBlocks;
  Taps taps;
  float inputScale;
  float gradScale;  // valueScale / (channels * mapCount)
};

template <typename T>
__device__ __forceinline__ float loadScaled(const T* __restrict__ p, long long off, float scale) {
  return static_cast<float>(__ldg(p + off)) * scale;
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
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800 && !defined(SSIM_NO_ASYNC)
#define SSIM_ASYNC_COPY 1
#else
#define SSIM_ASYNC_COPY 0
#endif
#ifndef SSIM_WALK_POINTERS  // v10: batches inside the image load through running pointers
#define SSIM_WALK_POINTERS 1
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

struct VirtualBlock {
  int b, c, tx, ty;
};

__device__ __forceinline__ VirtualBlock decodeBlock(unsigned long long v, int channels, int tilesX,
                                                    int tilesY) {
  VirtualBlock r;
  r.c = int(v % unsigned(channels));
  v /= unsigned(channels);
  r.tx = int(v % unsigned(tilesX));
  v /= unsigned(tilesX);
  r.ty = int(v % unsigned(tilesY));
  v /= unsigned(tilesY);
  r.b = int(v);
  return r;
}

__device__ __forceinline__ float warpSum(float s) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Forward: SSIM map (+ partial maps), per-image mean.
template <typename T>
__global__ void __launch_bounds__(kThreads, kForwardMinBlocks) ssimForwardKernel(const ForwardArgs a) {
  __shared__ __align__(16) float sm[kMoments * kBuf];  // vertical E[x], E[y], E[x^2 + y^2], E[xy]
  constexpr bool kStaged = std::is_same<T, float>::value;
  __shared__ __align__(16) float sstage[kStaged ? 2 * kRB * kThreads : 1];  // next batch's x, y
  __shared__ float sred[kWarps];

  const T* __restrict__ xp = static_cast<const T*>(a.x);
  const T* __restrict__ yp = static_cast<const T*>(a.y);
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const bool wantGrad = a.alpha != nullptr;
  const bool wantValue = a.out != nullptr;
  const Taps taps = a.taps;

  for (unsigned long long vb = blockIdx.x; vb < a.totalBlocks; vb += gridDim.x) {
    const VirtualBlock blk = decodeBlock(vb, a.channels, a.tilesX, a.tilesY);
    const int gx0 = a.regX0 + blk.tx * kTileW;
    const int gy0 = a.regY0 + blk.ty * a.rowsPerBlock;
    const int gyEnd = min(gy0 + a.rowsPerBlock, a.regY1);
    const int nBatches = (gyEnd - gy0 + kRB - 1) / kRB;
    const long long base = (long long)blk.b * a.imageElems + (long long)blk.c * a.chanStride;
    const long long planeBase = ((long long)blk.b * a.channels + blk.c) * a.planeElems;

    // This thread's input column.
    const int gxIn = gx0 - kHalo + tid;
    const bool colOk = tid < kInCols && unsigned(gxIn) < unsigned(a.width);
    const long long colOff = base + (long long)(colOk ? gxIn : 0) * a.pixStride;

    // Inputs of a batch: rows rb0 + kHalo .. rb0 + kHalo + kRB - 1 of this column (zero
    // outside). float: asynchronous copies into this thread's column of sstage (only this
    // thread reads it back); other types: registers.
    float lx[kRB], ly[kRB];
    auto loadBatch = [&](int rb0) {
      if constexpr (kStaged) {
#if SSIM_WALK_POINTERS
        if (rb0 + kHalo + kRB <= a.height) {  // the whole batch is inside the image (uniform)
          const long long off = colOff + (long long)(rb0 + kHalo) * a.rowStride;
          const float* px = reinterpret_cast<const float*>(xp) + off;  // column 0 if !colOk: valid
          const float* py = reinterpret_cast<const float*>(yp) + off;
#pragma unroll
          for (int j = 0; j < kRB; ++j) {
            cpAsync4(sstage + j * kThreads + tid, px, colOk);
            cpAsync4(sstage + (kRB + j) * kThreads + tid, py, colOk);
            px += a.rowStride;
            py += a.rowStride;
          }
          cpAsyncCommit();
          return;
        }
#endif
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          const int gy = rb0 + kHalo + j;
          const bool ok = colOk && gy < a.height;
          const long long off = ok ? colOff + (long long)gy * a.rowStride : 0;
          cpAsync4(sstage + j * kThreads + tid, reinterpret_cast<const float*>(xp) + off, ok);
          cpAsync4(sstage + (kRB + j) * kThreads + tid, reinterpret_cast<const float*>(yp) + off, ok);
        }
        cpAsyncCommit();
      } else {
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          const int gy = rb0 + kHalo + j;
          float vx = 0.0f, vy = 0.0f;
          if (colOk && gy < a.height) {
            const long long off = colOff + (long long)gy * a.rowStride;
            vx = loadScaled(xp, off, a.inputScale);
            vy = loadScaled(yp, off, a.inputScale);
          }
          lx[j] = vx;
          ly[j] = vy;
        }
      }
    };
    loadBatch(gy0);  // first, so that the batch flies while the halo rows load

    float rx[kWin], ry[kWin], rss[kWin], rxy[kWin];
    rx[0] = ry[0] = rss[0] = rxy[0] = 0.0f;
    // Rows gy0 - kHalo .. gy0 + kHalo - 1 into positions 1 .. 10.
#pragma unroll
    for (int k = 1; k < kWin; ++k) {
      const int gy = gy0 - kHalo - 1 + k;
      float vx = 0.0f, vy = 0.0f;
      if (colOk && unsigned(gy) < unsigned(a.height)) {
        const long long off = colOff + (long long)gy * a.rowStride;
        vx = loadScaled(xp, off, a.inputScale);
        vy = loadScaled(yp, off, a.inputScale);
      }
      rx[k] = vx;
      ry[k] = vy;
      rss[k] = sumOfSquares(vx, vy);
      rxy[k] = __fmul_rn(vx, vy);
    }

    float sum = 0.0f;
    for (int batch = 0; batch < nBatches; ++batch) {
      const int rb0 = gy0 + batch * kRB;
      if constexpr (kStaged) {
        cpAsyncWaitAll();
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          lx[j] = sstage[j * kThreads + tid] * a.inputScale;
          ly[j] = sstage[(kRB + j) * kThreads + tid] * a.inputScale;
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

      // 2. Horizontal pass + per-pixel SSIM: items of 4 output columns.
      for (int it = tid; it < kItems; it += kThreads) {
        const int row = it / kSegs;
        const int seg = it - row * kSegs;
        const int gy = rb0 + row;
        const int gxs = gx0 + seg * kSegW;
        if (gy >= gyEnd || gxs >= a.regX1) continue;
        const float* src = sm + row * kPitch + seg * kSegW;
        float mx[kSegW], my[kSegW], mss[kSegW], mxy[kSegW];
        filterItem(src + 0 * kBuf, taps, mx);
        filterItem(src + 1 * kBuf, taps, my);
        filterItem(src + 2 * kBuf, taps, mss);
        filterItem(src + 3 * kBuf, taps, mxy);
        const bool rowInMap = gy >= a.mapY0 && gy < a.mapY1;
        if (wantGrad) {
          float al[kSegW], be[kSegW], ga[kSegW];
#pragma unroll
          for (int j = 0; j < kSegW; ++j) {
            const int gx = gxs + j;
            // Computed for all 4 (no branches), kept only inside the map.
            const Moments4 m{mx[j], my[j], mss[j], mxy[j]};
            const PixelSsim ps = pixelSsimWithPartials(m, a.c1, a.c2);
            const bool in = rowInMap && gx >= a.mapX0 && gx < a.mapX1;
            sum += in ? ps.s : 0.0f;
            al[j] = in ? ps.alpha : 0.0f;
            be[j] = in ? ps.beta : 0.0f;
            ga[j] = in ? ps.gamma : 0.0f;
          }
          const long long idx = planeBase + (long long)gy * a.width + gxs;
          if (a.vecMaps) {  // width % 4 == 0: the 4 columns are in the image, 16-byte aligned
            *reinterpret_cast<float4*>(a.alpha + idx) = make_float4(al[0], al[1], al[2], al[3]);
            *reinterpret_cast<float4*>(a.beta + idx) = make_float4(be[0], be[1], be[2], be[3]);
            *reinterpret_cast<float4*>(a.gamma + idx) = make_float4(ga[0], ga[1], ga[2], ga[3]);
          } else {
#pragma unroll
            for (int j = 0; j < kSegW; ++j) {
              if (gxs + j < a.width) {
                a.alpha[idx + j] = al[j];
                a.beta[idx + j] = be[j];
                a.gamma[idx + j] = ga[j];
              }
            }
          }
        } else if (rowInMap) {
#pragma unroll
          for (int j = 0; j < kSegW; ++j) {
            const int gx = gxs + j;
            const Moments4 m{mx[j], my[j], mss[j], mxy[j]};
            const float v = pixelSsimValue(m, a.c1, a.c2);  // computed for all 4: no branches
            sum += (gx >= a.mapX0 && gx < a.mapX1) ? v : 0.0f;
          }
        }
      }
      __syncthreads();  // the next batch overwrites sm
    }

    // 3. Per-image mean: block sum -> double atomics -> last block writes out[b] and resets.
    if (wantValue) {
      sum = warpSum(sum);
      if (lane == 0) sred[warp] = sum;
      __syncthreads();
      if (tid == 0) {
        float blockSum = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) blockSum += sred[w];
        ReduceState* st = a.state + blk.b;
        atomicAdd(&st->acc, double(blockSum));
        __threadfence();
        const unsigned int done = atomicAdd(&st->count, 1u);
        if (done == a.blocksPerImage - 1u) {
          __threadfence();
          const double total = atomicAdd(&st->acc, 0.0);  // coherent read of the final sum
          a.out[blk.b] = float(a.valueOffset + a.valueScale * (total / a.denom));
          // Leave the state zeroed for the next launch (no memset needed).
          atomicExch(reinterpret_cast<unsigned long long*>(&st->acc), 0ull);
          atomicExch(&st->count, 0u);
        }
      }
      // sred is rewritten only after the next virtual block's first barrier.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward: blur alpha/beta/gamma, combine with x and y at the pixel.
template <typename T>
__global__ void __launch_bounds__(kThreads, kBackwardMinBlocks) ssimBackwardKernel(const BackwardArgs a) {
  __shared__ __align__(16) float sm[3 * kBuf];
  __shared__ __align__(16) float sstage[3 * kRB * kThreads];  // next batch's alpha, beta, gamma

  const T* __restrict__ xp = static_cast<const T*>(a.x);
  const T* __restrict__ yp = static_cast<const T*>(a.y);
  const int tid = threadIdx.x;
  const Taps taps = a.taps;

  for (unsigned long long vb = blockIdx.x; vb < a.totalBlocks; vb += gridDim.x) {
    const VirtualBlock blk = decodeBlock(vb, a.channels, a.tilesX, a.tilesY);
    const int gx0 = blk.tx * kTileW;
    const int gy0 = blk.ty * a.rowsPerBlock;
    const int gyEnd = min(gy0 + a.rowsPerBlock, a.height);
    const int nBatches = (gyEnd - gy0 + kRB - 1) / kRB;
    const long long base = (long long)blk.b * a.imageElems + (long long)blk.c * a.chanStride;
    const long long planeBase = ((long long)blk.b * a.channels + blk.c) * a.planeElems;

    const int gxIn = gx0 - kHalo + tid;
    const bool colOk = tid < kInCols && unsigned(gxIn) < unsigned(a.width);
    const long long colOff = planeBase + (colOk ? gxIn : 0);
    const float* __restrict__ pa = a.alpha;
    const float* __restrict__ pb = a.beta;
    const float* __restrict__ pg = a.gamma;

    // The partial maps of a batch, rows rb0 + kHalo .. rb0 + kHalo + kRB - 1 of this column,
    // copied asynchronously into this thread's column of sstage (zero outside the image).
    auto loadBatch = [&](int rb0) {
#if SSIM_WALK_POINTERS
      if (rb0 + kHalo + kRB <= a.height) {  // the whole batch is inside the image (uniform)
        const long long off = colOff + (long long)(rb0 + kHalo) * a.width;
        const float* qa = pa + off;  // column 0 if !colOk: valid
        const float* qb = pb + off;
        const float* qg = pg + off;
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          cpAsync4(sstage + j * kThreads + tid, qa, colOk);
          cpAsync4(sstage + (kRB + j) * kThreads + tid, qb, colOk);
          cpAsync4(sstage + (2 * kRB + j) * kThreads + tid, qg, colOk);
          qa += a.width;
          qb += a.width;
          qg += a.width;
        }
        cpAsyncCommit();
        return;
      }
#endif
#pragma unroll
      for (int j = 0; j < kRB; ++j) {
        const int gy = rb0 + kHalo + j;
        const bool ok = colOk && gy < a.height;
        const long long off = ok ? colOff + (long long)gy * a.width : 0;
        cpAsync4(sstage + j * kThreads + tid, pa + off, ok);
        cpAsync4(sstage + (kRB + j) * kThreads + tid, pb + off, ok);
        cpAsync4(sstage + (2 * kRB + j) * kThreads + tid, pg + off, ok);
      }
      cpAsyncCommit();
    };
    loadBatch(gy0);  // first, so that the batch flies while the halo rows load

    float ra[kWin], rb[kWin], rg[kWin];
    ra[0] = rb[0] = rg[0] = 0.0f;
#pragma unroll
    for (int k = 1; k < kWin; ++k) {
      const int gy = gy0 - kHalo - 1 + k;
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
      const int rb0 = gy0 + batch * kRB;
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

      for (int it = tid; it < kItems; it += kThreads) {
        const int row = it / kSegs;
        const int seg = it - row * kSegs;
        const int gy = rb0 + row;
        const int gxs = gx0 + seg * kSegW;
        if (gy >= gyEnd || gxs >= a.width) continue;
        const float* src = sm + row * kPitch + seg * kSegW;
        float ga[kSegW], gb[kSegW], gg[kSegW];
        filterItem(src + 0 * kBuf, taps, ga);
        filterItem(src + 1 * kBuf, taps, gb);
        filterItem(src + 2 * kBuf, taps, gg);
        const long long off0 = base + (long long)gy * a.rowStride + (long long)gxs * a.pixStride;
        float g[kSegW];
#pragma unroll
        for (int j = 0; j < kSegW; ++j) {
          g[j] = 0.0f;
          if (gxs + j < a.width) {
            const long long off = off0 + j * a.pixStride;
            const float xv = loadScaled(xp, off, a.inputScale);
            const float yv = loadScaled(yp, off, a.inputScale);
            g[j] = pixelGradient(ga[j], gb[j], gg[j], xv, yv, a.gradScale);
          }
        }
        if (a.vecGrad) {  // planar, width % 4 == 0, aligned
          *reinterpret_cast<float4*>(a.grad + off0) = make_float4(g[0], g[1], g[2], g[3]);
        } else {
#pragma unroll
          for (int j = 0; j < kSegW; ++j)
            if (gxs + j < a.width) a.grad[off0 + j * a.pixStride] = g[j];
        }
      }
      __syncthreads();
    }
  }
}

}  // namespace kernels
}  // namespace cudassim
