// MS-SSIM's scale pyramid in tiles: the pooling from one level down to the next four in one
// pass, and the gradient's way back up across up to five levels in one pass. Each pass is a grid
// of independent tiles; cuda/gpu/msssim_cuda.cu runs a tile per thread block (one launch per pass
// instead of one per level), test/native/msssim_cpu_check.cpp runs the same tile code one tile
// after another against composeMsssim's per-level operations, bit for bit.
//
// Why tiles are independent: row r of level k has the parent row (r + h_k % 2) / 2 at level k + 1
// (msssim.h, pooledSide), so the children of the parent rows [R, R + n) are exactly the rows
// [2R - h_k % 2, 2R - h_k % 2 + 2n). A tile of n x n pixels at its top level owns the 2^j n x 2^j n
// pixels j levels below whose ancestors it holds; the tiles of a level partition [-(h_k % 2), h_k)
// (row -1: the zero padding of an odd side) and likewise the columns. Plain C++ and CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "msssim.h"
#include "ssim_math.h"

#if defined(__CUDACC__)
#define PYRAMID_HD __host__ __device__
#else
#define PYRAMID_HD
#endif

namespace cudassim {

// A tile is kPyramidBottom x kPyramidBottom pixels at its lowest level and halves per level up.
constexpr int kPyramidBottom = 64;
// Most levels in a pass (the top side stays 4 or more).
constexpr int kPyramidLevels = 5;
// Shared floats a tile needs: two images at the second level (32 x 32) and the third (16 x 16).
constexpr int kPyramidSharedFloats = 2 * (kPyramidBottom / 2) * (kPyramidBottom / 2) + 2 * (kPyramidBottom / 4) * (kPyramidBottom / 4);

// One pass over the levels lo .. lo + levels - 1 of a layout's pyramid (1 <= levels <=
// kPyramidLevels), named by d = level - lo. The device code unrolls every loop over d, so that
// no array here is indexed at run time (which would put the kernel's parameters in local memory).
struct PyramidPass {
  int lo = 0, levels = 0;
  int planes = 0;
  // sides of level lo + d; [levels]: the level above the top (the accumulation's `top`), if any
  int h[kPyramidLevels + 1] = {}, w[kPyramidLevels + 1] = {};
  int tilesY = 0, tilesX = 0;  // tiles per plane, counted at the top level
  // Level lo is float32 with rows and planes of a multiple of 4 floats, from 16-byte aligned
  // pointers (quadRowsAligned): level lo + 1 pools it four floats at a time.
  bool alignedRows = false;

  PYRAMID_HD static constexpr int side(int d) { return kPyramidBottom >> d; }
  PYRAMID_HD long long tiles() const { return (long long)planes * tilesY * tilesX; }
  PYRAMID_HD std::size_t elems(int d) const { return std::size_t(h[d]) * std::size_t(w[d]); }
};

inline PyramidPass pyramidPass(const MsssimLayout& L, int lo, int hi) {
  PyramidPass p;
  p.lo = lo;
  p.levels = hi - lo + 1;
  p.planes = L.planes;
  for (int d = 0; d <= p.levels && lo + d < L.scales; ++d) {
    p.h[d] = L.h[lo + d];
    p.w[d] = L.w[lo + d];
  }
  const int top = PyramidPass::side(p.levels - 1);
  p.tilesY = (p.h[p.levels - 1] + top - 1) / top;
  p.tilesX = (p.w[p.levels - 1] + top - 1) / top;
  return p;
}

// Tile t of a pass: its plane and where it starts at each level d.
struct PyramidTile {
  int plane = 0;
  int row[kPyramidLevels + 1] = {}, col[kPyramidLevels + 1] = {};
};

PYRAMID_HD inline PyramidTile pyramidTile(const PyramidPass& pass, long long t) {
  PyramidTile tile;
  const long long perPlane = (long long)pass.tilesY * pass.tilesX;
  tile.plane = int(t / perPlane);
  const int i = int(t - perPlane * tile.plane);
  const int top = pass.levels - 1;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int d = kPyramidLevels - 1; d >= 0; --d) {
    if (d > top) continue;
    tile.row[d] = d == top ? (i / pass.tilesX) * PyramidPass::side(d) : 2 * tile.row[d + 1] - (pass.h[d] & 1);
    tile.col[d] = d == top ? (i % pass.tilesX) * PyramidPass::side(d) : 2 * tile.col[d + 1] - (pass.w[d] & 1);
  }
  return tile;
}

// The 2 x 2 quad of a plane (h x w, typed, times scale) at rows r0, r0 + 1 and columns c0, c0 + 1,
// as intensities; outside the plane, or all of it unless `inside`, counts as zero (pytorch-msssim's
// count_include_pad). The quad's average is 0.25 (((q0 + q1) + q2) + q3): the order of the
// per-level pooling, whose skipped terms add nothing. Predicated loads, not branches, so that a
// thread's loads are in flight together.
template <typename T>
PYRAMID_HD inline void loadQuad(const T* plane, int h, int w, int r0, int c0, float scale, bool inside, float (&q)[4]) {
  const bool a0 = inside && r0 >= 0 && r0 < h, a1 = inside && r0 + 1 >= 0 && r0 + 1 < h;
  const bool b0 = c0 >= 0 && c0 < w, b1 = c0 + 1 >= 0 && c0 + 1 < w;
  const std::size_t o0 = std::size_t(a0 ? r0 : 0) * unsigned(w), o1 = std::size_t(a1 ? r0 + 1 : 0) * unsigned(w);
  q[0] = a0 && b0 ? toIntensity(plane[o0 + unsigned(c0)], scale) : 0.0f;
  q[1] = a0 && b1 ? toIntensity(plane[o0 + unsigned(c0 + 1)], scale) : 0.0f;
  q[2] = a1 && b0 ? toIntensity(plane[o1 + unsigned(c0)], scale) : 0.0f;
  q[3] = a1 && b1 ? toIntensity(plane[o1 + unsigned(c0 + 1)], scale) : 0.0f;
}

// Level pointers of a pass: [d] for level lo + d.
struct PyramidLevels {
  float* p[kPyramidLevels] = {};
};

// Whether a pass may set alignedRows: float32 level lo (the pass's source) whose rows are a
// multiple of 4 floats, at 16-byte aligned addresses. Then level lo + 1's side is even, so a tile's
// columns there start at an even one (padding columns included), and pairs of them at a multiple
// of 4 floats at level lo.
template <typename T>
inline bool quadRowsAligned(const PyramidPass& pass, const T* xs, const T* ys) {
  const auto aligned16 = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return std::is_same<T, float>::value && pass.w[0] % 4 == 0 && aligned16(xs) && aligned16(ys);
}

// Four consecutive floats of a row from a 16-byte aligned address (one load on the device), or
// zeros unless `inside`.
PYRAMID_HD inline void loadRowOfFour(const float* at, float scale, bool inside, float (&v)[4]) {
#if defined(__CUDA_ARCH__)
  const float4 q = inside ? *reinterpret_cast<const float4*>(at) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  const float raw[4] = {q.x, q.y, q.z, q.w};
#else
  const float raw[4] = {inside ? at[0] : 0.0f, inside ? at[1] : 0.0f, inside ? at[2] : 0.0f, inside ? at[3] : 0.0f};
#endif
  for (int k = 0; k < 4; ++k) v[k] = inside ? toIntensity(raw[k], scale) : 0.0f;
}

// Pixels a thread handles together: their loads are all issued before the first store (stores
// may alias later loads as far as the compiler knows), so that enough bytes are in flight to
// keep the memory busy; one at a time, a pass ran at a quarter of the bandwidth. The pooling's
// pixels have 8 loads each (a quad of x and of y), the accumulation's 1.
constexpr int kPoolBatch = 4;
constexpr int kAccumulateBatch = 8;

// Level lo + 1 (d = 1) of a tile from an alignedRows level lo (float32 planar, times scale) into
// xd.p[1], yd.p[1] and the tile's shared copy `out` (x's n x n, then y's): the pixels in horizontal
// pairs, each pair from one load of four floats per row and image. Each value is loadQuad's sum in
// loadQuad's order, so the results are those of the quad at a time. One pair per thread at a
// time, its 16 floats loaded before any store: two pairs took 74 registers a thread against 53
// and measured slower (docs/PERFORMANCE.md, ms-v10b).
PYRAMID_HD inline void poolLevelOneInPairs(const PyramidPass& pass, const PyramidTile& tile, const float* xPlane,
                                           const float* yPlane, float scale, const PyramidLevels& xd,
                                           const PyramidLevels& yd, float* out, int tid, int threads) {
  constexpr int n = PyramidPass::side(1), pairsPerRow = n / 2, pairs = n * n / 2;
  const int hk = pass.h[1], wk = pass.w[1], h0 = pass.h[0], w0 = pass.w[0];
  const std::size_t dstPlane = std::size_t(tile.plane) * pass.elems(1);
  for (int i = tid; i < pairs; i += threads) {
    const int a = i / pairsPerRow, b = 2 * (i % pairsPerRow);
    const int r = tile.row[1] + a, c = tile.col[1] + b;  // wk is even: c + 1 < wk with c
    const bool inside = r >= 0 && r < hk && c >= 0 && c < wk;
    // Inside, r0 + 1 < h0 and r0 >= -1 (the padding row of an odd side); outside, offset 0.
    const int r0 = 2 * r - (h0 & 1);
    const std::size_t col = inside ? 2 * unsigned(c) : 0;
    const std::size_t o0 = inside && r0 >= 0 ? std::size_t(r0) * unsigned(w0) + col : 0;
    const std::size_t o1 = inside ? std::size_t(r0 + 1) * unsigned(w0) + col : 0;
    // rows r0 and r0 + 1 of x, then of y
    float v[4][4];
    loadRowOfFour(xPlane + o0, scale, inside && r0 >= 0, v[0]);
    loadRowOfFour(xPlane + o1, scale, inside, v[1]);
    loadRowOfFour(yPlane + o0, scale, inside && r0 >= 0, v[2]);
    loadRowOfFour(yPlane + o1, scale, inside, v[3]);
    float px[2], py[2];
    for (int k = 0; k < 2; ++k) {
      const int e = 2 * k;
      px[k] = 0.25f * (((v[0][e] + v[0][e + 1]) + v[1][e]) + v[1][e + 1]);
      py[k] = 0.25f * (((v[2][e] + v[2][e + 1]) + v[3][e]) + v[3][e + 1]);
    }
    if (inside) {
      const std::size_t o = dstPlane + std::size_t(r) * unsigned(wk) + unsigned(c);
      for (int k = 0; k < 2; ++k) {
        xd.p[1][o + k] = px[k];
        yd.p[1][o + k] = py[k];
      }
    }
    for (int k = 0; k < 2; ++k) {
      out[a * n + b + k] = px[k];
      out[n * n + a * n + b + k] = py[k];
    }
  }
}

// The pooling pass: levels 1..levels-1 of x and y (float32 planar, xd.p[d], yd.p[d]) from level 0
// (xs, ys: planar, typed, times scale). Threads tid, tid + threads, ... of the tile's block share
// `shared` (kPyramidSharedFloats); sync() is the block's barrier. Each value is the sum of its
// four terms in loadQuad's order (zeros for padding), so the result is that of pooling one level at
// a time.
template <typename T, typename Sync>
PYRAMID_HD inline void poolPyramidTile(const PyramidPass& pass, const T* xs, const T* ys, float scale,
                                       const PyramidLevels& xd, const PyramidLevels& yd, long long t, float* shared,
                                       int tid, int threads, Sync sync) {
  const PyramidTile tile = pyramidTile(pass, t);
  const T* xPlane = xs + std::size_t(tile.plane) * pass.elems(0);
  const T* yPlane = ys + std::size_t(tile.plane) * pass.elems(0);
  float* const bufs[2] = {shared, shared + 2 * (kPyramidBottom / 2) * (kPyramidBottom / 2)};
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int d = 1; d < kPyramidLevels; ++d) {
    if (d >= pass.levels) break;
    const int n = PyramidPass::side(d), hk = pass.h[d], wk = pass.w[d];
    float* out = bufs[(d - 1) & 1];
    const float* in = bufs[d & 1];  // level d - 1 (d > 1)
    const std::size_t dstPlane = std::size_t(tile.plane) * pass.elems(d);
    if constexpr (std::is_same<T, float>::value) {
      if (d == 1 && pass.alignedRows) {
        poolLevelOneInPairs(pass, tile, xPlane, yPlane, scale, xd, yd, out, tid, threads);
        sync();
        continue;
      }
    }
    for (int i0 = tid; i0 < n * n; i0 += threads * kPoolBatch) {
      float vx[kPoolBatch], vy[kPoolBatch];
      if (d == 1) {
        // every load of the batch first, then the sums
        float qx[kPoolBatch][4], qy[kPoolBatch][4];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
        for (int q = 0; q < kPoolBatch; ++q) {
          const int i = i0 + q * threads, a = i / n, b = i % n;
          const int r = tile.row[d] + a, c = tile.col[d] + b;
          const bool inside = i < n * n && r >= 0 && r < hk && c >= 0 && c < wk;
          const int r0 = 2 * r - (pass.h[0] & 1), c0 = 2 * c - (pass.w[0] & 1);
          loadQuad(xPlane, pass.h[0], pass.w[0], r0, c0, scale, inside, qx[q]);
          loadQuad(yPlane, pass.h[0], pass.w[0], r0, c0, scale, inside, qy[q]);
        }
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
        for (int q = 0; q < kPoolBatch; ++q) {
          vx[q] = 0.25f * (((qx[q][0] + qx[q][1]) + qx[q][2]) + qx[q][3]);
          vy[q] = 0.25f * (((qy[q][0] + qy[q][1]) + qy[q][2]) + qy[q][3]);
        }
      } else {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
        for (int q = 0; q < kPoolBatch; ++q) {
          const int i = i0 + q * threads, a = i / n, b = i % n;
          const int r = tile.row[d] + a, c = tile.col[d] + b;
          vx[q] = 0.0f;  // padding and pixels past the plane: zero, as loadQuad counts them
          vy[q] = 0.0f;
          if (i < n * n && r >= 0 && r < hk && c >= 0 && c < wk) {
            const int m = 2 * n, e = 2 * a * m + 2 * b;  // the children in level d - 1's tile
            vx[q] = 0.25f * (((in[e] + in[e + 1]) + in[e + m]) + in[e + m + 1]);
            vy[q] = 0.25f * (((in[m * m + e] + in[m * m + e + 1]) + in[m * m + e + m]) + in[m * m + e + m + 1]);
          }
        }
      }
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
      for (int q = 0; q < kPoolBatch; ++q) {
        const int i = i0 + q * threads, a = i / n, b = i % n;
        const int r = tile.row[d] + a, c = tile.col[d] + b;
        if (i >= n * n) break;
        if (r >= 0 && r < hk && c >= 0 && c < wk) {
          const std::size_t o = dstPlane + std::size_t(r) * unsigned(wk) + unsigned(c);
          xd.p[d][o] = vx[q];
          yd.p[d][o] = vy[q];
        }
        out[i] = vx[q];
        out[n * n + i] = vy[q];
      }
    }
    sync();
  }
}

// The gradient's pass from the top level down to level 0 of the pass (lo >= 1: the pyramid's
// level 0, the largest, is accumulateBottom's): dst[d] = f_d g[d] + 1/4 up, with up the
// accumulated value of the pixel's parent (level d + 1: this tile's; for the top, `top` if not
// null, else nothing) and f_d = factors[(lo + d) * planes + plane]. dst[d] may be g[d].
template <typename Sync>
PYRAMID_HD inline void accumulatePyramidTile(const PyramidPass& pass, const PyramidLevels& g, const PyramidLevels& dst,
                                             const float* top, const float* factors, long long t, float* shared, int tid,
                                             int threads, Sync sync) {
  const PyramidTile tile = pyramidTile(pass, t);
  const int p = tile.plane;
  float* const bufs[2] = {shared, shared + (kPyramidBottom / 2) * (kPyramidBottom / 2)};
  const int topLevel = pass.levels - 1;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int d = kPyramidLevels - 1; d >= 0; --d) {
    if (d > topLevel) continue;
    const int n = PyramidPass::side(d), hk = pass.h[d], wk = pass.w[d];
    const float f = factors[std::size_t(pass.lo + d) * unsigned(pass.planes) + unsigned(p)];
    float* out = d > 0 ? bufs[d & 1] : nullptr;  // level 0 of the pass is read by no one here
    const float* up = bufs[(d + 1) & 1];        // level d + 1 (d < top)
    const std::size_t plane = std::size_t(p) * pass.elems(d);
    const int ch = pass.h[d + 1], cw = pass.w[d + 1];  // the level above the top, for `top`
    for (int i0 = tid; i0 < n * n; i0 += threads * kAccumulateBatch) {
      float gv[kAccumulateBatch], uv[kAccumulateBatch];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
      for (int q = 0; q < kAccumulateBatch; ++q) {
        const int i = i0 + q * threads, a = i / n, b = i % n;
        const int r = tile.row[d] + a, c = tile.col[d] + b;
        gv[q] = 0.0f;
        uv[q] = 0.0f;
        if (i < n * n && r >= 0 && r < hk && c >= 0 && c < wk) {
          gv[q] = g.p[d][plane + std::size_t(r) * unsigned(wk) + unsigned(c)];
          if (d < topLevel) {
            uv[q] = up[(a >> 1) * (n >> 1) + (b >> 1)];
          } else if (top != nullptr) {
            uv[q] = top[(std::size_t(p) * unsigned(ch) + unsigned((r + (hk & 1)) >> 1)) * unsigned(cw) +
                        unsigned((c + (wk & 1)) >> 1)];
          }
        }
      }
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
      for (int q = 0; q < kAccumulateBatch; ++q) {
        const int i = i0 + q * threads, a = i / n, b = i % n;
        const int r = tile.row[d] + a, c = tile.col[d] + b;
        if (i >= n * n) break;
        float v = 0.0f;
        if (r >= 0 && r < hk && c >= 0 && c < wk) {
          v = f * gv[q];
          if (d < topLevel || top != nullptr) v += 0.25f * uv[q];
          dst.p[d][plane + std::size_t(r) * unsigned(wk) + unsigned(c)] = v;
        }
        if (out != nullptr) out[i] = v;
      }
    }
    sync();
  }
}

// Scale 0 of the gradient's way back, pixel (r, c) of plane p (h x w): dst = mult (f g + 1/4 up),
// f = factors[p] (scale 0's), g at bottomIndex, up = level 1's accumulated gradient at
// upIndex (none without a level 1), dst at dstIndex: planar (may be g), or with hwc x's
// interleaved layout of `channels` channels (plane = image * channels + channel). Elementwise,
// so that it runs at the memory's speed: it moves most of a gradient call's bytes.
struct BottomGeometry {
  int planes = 0, h = 0, w = 0, ch = 0, cw = 0;  // ch x cw: level 1 (0 without one)
  int channels = 1;
  bool hwc = false;

  PYRAMID_HD std::size_t index(int p, int r, int c) const {
    return (std::size_t(p) * unsigned(h) + unsigned(r)) * unsigned(w) + unsigned(c);
  }
  PYRAMID_HD std::size_t upIndex(int p, int r, int c) const {
    return (std::size_t(p) * unsigned(ch) + unsigned((r + (h & 1)) >> 1)) * unsigned(cw) + unsigned((c + (w & 1)) >> 1);
  }
  PYRAMID_HD std::size_t dstIndex(int p, int r, int c) const {
    if (!hwc) return index(p, r, c);
    const std::size_t image = unsigned(p) / unsigned(channels), channel = unsigned(p) % unsigned(channels);
    return ((image * unsigned(h) + unsigned(r)) * unsigned(w) + unsigned(c)) * unsigned(channels) + channel;
  }
};

// Each step rounded on its own, on the device too: scale 0's backward (cuda/gpu/ssim_kernels.cuh,
// applyFold) calls this as well, and must give the same bits as the elementwise pass.
PYRAMID_HD inline float accumulateBottom(float f, float g, bool withUp, float u, float mult) {
#if defined(__CUDA_ARCH__)
  float v = __fmul_rn(f, g);
  if (withUp) v = __fadd_rn(v, __fmul_rn(0.25f, u));
  return __fmul_rn(v, mult);
#else
  float v = f * g;
  if (withUp) v += 0.25f * u;
  return v * mult;
#endif
}

inline BottomGeometry bottomGeometry(const MsssimLayout& L, int channels, bool hwc) {
  BottomGeometry geo;
  geo.planes = L.planes;
  geo.h = L.h[0];
  geo.w = L.w[0];
  geo.ch = L.scales > 1 ? L.h[1] : 0;
  geo.cw = L.scales > 1 ? L.w[1] : 0;
  geo.channels = channels;
  geo.hwc = hwc;
  return geo;
}

// The passes of a call, as every backend runs them. Pooling: from scale `from` up (0, or 1 when
// scale 0's SSIM wrote scale 1), each pass from the previous one's top level (x[j], y[j]: scale
// j's planar float32; pass lo = 0 reads the input). run(pass, xd, yd) launches one; false stops.
template <typename Run>
void forEachPoolPass(const MsssimLayout& L, float* const* x, float* const* y, int from, Run&& run) {
  for (int lo = from; lo + 1 < L.scales;) {
    const int hi = lo + kPyramidLevels - 1 < L.scales - 1 ? lo + kPyramidLevels - 1 : L.scales - 1;
    const PyramidPass pass = pyramidPass(L, lo, hi);
    PyramidLevels xd, yd;
    for (int d = 1; d < pass.levels; ++d) {
      xd.p[d] = x[lo + d];
      yd.p[d] = y[lo + d];
    }
    if (!run(pass, xd, yd)) return;
    lo = hi;
  }
}

// The gradient's way back over scales >= 1: from the coarsest down, each pass below the previous
// one, whose lowest level (dst) is its `top`. run(pass, g, dst, top); false stops. Scale 0 then
// goes elementwise (accumulateBottom, bottomGeometry).
template <typename Run>
void forEachAccumulatePass(const MsssimLayout& L, float* const* g, float* const* dst, Run&& run) {
  const float* top = nullptr;
  for (int hi = L.scales - 1; hi >= 1;) {
    const int lo = hi - (kPyramidLevels - 1) > 1 ? hi - (kPyramidLevels - 1) : 1;
    const PyramidPass pass = pyramidPass(L, lo, hi);
    PyramidLevels gl, dl;
    for (int d = 0; d < pass.levels; ++d) {
      gl.p[d] = g[lo + d];
      dl.p[d] = dst[lo + d];
    }
    if (!run(pass, gl, dl, top)) return;
    top = dst[lo];
    hi = lo - 1;
  }
}

}  // namespace cudassim
