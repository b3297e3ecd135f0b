// The CUDA kernels of the GPU path (launched by cuda/ssim_cuda.cu). Design notes:
//
// Tiles. A block of 256 threads (8 warps) owns an output tile of 32 columns x 32 rows of one
// plane (b, c). It stages the tile plus a halo of kMaxRadius on every side into shared memory
// (converted to float and scaled by inputScale, zero outside the image: 'same' padding), then
// filters with the separable Gaussian:
//   - horizontal pass: one work item = 4 consecutive output columns of one staged row; it
//     reads 16 staged values with four 128-bit loads and writes 4 results with one 128-bit
//     store per moment (conflict-free: the 8 items of a quarter-warp cover one 128-byte row);
//   - vertical pass: lane = column, warp w = output rows 4w .. 4w+3; each thread reads the
//     14 rows it needs once per moment and produces 4 outputs from registers.
// Taps are symmetric and folded (w0 v0 + sum_k wk (v[-k] + v[+k])); the window radius is a
// runtime value, taps beyond it are zero (one instantiation per input dtype). The arithmetic
// of the passes uses explicit round-to-nearest intrinsics so that the compiler cannot contract
// the moments of x and of y differently: with x == y the five moments come out bit-identical,
// which is what keeps ssim(x, x) at 1.
//
// Grid. A flat 1-D grid over "virtual blocks" v = ((b * tilesY + ty) * tilesX + tx) * C + c
// (channels fastest: the C planes of one tile of an interleaved image share cache lines), and
// each block loops v += gridDim.x, so any batch * channels works (no 65535 limit).
//
// Per-image mean without memsets: each block sums its map pixels (float, <= 1024 terms), adds
// the sum to its image's double accumulator (atomicAdd), fences, and bumps the image's counter.
// The block that sees count == blocksPerImage - 1 writes out[b] and resets accumulator and
// counter to zero for the next launch.
#pragma once

#include <cstdint>

#include "ssim_math.h"
#include "ssim_types.h"

namespace cudassim {
namespace kernels {

constexpr int kThreads = 256;                            // 8 warps
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerThread = 4;                        // output rows per thread (vertical pass)
constexpr int kTileW = 32;                               // output columns per tile (= warp width)
constexpr int kTileH = kWarps * kRowsPerThread;          // 32 output rows per tile
constexpr int kHalo = kMaxRadius;                        // 5
constexpr int kInRows = kTileH + 2 * kHalo;              // 42 staged rows
constexpr int kSegW = 4;                                 // outputs per horizontal work item
constexpr int kSegs = kTileW / kSegW;                    // 8 items per staged row
constexpr int kSegLoad = 16;                             // staged values read per item (>= 14)
constexpr int kInPitch = (kSegs - 1) * kSegW + kSegLoad; // 44 floats per staged row
constexpr int kInSize = kInRows * kInPitch;              // floats per staged array
constexpr int kHItems = kInRows * kSegs;                 // 336 horizontal items
constexpr int kVIn = kRowsPerThread + 2 * kHalo;         // 14 rows read per vertical item
constexpr int kMidSize = kInRows * kTileW;               // floats per horizontally filtered array

// Resident blocks per SM the register allocation is sized for. The forward kernel's 42 KB of
// shared memory allow 5 blocks on sm_90, its registers (~63) allow 4; the backward kernel fits
// 5 (48 registers), except on Turing (1024 threads per SM).
constexpr int kForwardMinBlocks = 4;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr int kBackwardMinBlocks = 4;
#else
constexpr int kBackwardMinBlocks = 5;
#endif

static_assert(kSegLoad >= kSegW + 2 * kHalo, "a horizontal item must see its whole window");
static_assert(kSegLoad % 4 == 0 && kInPitch % 4 == 0, "128-bit shared loads need 16-byte rows");
static_assert(kInPitch >= kTileW + 2 * kHalo, "the staged row must hold tile + halo");

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
  int regY0, regX0;                // origin of the tiled region (map region or whole image)
  int tilesX, tilesY;
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
  int tilesX, tilesY;
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

// Horizontal filter of one item: 4 outputs from v[0 .. 13], one 128-bit shared store.
template <int N>
__device__ __forceinline__ void filterSegment(const float (&v)[N], const Taps& t, float* dst) {
  static_assert(N >= kSegW + 2 * kHalo, "segment too short");
  float4 r;
  r.x = foldAt(v, kHalo + 0, t);
  r.y = foldAt(v, kHalo + 1, t);
  r.z = foldAt(v, kHalo + 2, t);
  r.w = foldAt(v, kHalo + 3, t);
  *reinterpret_cast<float4*>(dst) = r;
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

// Vertical filter: kRowsPerThread outputs of one column from the horizontally filtered array.
__device__ __forceinline__ void filterColumn(const float* mid, int r0, int col, const Taps& t,
                                             float (&o)[kRowsPerThread]) {
  float v[kVIn];
#pragma unroll
  for (int j = 0; j < kVIn; ++j) v[j] = mid[(r0 + j) * kTileW + col];
#pragma unroll
  for (int q = 0; q < kRowsPerThread; ++q) o[q] = foldAt(v, kHalo + q, t);
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
  __shared__ __align__(16) float sx[kInSize];
  __shared__ __align__(16) float sy[kInSize];
  __shared__ __align__(16) float smid[5 * kMidSize];  // E[x], E[y], E[x^2], E[y^2], E[xy]
  __shared__ float sred[kWarps];

  const T* __restrict__ xp = static_cast<const T*>(a.x);
  const T* __restrict__ yp = static_cast<const T*>(a.y);
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const bool wantGrad = a.alpha != nullptr;
  const bool wantValue = a.out != nullptr;

  for (unsigned long long vb = blockIdx.x; vb < a.totalBlocks; vb += gridDim.x) {
    const VirtualBlock blk = decodeBlock(vb, a.channels, a.tilesX, a.tilesY);
    const int gx0 = a.regX0 + blk.tx * kTileW;
    const int gy0 = a.regY0 + blk.ty * kTileH;
    const long long base = (long long)blk.b * a.imageElems + (long long)blk.c * a.chanStride;

    // 1. Stage x and y, tile + halo, zero outside the image.
    for (int i = tid; i < kInSize; i += kThreads) {
      const int r = i / kInPitch;
      const int col = i - r * kInPitch;
      const int gy = gy0 - kHalo + r;
      const int gx = gx0 - kHalo + col;
      float vx = 0.0f, vy = 0.0f;
      if (unsigned(gy) < unsigned(a.height) && unsigned(gx) < unsigned(a.width)) {
        const long long off = base + (long long)gy * a.rowStride + (long long)gx * a.pixStride;
        vx = loadScaled(xp, off, a.inputScale);
        vy = loadScaled(yp, off, a.inputScale);
      }
      sx[i] = vx;
      sy[i] = vy;
    }
    __syncthreads();

    // 2. Horizontal pass: five moments for every staged row, 4 columns per item.
    for (int it = tid; it < kHItems; it += kThreads) {
      const int row = it / kSegs;
      const int seg = it - row * kSegs;
      float xv[kSegLoad], yv[kSegLoad];
      loadSegment(sx + row * kInPitch + seg * kSegW, xv);
      loadSegment(sy + row * kInPitch + seg * kSegW, yv);
      float* dst = smid + row * kTileW + seg * kSegW;
      filterSegment(xv, a.taps, dst + 0 * kMidSize);
      filterSegment(yv, a.taps, dst + 1 * kMidSize);
      float p[kSegW + 2 * kHalo];
#pragma unroll
      for (int j = 0; j < kSegW + 2 * kHalo; ++j) p[j] = __fmul_rn(xv[j], xv[j]);
      filterSegment(p, a.taps, dst + 2 * kMidSize);
#pragma unroll
      for (int j = 0; j < kSegW + 2 * kHalo; ++j) p[j] = __fmul_rn(yv[j], yv[j]);
      filterSegment(p, a.taps, dst + 3 * kMidSize);
#pragma unroll
      for (int j = 0; j < kSegW + 2 * kHalo; ++j) p[j] = __fmul_rn(xv[j], yv[j]);
      filterSegment(p, a.taps, dst + 4 * kMidSize);
    }
    __syncthreads();

    // 3. Vertical pass: lane = column, 4 consecutive rows per thread.
    const int r0 = warp * kRowsPerThread;
    float mx[kRowsPerThread], my[kRowsPerThread], mxx[kRowsPerThread], myy[kRowsPerThread],
        mxy[kRowsPerThread];
    filterColumn(smid + 0 * kMidSize, r0, lane, a.taps, mx);
    filterColumn(smid + 1 * kMidSize, r0, lane, a.taps, my);
    filterColumn(smid + 2 * kMidSize, r0, lane, a.taps, mxx);
    filterColumn(smid + 3 * kMidSize, r0, lane, a.taps, myy);
    filterColumn(smid + 4 * kMidSize, r0, lane, a.taps, mxy);

    // 4. Per pixel: SSIM (and partials), sum over the map region.
    const int gx = gx0 + lane;
    const bool colInImage = gx < a.width;
    const bool colInMap = gx >= a.mapX0 && gx < a.mapX1;
    float sum = 0.0f;
#pragma unroll
    for (int q = 0; q < kRowsPerThread; ++q) {
      const int gy = gy0 + r0 + q;
      const bool inMap = colInMap && gy >= a.mapY0 && gy < a.mapY1;
      Moments m;
      m.mx = mx[q];
      m.my = my[q];
      m.xx = mxx[q];
      m.yy = myy[q];
      m.xy = mxy[q];
      if (wantGrad) {
        if (colInImage && gy < a.height) {
          float al = 0.0f, be = 0.0f, ga = 0.0f;
          if (inMap) {
            const PixelSsim ps = pixelSsimWithPartials(m, a.c1, a.c2);
            sum += ps.s;
            al = ps.alpha;
            be = ps.beta;
            ga = ps.gamma;
          }
          const long long idx = ((long long)blk.b * a.channels + blk.c) * a.planeElems +
                                (long long)gy * a.width + gx;
          a.alpha[idx] = al;
          a.beta[idx] = be;
          a.gamma[idx] = ga;
        }
      } else if (inMap) {
        sum += pixelSsimValue(m, a.c1, a.c2);
      }
    }

    // 5. Per-image mean: block sum -> double atomics -> last block writes out[b] and resets.
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
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward: blur alpha/beta/gamma, combine with x and y at the pixel.
template <typename T>
__global__ void __launch_bounds__(kThreads, kBackwardMinBlocks) ssimBackwardKernel(const BackwardArgs a) {
  __shared__ __align__(16) float smaps[3 * kInSize];
  __shared__ __align__(16) float smid[3 * kMidSize];

  const T* __restrict__ xp = static_cast<const T*>(a.x);
  const T* __restrict__ yp = static_cast<const T*>(a.y);
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;

  for (unsigned long long vb = blockIdx.x; vb < a.totalBlocks; vb += gridDim.x) {
    const VirtualBlock blk = decodeBlock(vb, a.channels, a.tilesX, a.tilesY);
    const int gx0 = blk.tx * kTileW;
    const int gy0 = blk.ty * kTileH;
    const long long planeBase = ((long long)blk.b * a.channels + blk.c) * a.planeElems;
    const float* __restrict__ pa = a.alpha + planeBase;
    const float* __restrict__ pb = a.beta + planeBase;
    const float* __restrict__ pg = a.gamma + planeBase;

    // 1. Stage the three partial maps, tile + halo, zero outside the image.
    for (int i = tid; i < kInSize; i += kThreads) {
      const int r = i / kInPitch;
      const int col = i - r * kInPitch;
      const int gy = gy0 - kHalo + r;
      const int gx = gx0 - kHalo + col;
      float va = 0.0f, vbeta = 0.0f, vg = 0.0f;
      if (unsigned(gy) < unsigned(a.height) && unsigned(gx) < unsigned(a.width)) {
        const long long off = (long long)gy * a.width + gx;
        va = __ldg(pa + off);
        vbeta = __ldg(pb + off);
        vg = __ldg(pg + off);
      }
      smaps[i] = va;
      smaps[kInSize + i] = vbeta;
      smaps[2 * kInSize + i] = vg;
    }
    __syncthreads();

    // 2. Horizontal pass.
    for (int it = tid; it < kHItems; it += kThreads) {
      const int row = it / kSegs;
      const int seg = it - row * kSegs;
      float* dst = smid + row * kTileW + seg * kSegW;
#pragma unroll
      for (int m = 0; m < 3; ++m) {
        float v[kSegLoad];
        loadSegment(smaps + m * kInSize + row * kInPitch + seg * kSegW, v);
        filterSegment(v, a.taps, dst + m * kMidSize);
      }
    }
    __syncthreads();

    // 3. Vertical pass.
    const int r0 = warp * kRowsPerThread;
    float ga[kRowsPerThread], gb[kRowsPerThread], gg[kRowsPerThread];
    filterColumn(smid + 0 * kMidSize, r0, lane, a.taps, ga);
    filterColumn(smid + 1 * kMidSize, r0, lane, a.taps, gb);
    filterColumn(smid + 2 * kMidSize, r0, lane, a.taps, gg);

    // 4. grad = scale * (G*alpha + 2 x G*beta + y G*gamma), at x's layout.
    const int gx = gx0 + lane;
    if (gx < a.width) {
      const long long base = (long long)blk.b * a.imageElems + (long long)blk.c * a.chanStride +
                             (long long)gx * a.pixStride;
#pragma unroll
      for (int q = 0; q < kRowsPerThread; ++q) {
        const int gy = gy0 + r0 + q;
        if (gy < a.height) {
          const long long off = base + (long long)gy * a.rowStride;
          const float xv = loadScaled(xp, off, a.inputScale);
          const float yv = loadScaled(yp, off, a.inputScale);
          a.grad[off] = pixelGradient(ga[q], gb[q], gg[q], xv, yv, a.gradScale);
        }
      }
    }
    // The next virtual block restages `smaps` only after every thread passed this point's
    // vertical reads of `smid` (they all reach its first __syncthreads first), so no barrier
    // is needed here; `smid` is rewritten only after that barrier too.
  }
}

}  // namespace kernels
}  // namespace cudassim
