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
// Most levels above the lowest one in a pass (the top side stays 4 or more).
constexpr int kPyramidSpan = 4;
// Shared floats a tile needs: two images' level lo + 1 (32 x 32) and level lo + 2 (16 x 16).
constexpr int kPyramidSharedFloats = 2 * (kPyramidBottom / 2) * (kPyramidBottom / 2) + 2 * (kPyramidBottom / 4) * (kPyramidBottom / 4);

// One pass over levels lo..hi (0 <= hi - lo <= kPyramidSpan) of a layout's pyramid.
struct PyramidPass {
  int lo = 0, hi = 0;
  int planes = 0;
  int h[kMaxScales] = {}, w[kMaxScales] = {};
  int tilesY = 0, tilesX = 0;  // tiles per plane, counted at level hi

  PYRAMID_HD int side(int k) const { return kPyramidBottom >> (k - lo); }
  PYRAMID_HD long long tiles() const { return (long long)planes * tilesY * tilesX; }
  PYRAMID_HD std::size_t elems(int k) const { return std::size_t(h[k]) * std::size_t(w[k]); }
};

inline PyramidPass pyramidPass(const MsssimLayout& L, int lo, int hi) {
  PyramidPass p;
  p.lo = lo;
  p.hi = hi;
  p.planes = L.planes;
  for (int k = 0; k < L.scales; ++k) {
    p.h[k] = L.h[k];
    p.w[k] = L.w[k];
  }
  const int top = p.side(hi);
  p.tilesY = (L.h[hi] + top - 1) / top;
  p.tilesX = (L.w[hi] + top - 1) / top;
  return p;
}

// Tile t of a pass: its plane and where it starts at each level lo..hi.
struct PyramidTile {
  int plane = 0;
  int row[kMaxScales] = {}, col[kMaxScales] = {};
};

PYRAMID_HD inline PyramidTile pyramidTile(const PyramidPass& pass, long long t) {
  PyramidTile tile;
  const long long perPlane = (long long)pass.tilesY * pass.tilesX;
  tile.plane = int(t / perPlane);
  const int i = int(t % perPlane);
  tile.row[pass.hi] = (i / pass.tilesX) * pass.side(pass.hi);
  tile.col[pass.hi] = (i % pass.tilesX) * pass.side(pass.hi);
  for (int k = pass.hi - 1; k >= pass.lo; --k) {
    tile.row[k] = 2 * tile.row[k + 1] - (pass.h[k] & 1);
    tile.col[k] = 2 * tile.col[k + 1] - (pass.w[k] & 1);
  }
  return tile;
}

// 2 x 2 average of plane `plane` (h x w, typed, times scale) at rows r0, r0 + 1 and columns c0,
// c0 + 1; outside the plane counts as zero (pytorch-msssim's count_include_pad).
template <typename T>
PYRAMID_HD inline float pooledQuad(const T* src, std::size_t plane, int h, int w, int r0, int c0, float scale) {
  float s = 0.0f;
  for (int a = 0; a < 2; ++a) {
    const int r = r0 + a;
    if (r < 0 || r >= h) continue;
    for (int b = 0; b < 2; ++b) {
      const int c = c0 + b;
      if (c < 0 || c >= w) continue;
      s += toIntensity(src[plane + std::size_t(r) * unsigned(w) + unsigned(c)], scale);
    }
  }
  return 0.25f * s;
}

// The pooling pass: levels lo + 1..hi of x and y (float32 planar, xd[k], yd[k]) from level lo
// (xs, ys: planar, typed, times scale). Threads tid, tid + threads, ... of the tile's block share
// `shared` (kPyramidSharedFloats); sync() is the block's barrier. Each pooled value is the sum of
// pooledQuad's four terms in its order (zeros for padding), so the result is that of pooling one
// level at a time.
template <typename T, typename Sync>
PYRAMID_HD void poolPyramidTile(const PyramidPass& pass, const T* xs, const T* ys, float scale, float* const* xd,
                                float* const* yd, long long t, float* shared, int tid, int threads, Sync sync) {
  const PyramidTile tile = pyramidTile(pass, t);
  const int lo = pass.lo;
  const std::size_t srcPlane = std::size_t(tile.plane) * pass.elems(lo);
  float* const bufs[2] = {shared, shared + 2 * (kPyramidBottom / 2) * (kPyramidBottom / 2)};
  for (int k = lo + 1; k <= pass.hi; ++k) {
    const int n = pass.side(k), hk = pass.h[k], wk = pass.w[k];
    float* out = bufs[(k - lo - 1) & 1];
    const float* in = bufs[(k - lo) & 1];  // level k - 1 (k > lo + 1)
    const std::size_t dstPlane = std::size_t(tile.plane) * pass.elems(k);
    for (int i = tid; i < n * n; i += threads) {
      const int a = i / n, b = i % n;
      const int r = tile.row[k] + a, c = tile.col[k] + b;
      float vx = 0.0f, vy = 0.0f;
      if (r >= 0 && r < hk && c >= 0 && c < wk) {
        if (k == lo + 1) {
          const int r0 = 2 * r - (pass.h[lo] & 1), c0 = 2 * c - (pass.w[lo] & 1);
          vx = pooledQuad(xs, srcPlane, pass.h[lo], pass.w[lo], r0, c0, scale);
          vy = pooledQuad(ys, srcPlane, pass.h[lo], pass.w[lo], r0, c0, scale);
        } else {
          const int m = 2 * n, q = 2 * a * m + 2 * b;  // the children in level k - 1's tile
          vx = 0.25f * (((in[q] + in[q + 1]) + in[q + m]) + in[q + m + 1]);
          vy = 0.25f * (((in[m * m + q] + in[m * m + q + 1]) + in[m * m + q + m]) + in[m * m + q + m + 1]);
        }
        const std::size_t o = dstPlane + std::size_t(r) * unsigned(wk) + unsigned(c);
        xd[k][o] = vx;
        yd[k][o] = vy;
      }
      out[i] = vx;  // padding and pixels past the plane: zero, as pooledQuad counts them
      out[n * n + i] = vy;
    }
    sync();
  }
}

// The gradient's pass from level hi down to lo: dst[k] = mult_k (f_k g_k + 1/4 up), with up the
// accumulated value of the pixel's parent (level k + 1: this tile's, or `top` for k = hi, none if
// null) and f_k = factors[k * planes + plane]; mult_k = mult0 at level 0, else 1. dst[k] is
// planar, or at level 0 with hwc the interleaved layout of `channels` channels (plane =
// image * channels + channel). dst[k] may be g[k].
template <typename Sync>
PYRAMID_HD void accumulatePyramidTile(const PyramidPass& pass, const float* const* g, float* const* dst, const float* top,
                                      const float* factors, float mult0, bool hwc, int channels, long long t,
                                      float* shared, int tid, int threads, Sync sync) {
  const PyramidTile tile = pyramidTile(pass, t);
  const int p = tile.plane;
  float* const bufs[2] = {shared, shared + (kPyramidBottom / 2) * (kPyramidBottom / 2)};
  for (int k = pass.hi; k >= pass.lo; --k) {
    const int n = pass.side(k), hk = pass.h[k], wk = pass.w[k];
    const int oh = hk & 1, ow = wk & 1;
    const float f = factors[std::size_t(k) * unsigned(pass.planes) + unsigned(p)];
    const float mult = k == 0 ? mult0 : 1.0f;
    float* out = k > pass.lo ? bufs[k & 1] : nullptr;  // the lowest level is read by no one here
    const float* up = bufs[(k + 1) & 1];                // level k + 1 (k < hi)
    const std::size_t plane = std::size_t(p) * pass.elems(k);
    for (int i = tid; i < n * n; i += threads) {
      const int a = i / n, b = i % n;
      const int r = tile.row[k] + a, c = tile.col[k] + b;
      float v = 0.0f;
      if (r >= 0 && r < hk && c >= 0 && c < wk) {
        const std::size_t pix = std::size_t(r) * unsigned(wk) + unsigned(c);
        v = f * g[k][plane + pix];
        if (k < pass.hi) {
          v += 0.25f * up[(a >> 1) * (n >> 1) + (b >> 1)];
        } else if (top != nullptr) {
          const int ch = pass.h[k + 1], cw = pass.w[k + 1];
          v += 0.25f * top[(std::size_t(p) * unsigned(ch) + unsigned((r + oh) >> 1)) * unsigned(cw) + unsigned((c + ow) >> 1)];
        }
        v *= mult;
        if (k == 0 && hwc) {
          const std::size_t image = unsigned(p) / unsigned(channels), channel = unsigned(p) % unsigned(channels);
          dst[0][(image * pass.elems(0) + pix) * unsigned(channels) + channel] = v;
        } else {
          dst[k][plane + pix] = v;
        }
      }
      if (out != nullptr) out[i] = v;
    }
    sync();
  }
}

}  // namespace cudassim
