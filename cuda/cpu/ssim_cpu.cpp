// The CPU path: SSIM values and gradients with std::thread workers, float32 arithmetic through
// the per-pixel formulas of ssim_math.h, float64 sums.
//
// Work is cut into items: a band of rows of one image and a group of its channels (all of them,
// up to 4, for interleaved hwc input, so each input row is read from memory once; one for chw).
// A worker streams an item row by row through small per-worker buffers (Band below):
//
//   hrow    input row (the item's column tile plus R each side) -> float32 x inputScale minus the
//           plane's shift (ssim_math.h, Shift), padded with -shift; x^2, y^2, xy;
//           horizontal filter of the four rows x, y, x^2 + y^2, xy (map columns only;
//           ssim_math.h, Moments4: S needs E[x^2] and E[y^2] only through their sum) -> ring1 (2R+4 rows)
//   ablock  4 map rows at a time: vertical filter of ring1 rows, in column chunks that stay in
//           L1 -> pixelSsimValue / pixelSsimWithPartials -> per-row sums (float64)
//           gradient: alpha/beta/gamma rows (zero outside the map) -> horizontal blur -> ring2
//   gblock  gradient: 4 rows at a time: vertical blur of ring2 rows -> pixelGradient -> grad
//
// Each row of each stage is computed by the same arithmetic whatever item it falls in (bands
// recompute their halo rows bit for bit), each map row's sum goes to its own slot, and the slots
// are added in a fixed order at the end: the results do not depend on the thread count. The row
// kernels exist in two instruction-set variants, baseline x86-64 (SSE2) and AVX2 (without FMA),
// chosen at run time; they perform the same operations in the same order, so their results are
// identical too. Sums over a row use 8 fixed lanes (column mod 8), whatever the vector width.
#include "ssim_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

// Sanitizer builds (tests): poisoned gaps between the scratch buffers of a worker.
#if defined(__SANITIZE_ADDRESS__)
#define SSIM_CPU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SSIM_CPU_ASAN 1
#endif
#endif
#ifndef SSIM_CPU_ASAN
#define SSIM_CPU_ASAN 0
#endif
#if SSIM_CPU_ASAN
#include <sanitizer/asan_interface.h>
#endif

#include "common/ssim_math.h"
#include "host_scratch.h"
#include "parallel_for.h"

#if defined(__GNUC__) || defined(__clang__)
#define SSIM_ALWAYS_INLINE inline __attribute__((always_inline))
#define SSIM_RESTRICT __restrict__
#else
#define SSIM_ALWAYS_INLINE __forceinline
#define SSIM_RESTRICT __restrict
#endif

#if defined(__clang__)
#define SSIM_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define SSIM_IVDEP _Pragma("GCC ivdep")
#elif defined(_MSC_VER)
#define SSIM_IVDEP __pragma(loop(ivdep))
#else
#define SSIM_IVDEP
#endif

#ifndef SSIM_CPU_PREFETCH
#define SSIM_CPU_PREFETCH 1
#endif

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define SSIM_CPU_AVX2_VARIANT 1
#else
#define SSIM_CPU_AVX2_VARIANT 0
#endif

namespace cudassim {

namespace detail {
// For tests: 1 forces the baseline variant even where AVX2 is available. Not part of the API.
std::atomic<int> gCpuForceBaseline{0};
void cpuForceBaseline(bool on) { gCpuForceBaseline.store(on ? 1 : 0); }
const char* cpuVariantName();
}  // namespace detail

namespace {

constexpr int kChunk = 128;   // columns per vertical-pass chunk (multiple of 8)
constexpr int kBlock = 4;     // output rows per vertical pass: their 2R+4 input rows are read once
constexpr int kMom = 4;       // filtered moments: E[x], E[y], E[x^2 + y^2], E[xy]
constexpr std::size_t kMinWorkPerThread = 1u << 15;  // pixel-rows below which a thread is not worth spawning
constexpr int kTileCols = 8192;  // output columns per item: a worker's buffers are O(tile), not O(width)

// Row stride (floats) for n columns: whole cache lines, an odd number of them, so that the
// 2R+kBlock rows a vertical pass reads never share cache sets (strides of 4 KiB would).
inline std::size_t rowStride(std::size_t n) {
  std::size_t lines = (n + 15) / 16;
  if (lines % 2 == 0) ++lines;
  return lines * 16;
}

struct Plan {
  const SsimJob* job;
  int B, C, H, W, R;
  MapRegion mr;
  int nx;                       // map columns
  int G;                        // channels an item processes together (see Item)
  int TW, nTiles;               // column tiles: output columns per tile (map columns for values,
                                //   image columns with the gradient) and their number
  std::size_t nxS, WS, padW, partS;  // row strides: a tile's map columns, its gradient columns,
                                     //   its padded input columns, its padded partial columns
  float w[kMaxRadius + 1];
  float c1, c2, inScale;
  bool fastRcp;                 // fastReciprocalInRange(c1, c2)
  bool wantValue, wantGrad;
  float gradScale;
  double* rowSums;              // [(plane * H + row) * nTiles + tile], map rows only
};

// Rows [r0, r1) of channels [c0, c0 + nc) of image b (grad: grad rows; value only: map rows).
// Interleaved (hwc) channels are processed together, row by row, so that each input row is
// read from memory once rather than once per channel.
struct Item {
  int b, c0, nc;
  int r0, r1;
  int t;  // column tile
};

#if SSIM_CPU_ASAN
constexpr std::size_t kRedZone = 16;  // floats
#endif

// Per-worker buffers, carved out of one zeroed block (HostScratch: reused across calls). Padding columns, and the
// columns of the alpha/beta/gamma rows outside the map, are never written: they stay zero.
struct Scratch {
  HostScratch storage;
  std::size_t storageFloats = 0;
  float *xp, *yp, *ssp, *xyp;        // padW each, pixel j at [j + R]
  float* ring1;                      // G * (2R+kBlock) * kMom rows of nxS: horizontally filtered input rows
  float* pad1;                       // G * kMom rows of nxS: the same for a row outside the image
  float* mom;                        // kBlock * kMom * kChunk: the four moments of a block of rows
  float* sbuf;                       // kChunk: SSIM values
  float* zero;                       // max(nxS, WS) zeros: rows outside the image / the map
  float* part;                       // kBlock * 3 rows of partS: alpha/beta/gamma (gradient)
  float* ring2;                      // G * (2R+kBlock) * 3 rows of WS: their horizontal blur (gradient)
  float* gv;                         // kBlock * 3 * kChunk: vertical blur (gradient)
  float* gtmp;                       // kChunk (gradient)
  float *xg, *yg;                    // kBlock rows of W: inputs of the gradient rows (gradient)

#if SSIM_CPU_ASAN
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (storageFloats != 0) ASAN_UNPOISON_MEMORY_REGION(storage.as<float>(), storageFloats * sizeof(float));
  }
#endif

  void init(const Plan& p) {
    const std::size_t W = p.WS, G = std::size_t(p.G), slots = std::size_t(2 * p.R + kBlock);
    std::size_t total = kMom * p.padW + G * (slots + 1) * kMom * p.nxS + kBlock * kMom * kChunk + kChunk + std::max(p.nxS, p.WS);
    if (p.wantGrad) total += kBlock * 3 * p.partS + G * slots * 3 * p.WS + kBlock * 3 * kChunk + kChunk + 2 * kBlock * W;
#if SSIM_CPU_ASAN
    total += 16 * kRedZone;
#endif
    storageFloats = total + 16;
    storage.acquire(storageFloats * sizeof(float));
    std::memset(storage.as<float>(), 0, storageFloats * sizeof(float));
    float* q = storage.as<float>();
    q += (16 - (reinterpret_cast<std::uintptr_t>(q) / sizeof(float)) % 16) % 16;  // 64-byte aligned rows
    auto take = [&q](std::size_t n) {
      float* r = q;
      q += n;
#if SSIM_CPU_ASAN  // sanitizer builds: a poisoned gap after each buffer catches overruns between them
      ASAN_POISON_MEMORY_REGION(q, kRedZone * sizeof(float));
      q += kRedZone;
#endif
      return r;
    };
    xp = take(p.padW); yp = take(p.padW); ssp = take(p.padW); xyp = take(p.padW);
    ring1 = take(G * slots * kMom * p.nxS);
    pad1 = take(G * kMom * p.nxS);
    mom = take(kBlock * kMom * kChunk);
    sbuf = take(kChunk);
    zero = take(std::max(p.nxS, p.WS));
    if (p.wantGrad) {
      part = take(kBlock * 3 * p.partS);
      ring2 = take(G * slots * 3 * p.WS);
      gv = take(kBlock * 3 * kChunk);
      gtmp = take(kChunk);
      xg = take(kBlock * W); yg = take(kBlock * W);
    } else {
      part = ring2 = gv = gtmp = xg = yg = nullptr;
      (void)W;
    }
  }
};

// ---------------------------------------------------------------------------------------------

// dst[i] = intensity of src[i * stride] minus the plane's shift (ssim_math.h, Shift).
template <int Stride, typename T>
SSIM_ALWAYS_INLINE void convertRowStrided(const T* SSIM_RESTRICT src, int n, float scale, float shift,
                                          float* SSIM_RESTRICT dst) {
  for (int i = 0; i < n; ++i) dst[i] = toIntensity(src[std::ptrdiff_t(i) * Stride], scale) - shift;
}

// dst[i] = float(src[i * stride]) * scale. Strides up to 4 (interleaved RGB/RGBA) are compile-time
// constants so that the de-interleaving loads vectorise too.
template <typename T>
SSIM_ALWAYS_INLINE void convertRow(const T* SSIM_RESTRICT src, std::ptrdiff_t stride, int n, float scale,
                                   float shift, float* SSIM_RESTRICT dst) {
  switch (stride) {
    case 1: convertRowStrided<1>(src, n, scale, shift, dst); break;
    case 2: convertRowStrided<2>(src, n, scale, shift, dst); break;
    case 3: convertRowStrided<3>(src, n, scale, shift, dst); break;
    case 4: convertRowStrided<4>(src, n, scale, shift, dst); break;
    default:
      for (int i = 0; i < n; ++i) dst[i] = toIntensity(src[std::ptrdiff_t(i) * stride], scale) - shift;
      break;
  }
}

// Conversion is bound by memory, not arithmetic: one baseline copy serves both variants.
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
// Columns [col0, col0 + n) of the row at element offset off, shifted; columns outside the image
// are zero padding, i.e. -shift.
void loadRow(const Plan& p, const void* base, std::size_t off, int col0, int n, float shift, float* dst) {
  const std::ptrdiff_t st = p.job->shape.pixStride();
  const int lo = std::min(std::max(0, -col0), n);
  const int hi = std::max(lo, std::min(n, p.W - col0));
  for (int i = 0; i < lo; ++i) dst[i] = -shift;
  for (int i = hi; i < n; ++i) dst[i] = -shift;
  if (hi <= lo) return;
  withElementType(p.job->dtype, [&](auto e) {
    using T = typename decltype(e)::type;
    convertRow(static_cast<const T*>(base) + off + std::size_t(col0 + lo) * std::size_t(st), st, hi - lo, p.inScale,
               shift, dst + lo);
  });
}

// The shift of plane (b, c): planeReference of its sample pixels.
Shift planeShift(const Plan& p, int b, int c) {
  const float k = shiftWeight(p.H, p.W, p.job->params.radius, p.job->params.valid);
  if (k == 0.0f) return Shift{0.0f, 0.0f};
  return withElementType(p.job->dtype, [&](auto e) {
    using T = typename decltype(e)::type;
    const ImageShape& s = p.job->shape;
    const std::size_t plane = s.offset(b, c, 0, 0);
    return planeShiftOf(static_cast<const T*>(p.job->x) + plane, static_cast<const T*>(p.job->y) + plane, p.H, p.W,
                        s.rowStride(), s.pixStride(), k, p.inScale);
  });
}

// Row kernels. The *Impl functions are always_inline and are instantiated once per
// instruction-set variant by SSIM_DEFINE_KERNELS below: small self-contained functions keep the
// compiler's register allocation and vectorisation of each loop clean.

// out[i] = w0 p[i+R] + sum_k wk (p[i+R-k] + p[i+R+k]),  i in [0, n)
template <int R>
SSIM_ALWAYS_INLINE void hfilterImpl(const float* SSIM_RESTRICT in, float* SSIM_RESTRICT out, int n, const float* w) {
  float wl[R + 1];
  for (int k = 0; k <= R; ++k) wl[k] = w[k];
  SSIM_IVDEP
  for (int i = 0; i < n; ++i) {
    const float* c = in + i + R;
    float acc = wl[0] * c[0];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
    for (int k = 1; k <= R; ++k) acc += wl[k] * (c[-k] + c[k]);
    out[i] = acc;
  }
}

// For j in [0, nb): out[j*outStride + i] = w0 rp[j+R][off+i] + sum_k wk (rp[j+R-k][off+i] + rp[j+R+k][off+i])
// (nb output rows from 2R+nb input rows; the input pieces stay in L1 across the nb rows).
template <int R>
SSIM_ALWAYS_INLINE void vfilterImpl(const float* const* rp, std::ptrdiff_t off, float* out, std::ptrdiff_t outStride,
                                    int nb, int n, const float* w) {
  float wl[R + 1];
  for (int k = 0; k <= R; ++k) wl[k] = w[k];
  for (int j = 0; j < nb; ++j) {
    const float* r[2 * R + 1];
    for (int k = 0; k <= 2 * R; ++k) r[k] = rp[j + k] + off;
    float* SSIM_RESTRICT o = out + j * outStride;
    SSIM_IVDEP
    for (int i = 0; i < n; ++i) {
      float acc = wl[0] * r[R][i];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
      for (int k = 1; k <= R; ++k) acc += wl[k] * (r[R - k][i] + r[R + k][i]);
      o[i] = acc;
    }
  }
}

// ss = x^2 + y^2 (two rounded products, then a rounded sum, as on the GPU: with x == y it is
// exactly 2 xy, which keeps ssim(x, x) at 1), xy = x y.
SSIM_ALWAYS_INLINE void productsImpl(const float* SSIM_RESTRICT x, const float* SSIM_RESTRICT y, float* SSIM_RESTRICT ss,
                                     float* SSIM_RESTRICT xy, int n) {
  for (int i = 0; i < n; ++i) {
    ss[i] = x[i] * x[i] + y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
}

// Adds s[0..n) to 8 lane accumulators (lane = column mod 8, chunks start at multiples of 8):
// a fixed association whatever the vector width.
SSIM_ALWAYS_INLINE void accumulateImpl(const float* SSIM_RESTRICT s, int n, double* SSIM_RESTRICT acc) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += double(s[i + l]);
  }
  for (; i < n; ++i) acc[i & 7] += double(s[i]);
}

// m points at 4 moment rows (Moments4 order), mStride apart. SSIM of n pixels into sb.
template <Reciprocal M>
SSIM_ALWAYS_INLINE void ssimValueImpl(const float* m, std::ptrdiff_t mStride, float* SSIM_RESTRICT sb, int n,
                                      Shift sh, float c1, float c2) {
  const float* SSIM_RESTRICT m0 = m;
  const float* SSIM_RESTRICT m1 = m + mStride;
  const float* SSIM_RESTRICT m2 = m + 2 * mStride;
  const float* SSIM_RESTRICT m3 = m + 3 * mStride;
  for (int i = 0; i < n; ++i) {
    const Moments4 mm{m0[i], m1[i], m2[i], m3[i]};
    sb[i] = pixelSsimValue<M>(mm, sh, c1, c2);
  }
}

template <Reciprocal M>
SSIM_ALWAYS_INLINE void ssimPartialsImpl(const float* m, std::ptrdiff_t mStride, float* SSIM_RESTRICT sb,
                                         float* SSIM_RESTRICT al, float* SSIM_RESTRICT be, float* SSIM_RESTRICT ga,
                                         int n, Shift sh, float c1, float c2) {
  const float* SSIM_RESTRICT m0 = m;
  const float* SSIM_RESTRICT m1 = m + mStride;
  const float* SSIM_RESTRICT m2 = m + 2 * mStride;
  const float* SSIM_RESTRICT m3 = m + 3 * mStride;
  for (int i = 0; i < n; ++i) {
    const Moments4 mm{m0[i], m1[i], m2[i], m3[i]};
    const PixelSsim ps = pixelSsimWithPartials<M>(mm, sh, c1, c2);
    sb[i] = ps.s;
    al[i] = ps.alpha;
    be[i] = ps.beta;
    ga[i] = ps.gamma;
  }
}

// g points at 3 blurred partial rows, gStride apart.
SSIM_ALWAYS_INLINE void gradientImpl(const float* g, std::ptrdiff_t gStride, const float* SSIM_RESTRICT xv,
                                     const float* SSIM_RESTRICT yv, float* SSIM_RESTRICT dst, int n, float scale) {
  const float* SSIM_RESTRICT g0 = g;
  const float* SSIM_RESTRICT g1 = g + gStride;
  const float* SSIM_RESTRICT g2 = g + 2 * gStride;
  for (int i = 0; i < n; ++i) dst[i] = pixelGradient(g0[i], g1[i], g2[i], xv[i], yv[i], scale);
}

#if defined(__GNUC__) || defined(__clang__)
#define SSIM_NOINLINE __attribute__((noinline))
#else
#define SSIM_NOINLINE __declspec(noinline)
#endif

#define SSIM_DEFINE_KERNELS(NAME)                                                                              \
  struct NAME {                                                                                                \
    template <int R>                                                                                           \
    static SSIM_NOINLINE void hfilter(const float* in, float* out, int n, const float* w) {                    \
      hfilterImpl<R>(in, out, n, w);                                                                           \
    }                                                                                                          \
    template <int R>                                                                                           \
    static SSIM_NOINLINE void vfilter(const float* const* rp, std::ptrdiff_t off, float* out,                   \
                                      std::ptrdiff_t outStride, int nb, int n, const float* w) {               \
      vfilterImpl<R>(rp, off, out, outStride, nb, n, w);                                                       \
    }                                                                                                          \
    static SSIM_NOINLINE void products(const float* x, const float* y, float* ss, float* xy, int n) {           \
      productsImpl(x, y, ss, xy, n);                                                                           \
    }                                                                                                          \
    template <Reciprocal M>                                                                                    \
    static SSIM_NOINLINE void ssimValue(const float* m, std::ptrdiff_t ms, float* sb, int n, Shift sh, float c1, \
                                        float c2) {                                                            \
      ssimValueImpl<M>(m, ms, sb, n, sh, c1, c2);                                                              \
    }                                                                                                          \
    template <Reciprocal M>                                                                                    \
    static SSIM_NOINLINE void ssimPartials(const float* m, std::ptrdiff_t ms, float* sb, float* al, float* be,  \
                                           float* ga, int n, Shift sh, float c1, float c2) {                   \
      ssimPartialsImpl<M>(m, ms, sb, al, be, ga, n, sh, c1, c2);                                               \
    }                                                                                                          \
    static SSIM_NOINLINE void gradient(const float* g, std::ptrdiff_t gs, const float* xv, const float* yv,      \
                                       float* dst, int n, float scale) {                                       \
      gradientImpl(g, gs, xv, yv, dst, n, scale);                                                              \
    }                                                                                                          \
  };

SSIM_DEFINE_KERNELS(KernelsBaseline)

#if SSIM_CPU_AVX2_VARIANT
// AVX2 without FMA: the same operations as the baseline, 8 lanes wide, so the same results.
// (A target pragma rather than an attribute: GCC refuses to inline the header's functions into
// an attribute-targeted function when the optimize pragma above is in force.)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
SSIM_DEFINE_KERNELS(KernelsAvx2)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

SSIM_ALWAYS_INLINE double combine(const double* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// One item: streams rows through
//   hrow:   input row (every channel of the item) -> horizontal filter of x, y, x^2 + y^2, xy -> ring1
//   ablock: up to kBlock map rows: vertical filter -> SSIM (row sums) [-> alpha/beta/gamma rows
//           -> horizontal blur -> ring2]
//   gblock: up to kBlock grad rows: vertical blur of ring2 rows -> pixelGradient -> grad
template <int R, typename K>
struct Band {
  static constexpr int kSlots = 2 * R + kBlock;
  static constexpr int kSpan = 2 * R + kBlock;  // input rows of a block of output rows
  const Plan& p;
  Scratch& s;
  const int b, c0, nc;
  // The item's columns: map columns [m0, m1) (n of them); gradient columns [g0c, g1c); the map
  // columns whose sums it stores [s0, s1) (its own tile's, not the halo it recomputes).
  int m0, m1, n, g0c, g1c, s0, s1;
  const int tile;
  Shift sh[4];  // per channel of the item

  SSIM_ALWAYS_INLINE Band(const Plan& plan, Scratch& scratch, const Item& it)
      : p(plan), s(scratch), b(it.b), c0(it.c0), nc(it.nc), tile(it.t) {
    if (p.wantGrad) {
      g0c = it.t * p.TW;
      g1c = std::min(p.W, g0c + p.TW);
      m0 = std::max(g0c - R, p.mr.x0);
      m1 = std::min(g1c + R, p.mr.x1);
      s0 = std::max(g0c, p.mr.x0);
      s1 = std::min(g1c, p.mr.x1);
    } else {
      g0c = g1c = 0;
      m0 = s0 = p.mr.x0 + it.t * p.TW;
      m1 = s1 = std::min(p.mr.x1, m0 + p.TW);
    }
    m1 = std::max(m1, m0);
    s1 = std::max(s1, s0);
    n = m1 - m0;
    for (int ci = 0; ci < nc; ++ci) sh[ci] = planeShift(p, b, c0 + ci);
    // Rows outside the image: every column is padding (-shift).
    for (int ci = 0; ci < nc; ++ci) filterRow(ci, -1);
    if (p.wantGrad) {
      // Partial columns outside this item's map columns are zero (another item may have
      // written them).
      const int lo = m0 - (g0c - R), hi = m1 - (g0c - R), w = (g1c - g0c) + 2 * R;
      for (int j = 0; j < kBlock; ++j)
        for (int q = 0; q < 3; ++q) {
          float* r = partRow(j, q);
          std::fill(r, r + std::max(0, std::min(lo, w)), 0.0f);
          if (hi < w) std::fill(r + std::max(hi, 0), r + w, 0.0f);
        }
    }
  }

  // Software prefetch of the input rows of the next block, spread over the compute of the
  // current one: rows are read in bursts, which the hardware prefetchers do not cover well.
  // (Value path only: measured 5-15% faster there; no gain with the gradient.)
  const char* pfNext[2] = {nullptr, nullptr};  // x, y: next byte to prefetch
  const char* pfEnd[2] = {nullptr, nullptr};
  std::size_t pfStep = 0;                      // bytes per step

  // Rows [y, y + kBlock) of the item's channels (contiguous in memory for both layouts).
  SSIM_ALWAYS_INLINE void prefetchArm(int y, int stepsPerBlock) {
    const int y1 = std::min(y + kBlock, p.H);
    if (y >= y1 || p.nTiles > 1) {  // (tiles: whole rows would be prefetched)
      pfNext[0] = pfEnd[0];
      pfNext[1] = pfEnd[1];
      return;
    }
    const std::size_t eb = dtypeBytes(p.job->dtype);
    const std::size_t first = rowOff(0, y) * eb;
    const std::size_t last = (rowOff(nc - 1, y1 - 1) + std::size_t(p.W - 1) * std::size_t(p.job->shape.pixStride())) * eb;
    const std::size_t bytes = last - first + eb;
    pfNext[0] = static_cast<const char*>(p.job->x) + first;
    pfNext[1] = static_cast<const char*>(p.job->y) + first;
    pfEnd[0] = pfNext[0] + bytes;
    pfEnd[1] = pfNext[1] + bytes;
    pfStep = (bytes + std::size_t(stepsPerBlock) - 1) / std::size_t(stepsPerBlock);
  }

  SSIM_ALWAYS_INLINE void prefetchStep() {
#if (defined(__GNUC__) || defined(__clang__)) && SSIM_CPU_PREFETCH
    for (int k = 0; k < 2; ++k) {
      const char* e = pfNext[k] + std::min<std::size_t>(pfStep, std::size_t(pfEnd[k] - pfNext[k]));
      for (const char* q = pfNext[k]; q < e; q += 64) __builtin_prefetch(q, 0, 2);
      pfNext[k] = e;
    }
#endif
  }

  // Element offset of (b, c0 + ci, yy, 0).
  SSIM_ALWAYS_INLINE std::size_t rowOff(int ci, int yy) const { return p.job->shape.offset(b, c0 + ci, yy, 0); }

  SSIM_ALWAYS_INLINE float* ring1Row(int ci, int yy, int m) const {
    return s.ring1 + ((std::size_t(ci) * kSlots + std::size_t(yy % kSlots)) * kMom + std::size_t(m)) * p.nxS;
  }
  SSIM_ALWAYS_INLINE float* pad1Row(int ci, int m) const {
    return s.pad1 + (std::size_t(ci) * kMom + std::size_t(m)) * p.nxS;
  }
  SSIM_ALWAYS_INLINE float* ring2Row(int ci, int a, int q) const {
    return s.ring2 + ((std::size_t(ci) * kSlots + std::size_t(a % kSlots)) * 3 + std::size_t(q)) * p.WS;
  }
  SSIM_ALWAYS_INLINE float* partRow(int j, int q) const {
    return s.part + (std::size_t(j) * 3 + std::size_t(q)) * p.partS;
  }

  // Horizontal pass of one shifted input row of channel ci (input columns m0 - R .. m1 + R - 1)
  // over the item's map columns, into ring1 (yy >= 0: row yy of the image) or pad1 (yy < 0: a
  // row outside the image).
  SSIM_ALWAYS_INLINE void filterRow(int ci, int yy) {
    const int len = n + 2 * R;
    if (yy >= 0) {
      const std::size_t off = rowOff(ci, yy);
      loadRow(p, p.job->x, off, m0 - R, len, sh[ci].x, s.xp);
      loadRow(p, p.job->y, off, m0 - R, len, sh[ci].y, s.yp);
    } else {
      std::fill(s.xp, s.xp + len, -sh[ci].x);
      std::fill(s.yp, s.yp + len, -sh[ci].y);
    }
    K::products(s.xp, s.yp, s.ssp, s.xyp, len);
    float* const dst[kMom] = {yy >= 0 ? ring1Row(ci, yy, 0) : pad1Row(ci, 0), yy >= 0 ? ring1Row(ci, yy, 1) : pad1Row(ci, 1),
                              yy >= 0 ? ring1Row(ci, yy, 2) : pad1Row(ci, 2), yy >= 0 ? ring1Row(ci, yy, 3) : pad1Row(ci, 3)};
    K::template hfilter<R>(s.xp, dst[0], n, p.w);
    K::template hfilter<R>(s.yp, dst[1], n, p.w);
    K::template hfilter<R>(s.ssp, dst[2], n, p.w);
    K::template hfilter<R>(s.xyp, dst[3], n, p.w);
  }

  // Horizontal pass of input row yy of every channel of the item.
  SSIM_ALWAYS_INLINE void hrow(int yy) {
    for (int ci = 0; ci < nc; ++ci) filterRow(ci, yy);
  }

  // Map rows [a, a+nb) of channel ci (their input rows a-R .. a+nb-1+R are in ring1). Rows in
  // [sumLo, sumHi) store their map sums. Grad: their alpha/beta/gamma rows, blurred
  // horizontally, go to ring2.
  template <bool Grad>
  SSIM_ALWAYS_INLINE void ablock(int ci, int a, int nb, int sumLo, int sumHi) {
    const int H = p.H;
    const float* rp[kMom][kSpan];
    for (int t = 0; t < kSpan; ++t) {
      const int yy = a - R + t;
      for (int m = 0; m < kMom; ++m) rp[m][t] = (yy >= 0 && yy < H) ? ring1Row(ci, yy, m) : pad1Row(ci, m);
    }
    double acc[kBlock][8] = {};
    const float c1 = p.c1, c2 = p.c2;
    // One division per pixel (q = 1/4: the same value bit for bit) where B1 B2 cannot leave
    // the normal range, two otherwise (ssim_math.h, Reciprocal).
    const float c2q = termScale<Reciprocal::Ftz>() * c2;
    const Shift shc = sh[ci];
    for (int x0 = 0; x0 < n; x0 += kChunk) {
      prefetchStep();
      const int cn = std::min(kChunk, n - x0);
      // Moment by moment, so that the 2R+nb input row pieces of a moment stay in L1 while the
      // nb output rows are filtered from them. Moment m of row j at mom + (m*kBlock + j)*kChunk.
      for (int m = 0; m < kMom; ++m) K::template vfilter<R>(rp[m], x0, s.mom + m * kBlock * kChunk, kChunk, nb, cn, p.w);
      // The chunk's columns whose sums this item stores: [lo, hi).
      const int lo = std::min(std::max(s0 - (m0 + x0), 0), cn);
      const int hi = std::max(lo, std::min(s1 - (m0 + x0), cn));
      for (int j = 0; j < nb; ++j) {
        const bool sum = a + j >= sumLo && a + j < sumHi && hi > lo;
        if (Grad) {
          const std::ptrdiff_t pc = (m0 + x0) - (g0c - R);
          float* const al = partRow(j, 0) + pc;
          float* const be = partRow(j, 1) + pc;
          float* const ga = partRow(j, 2) + pc;
          if (p.fastRcp)
            K::template ssimPartials<Reciprocal::Ftz>(s.mom + j * kChunk, kBlock * kChunk, s.sbuf, al, be, ga, cn, shc, c1, c2q);
          else
            K::template ssimPartials<Reciprocal::Exact>(s.mom + j * kChunk, kBlock * kChunk, s.sbuf, al, be, ga, cn, shc, c1, c2);
        } else if (p.fastRcp) {
          K::template ssimValue<Reciprocal::Ftz>(s.mom + j * kChunk, kBlock * kChunk, s.sbuf, cn, shc, c1, c2q);
        } else {
          K::template ssimValue<Reciprocal::Exact>(s.mom + j * kChunk, kBlock * kChunk, s.sbuf, cn, shc, c1, c2);
        }
        if (sum) accumulateImpl(s.sbuf + lo, hi - lo, acc[j]);
      }
    }
    const std::size_t plane = std::size_t(b) * std::size_t(p.C) + std::size_t(c0 + ci);
    for (int j = 0; j < nb; ++j) {
      if (a + j >= sumLo && a + j < sumHi)
        p.rowSums[(plane * std::size_t(H) + std::size_t(a + j)) * std::size_t(p.nTiles) + std::size_t(tile)] = combine(acc[j]);
      if (Grad) {
        const int gw = g1c - g0c;
        K::template hfilter<R>(partRow(j, 0), ring2Row(ci, a + j, 0), gw, p.w);
        K::template hfilter<R>(partRow(j, 1), ring2Row(ci, a + j, 1), gw, p.w);
        K::template hfilter<R>(partRow(j, 2), ring2Row(ci, a + j, 2), gw, p.w);
      }
    }
  }

  // Grad rows [g, g+nb) of channel ci: vertical blur of alpha/beta/gamma (rows g-R .. g+nb-1+R
  // of the map are in ring2; others are zero) and the gradient.
  SSIM_ALWAYS_INLINE void gblock(int ci, int g, int nb) {
    const int W = g1c - g0c;  // this item's gradient columns
    const std::size_t WS = p.WS;
    const float* rp[3][kSpan];
    for (int t = 0; t < kSpan; ++t) {
      const int a = g - R + t;
      const bool in = a >= p.mr.y0 && a < p.mr.y1;
      for (int q = 0; q < 3; ++q) rp[q][t] = in ? ring2Row(ci, a, q) : s.zero;
    }
    for (int j = 0; j < nb; ++j) {
      const std::size_t off = rowOff(ci, g + j);
      loadRow(p, p.job->x, off, g0c, W, sh[ci].x, s.xg + std::size_t(j) * WS);
      loadRow(p, p.job->y, off, g0c, W, sh[ci].y, s.yg + std::size_t(j) * WS);
    }
    const std::ptrdiff_t st = p.job->shape.pixStride();
    const float scale = p.gradScale;
    for (int x0 = 0; x0 < W; x0 += kChunk) {
      const int cn = std::min(kChunk, W - x0);
      // Partial q of row j at gv + (q*kBlock + j)*kChunk.
      for (int q = 0; q < 3; ++q) K::template vfilter<R>(rp[q], x0, s.gv + q * kBlock * kChunk, kChunk, nb, cn, p.w);
      for (int j = 0; j < nb; ++j) {
        const float* xv = s.xg + std::size_t(j) * WS + x0;
        const float* yv = s.yg + std::size_t(j) * WS + x0;
        float* const gradRow = p.job->grad + rowOff(ci, g + j) + std::ptrdiff_t(g0c) * st;
        if (st == 1) {
          K::gradient(s.gv + j * kChunk, kBlock * kChunk, xv, yv, gradRow + x0, cn, scale);
        } else {
          K::gradient(s.gv + j * kChunk, kBlock * kChunk, xv, yv, s.gtmp, cn, scale);
          float* dst = gradRow + std::ptrdiff_t(x0) * st;
          for (int i = 0; i < cn; ++i) dst[std::ptrdiff_t(i) * st] = s.gtmp[i];
        }
      }
    }
  }

  // Value only: map rows [a0, a1).
  SSIM_ALWAYS_INLINE void runValue(int a0, int a1) {
    int hNext = std::max(a0 - R, 0);
    for (int a = a0; a < a1; a += kBlock) {
      const int nb = std::min(kBlock, a1 - a);
      const int hNeed = std::min(a + nb + R, p.H);
      while (hNext < hNeed) hrow(hNext++);
      if (a + nb < a1) prefetchArm(hNext, nc * ((n + kChunk - 1) / kChunk));
      for (int ci = 0; ci < nc; ++ci) ablock<false>(ci, a, nb, a0, a1);
    }
  }

  // Gradient (and value if wanted): grad rows [g0, g1); map rows from g0-R to g1+R are
  // computed here (the halo is recomputed by the neighbouring bands, bit for bit the same).
  SSIM_ALWAYS_INLINE void runGrad(int g0, int g1) {
    const int aLo = std::max(g0 - R, p.mr.y0);
    const int aHi = std::min(g1 + R, p.mr.y1);
    const int sumLo = p.wantValue ? g0 : 0, sumHi = p.wantValue ? g1 : 0;
    int hNext = std::max(aLo - R, 0);
    int aNext = aLo;
    for (int g = g0; g < g1; g += kBlock) {
      const int gnb = std::min(kBlock, g1 - g);
      const int aNeed = std::min(g + gnb + R, aHi);
      while (aNext < aNeed) {
        const int nb = std::min(kBlock, aNeed - aNext);
        const int hNeed = std::min(aNext + nb + R, p.H);
        while (hNext < hNeed) hrow(hNext++);
        for (int ci = 0; ci < nc; ++ci) ablock<true>(ci, aNext, nb, sumLo, sumHi);
        aNext += nb;
      }
      for (int ci = 0; ci < nc; ++ci) gblock(ci, g, gnb);
    }
  }
};

template <int R, typename K>
void runItemImpl(const Plan& p, Scratch& s, const Item& it) {
  Band<R, K> band(p, s, it);
  if (p.wantGrad) {
    band.runGrad(it.r0, it.r1);
  } else {
    band.runValue(it.r0, it.r1);
  }
}

// p.R is the radius the code runs with: the window's own (3, 4, 5 for windows 7, 9, 11), or 3
// with zero taps beyond the window's radius for smaller windows (not offered by the API; a zero
// tap adds an exact zero, so the results are those of the smaller window).
template <typename K>
void runItem(const Plan& p, Scratch& s, const Item& it) {
  switch (p.R) {
    case 3: runItemImpl<3, K>(p, s, it); break;
    case 4: runItemImpl<4, K>(p, s, it); break;
    default: runItemImpl<5, K>(p, s, it); break;
  }
}

using RunFn = void (*)(const Plan&, Scratch&, const Item&);

#if SSIM_CPU_AVX2_VARIANT
bool haveAvx2() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return have;
}
#endif

RunFn pickVariant() {
#if SSIM_CPU_AVX2_VARIANT
  if (!detail::gCpuForceBaseline.load() && haveAvx2()) return runItem<KernelsAvx2>;
#endif
  return runItem<KernelsBaseline>;
}

}  // namespace

const char* detail::cpuVariantName() { return pickVariant() == runItem<KernelsBaseline> ? "baseline" : "avx2"; }

namespace {

// perPlane: job.out gets batch * channels values, plane (b, c) at b * channels + c, each the
// mean of its own map (valueOffset + valueScale * mean), and the gradient is that of each
// plane's mean (no division by the channel count): MS-SSIM's scale 0 (msssim_cpu.cpp).
void computeSsimCpuImpl(const SsimJob& job, int threads, bool perPlane) {
  const ImageShape& sh = job.shape;
  const SsimParams& pr = job.params;
  if (sh.batch <= 0 || sh.channels <= 0 || sh.height <= 0 || sh.width <= 0)
    throw std::invalid_argument("computeSsimCpu: non-positive dimension");
  if (pr.radius < 0 || pr.radius > kMaxRadius) throw std::invalid_argument("computeSsimCpu: radius out of range");
  if (!job.x || !job.y) throw std::invalid_argument("computeSsimCpu: null input");
  if (!job.out && !job.grad) return;

  Plan p;
  p.job = &job;
  p.B = sh.batch;
  p.C = sh.channels;
  p.H = sh.height;
  p.W = sh.width;
  p.R = std::max(pr.radius, 3);
  p.mr = mapRegion(sh, pr);
  p.nx = std::max(p.mr.x1 - p.mr.x0, 0);
  p.wantValue = job.out != nullptr;
  p.wantGrad = job.grad != nullptr;
  {  // column tiles: at most kTileCols output columns per item (one tile up to 8K images)
    const int cols = p.wantGrad ? p.W : p.nx;
    p.nTiles = std::max(1, (cols + kTileCols - 1) / kTileCols);
    p.TW = std::max(1, (cols + p.nTiles - 1) / p.nTiles);
    const int mapCols = std::min(p.nx, p.wantGrad ? p.TW + 2 * p.R : p.TW);
    const int gradCols = p.wantGrad ? p.TW : 0;
    p.nxS = rowStride(std::size_t(mapCols));
    p.WS = rowStride(std::size_t(gradCols));
    p.padW = rowStride(std::size_t(mapCols) + 2 * std::size_t(p.R));
    p.partS = rowStride(std::size_t(gradCols) + 2 * std::size_t(p.R));
  }
  for (int k = 0; k <= kMaxRadius; ++k) p.w[k] = k <= pr.radius ? pr.taps[k] : 0.0f;
  p.c1 = pr.c1;
  p.c2 = pr.c2;
  p.inScale = pr.inputScale;
  p.fastRcp = fastReciprocalInRange(p.c1, p.c2);
  const bool emptyMap = p.mr.y1 <= p.mr.y0 || p.mr.x1 <= p.mr.x0;
  const double mapCount = emptyMap ? 0.0 : double(p.mr.count());
  const double denom = (perPlane ? 1.0 : double(p.C)) * mapCount;
  p.gradScale = emptyMap ? 0.0f : float(double(pr.valueScale) * double(pr.gradFactor) / denom);
  p.rowSums = nullptr;

  if (emptyMap) {  // no map pixel ('valid' on an image smaller than the window): lib rejects this
    if (job.out)
      for (int b = 0; b < (perPlane ? p.B * p.C : p.B); ++b) job.out[b] = std::numeric_limits<float>::quiet_NaN();
    if (job.grad) std::fill(job.grad, job.grad + sh.elems(), 0.0f);
    return;
  }

  HostScratch rowSumsBlock;
  if (p.wantValue) {  // slots of rows outside the map are never written nor read
    rowSumsBlock.acquire(std::size_t(p.B) * std::size_t(p.C) * std::size_t(p.H) * std::size_t(p.nTiles) * sizeof(double));
    p.rowSums = rowSumsBlock.as<double>();
  }

  // Items: bands of rows of each image and channel group, large enough that the recomputed halo
  // (R rows per side for values, 2R with the gradient) stays small, small enough to balance the
  // workers.
  const int hw = threads > 0 ? threads : hardwareThreads();
  p.G = sh.chw ? 1 : std::min(p.C, 4);
  {  // very wide images: fewer channels at once, to keep the rings of a worker within ~64 MiB
    const std::size_t slots = std::size_t(2 * p.R + kBlock);
    const std::size_t perChannel =
        sizeof(float) * slots * (kMom * p.nxS + (p.wantGrad ? 3 * p.WS : 0));
    while (p.G > 1 && std::size_t(p.G) * perChannel > (std::size_t(64) << 20)) --p.G;
  }
  const int groups = (p.C + p.G - 1) / p.G;        // channel groups per image
  const int units = p.B * groups * p.nTiles;       // items before splitting rows into bands
  const int rowLo = p.wantGrad ? 0 : p.mr.y0;
  const int rowHi = p.wantGrad ? p.H : p.mr.y1;
  const int rowsPerPlane = rowHi - rowLo;
  const std::size_t work = std::size_t(p.B) * std::size_t(p.C) * std::size_t(rowsPerPlane) * std::size_t(p.W);
  int workers = int(std::min<std::size_t>(std::size_t(hw), std::max<std::size_t>(1, work / kMinWorkPerThread)));
  int bands = 1;
  if (workers > 1 && units < 4 * workers) {
    const int minBand = std::max(32, 8 * p.R * (p.wantGrad ? 2 : 1));
    const int maxBands = std::max(1, rowsPerPlane / minBand);
    const int want = std::min((4 * workers + units - 1) / units, maxBands);
    bands = want;
    for (int nb = want; nb <= std::min(maxBands, want + workers); ++nb) {
      if ((units * nb) % workers == 0) {  // equal shares for equal workers
        bands = nb;
        break;
      }
    }
  }
  const int bandRows = (rowsPerPlane + bands - 1) / bands;
  std::vector<Item> items;
  items.reserve(std::size_t(units) * std::size_t(bands));
  for (int b = 0; b < p.B; ++b)
    for (int r = rowLo; r < rowHi; r += bandRows)
      for (int t = 0; t < p.nTiles; ++t)
        for (int c = 0; c < p.C; c += p.G) items.push_back(Item{b, c, std::min(p.G, p.C - c), r, std::min(r + bandRows, rowHi), t});
  workers = std::max(1, std::min<int>(workers, int(items.size())));

  std::vector<Scratch> scratch(static_cast<std::size_t>(workers));
  for (Scratch& s : scratch) s.init(p);  // allocations happen here, on the calling thread

  const RunFn run = pickVariant();
  std::atomic<std::size_t> next{0};
  auto work_loop = [&](Scratch& s) {
    for (;;) {
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= items.size()) break;
      run(p, s, items[i]);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(std::size_t(workers - 1));
  for (int t = 1; t < workers; ++t) {
    try {
      pool.emplace_back(work_loop, std::ref(scratch[std::size_t(t)]));
    } catch (const std::system_error&) {
      break;  // could not start a thread: the others (and this one) take its share
    }
  }
  work_loop(scratch[0]);
  for (std::thread& t : pool) t.join();

  if (p.wantValue) {
    const std::size_t H = std::size_t(p.H);
    for (int b = 0; b < p.B; ++b) {
      double total = 0.0;
      for (int c = 0; c < p.C; ++c) {
        const std::size_t T = std::size_t(p.nTiles);
        const double* rs = p.rowSums + std::size_t(b * p.C + c) * H * T;
        double planeSum = 0.0;
        for (int a = p.mr.y0; a < p.mr.y1; ++a)
          for (std::size_t t = 0; t < T; ++t) planeSum += rs[std::size_t(a) * T + t];
        if (perPlane) job.out[b * p.C + c] = float(double(pr.valueOffset) + double(pr.valueScale) * (planeSum / denom));
        total += planeSum;
      }
      if (!perPlane) job.out[b] = float(double(pr.valueOffset) + double(pr.valueScale) * (total / denom));
    }
  }
}

}  // namespace

void computeSsimCpu(const SsimJob& job, int threads) { computeSsimCpuImpl(job, threads, false); }

void detail::computeSsimCpuPlanes(const SsimJob& job, int threads) { computeSsimCpuImpl(job, threads, true); }

}  // namespace cudassim
