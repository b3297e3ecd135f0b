// The CPU path of multi-scale SSIM: the steps of common/msssim.h's composition (same pyramid,
// same per-plane SSIM calls, same combination and accumulation, the same float operations in
// the same order), arranged for the host:
//
// - scale 0 runs on the input as it is (computeSsimCpuPlanes: interleaved channels included,
//   per-plane values, the gradient written straight into job.core.grad), so interleaved input is
//   never copied to planar float32 (composeMsssim's planarize);
// - scale 1 is pooled from the typed input in its own layout (planarize and the first pooling
//   in one pass), scales 2.. from the previous float32 scale;
// - the pooling and the gradient's accumulation are row loops (no division per element), rows
//   shared among std::thread workers (parallel_for.h); each output element is computed by the
//   same operations whatever thread does it, so results do not depend on the thread count;
// - the scratch (scales 1.., values, factors) is a HostScratch block reused across calls.
#include "msssim_cpu.h"

#include <algorithm>
#include <stdexcept>

#include "common/ssim_math.h"
#include "host_scratch.h"
#include "parallel_for.h"
#include "ssim_cpu.h"

namespace cudassim {

namespace {

constexpr std::size_t kRowsPerItem = 16;                  // rows of one plane per worker item
constexpr std::size_t kMinWorkPerThread = std::size_t(1) << 18;  // elements below which a thread is not worth starting


// One coarse row: dst[c] = 1/4 sum of the (up to 4) fine pixels of window c, rows r0 (if not
// null) then r1 (if not null), columns 2c - ow, 2c - ow + 1 inside [0, w); fine pixel k of a
// row at row[k * st], times scale. The order of composeMsssim's pool (GPU and old CPU): rows,
// then columns, from +0.
template <int St, typename T>
inline void poolRowT(const T* r0, const T* r1, std::ptrdiff_t stArg, int w, int pw, int ow, float scale, float* dst) {
  const std::ptrdiff_t st = St > 0 ? St : stArg;
  auto at = [&](const T* r, int k) { return toIntensity(r[std::ptrdiff_t(k) * st], scale); };
  // Windows whose two columns are inside: c in [cLo, cHi).
  const int cLo = ow;  // c = 0 with ow = 1 has column -1 outside
  const int cHi = std::max(cLo, std::min(pw, (w + ow) / 2));
  auto edge = [&](int c) {
    float s = 0.0f;
    const T* rows[2] = {r0, r1};
    for (int a = 0; a < 2; ++a) {
      if (rows[a] == nullptr) continue;
      for (int b = 0; b < 2; ++b) {
        const int cc = 2 * c - ow + b;
        if (cc < 0 || cc >= w) continue;
        s += at(rows[a], cc);
      }
    }
    dst[c] = 0.25f * s;
  };
  for (int c = 0; c < std::min(cLo, pw); ++c) edge(c);
  if (r0 != nullptr && r1 != nullptr) {
    for (int c = cLo; c < cHi; ++c) {
      const int k = 2 * c - ow;
      float s = 0.0f;
      s += at(r0, k);
      s += at(r0, k + 1);
      s += at(r1, k);
      s += at(r1, k + 1);
      dst[c] = 0.25f * s;
    }
  } else {
    const T* r = r0 != nullptr ? r0 : r1;
    for (int c = cLo; c < cHi; ++c) {
      const int k = 2 * c - ow;
      float s = 0.0f;
      s += at(r, k);
      s += at(r, k + 1);
      dst[c] = 0.25f * s;
    }
  }
  for (int c = cHi; c < pw; ++c) edge(c);
}

template <typename T>
inline void poolRow(const T* r0, const T* r1, std::ptrdiff_t st, int w, int pw, int ow, float scale, float* dst) {
  switch (st) {
    case 1: poolRowT<1>(r0, r1, st, w, pw, ow, scale, dst); break;
    case 3: poolRowT<3>(r0, r1, st, w, pw, ow, scale, dst); break;
    case 4: poolRowT<4>(r0, r1, st, w, pw, ow, scale, dst); break;
    default: poolRowT<0>(r0, r1, st, w, pw, ow, scale, dst); break;
  }
}

// Scale j - 1 (x, y: shape s, dtype dt, times scale) pooled into planar float32 scale j.
void pool(const ImageShape& s, DType dt, const void* xs, const void* ys, float scale, const MsssimLayout& L, int j,
          float* xd, float* yd, int threads) {
  const int h = L.h[j - 1], w = L.w[j - 1], ph = L.h[j], pw = L.w[j];
  const int oh = h & 1, ow = w & 1;
  // Items: a band of rows of one image, all its channels (interleaved rows are read from memory once).
  const std::size_t bands = (std::size_t(ph) + kRowsPerItem - 1) / kRowsPerItem;
  const std::size_t items = std::size_t(s.batch) * bands;
  withElementType(dt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* srcs[2] = {static_cast<const T*>(xs), static_cast<const T*>(ys)};
    float* dsts[2] = {xd, yd};
    const std::ptrdiff_t st = s.pixStride();
    parallelFor(items, threads, 2 * L.elems(j - 1), kMinWorkPerThread, [&](std::size_t item) {
      const int b = int(item / bands);
      const int r0 = int(item % bands) * int(kRowsPerItem), r1 = std::min(ph, r0 + int(kRowsPerItem));
      for (int k = 0; k < 2; ++k) {
        for (int r = r0; r < r1; ++r) {
          const int fa = 2 * r - oh, fb = fa + 1;
          for (int c = 0; c < s.channels; ++c) {
            const std::size_t p = std::size_t(b) * std::size_t(s.channels) + std::size_t(c);
            const T* ra = fa >= 0 && fa < h ? srcs[k] + s.offset(b, c, fa, 0) : nullptr;
            const T* rb = fb >= 0 && fb < h ? srcs[k] + s.offset(b, c, fb, 0) : nullptr;
            poolRow(ra, rb, st, w, pw, ow, scale, dsts[k] + (p * std::size_t(ph) + std::size_t(r)) * std::size_t(pw));
          }
        }
      }
    });
  });
}

// Scale j's accumulated gradient, in place in g (shape s: planar scale j, or x's layout at scale
// 0): g = mult * (f_j[p] g + 1/4 coarse(pooled window)), coarse: scale j + 1's accumulated
// gradient (planar) or null.
void accumulate(const ImageShape& s, const MsssimLayout& L, int j, const float* f, float* g, const float* coarse,
                float mult, int threads) {
  const int h = L.h[j], w = L.w[j];
  const int ch = j + 1 < L.scales ? L.h[j + 1] : 1, cw = j + 1 < L.scales ? L.w[j + 1] : 1;
  const int oh = h & 1, ow = w & 1;
  // Items: a band of rows of one image, all its channels (interleaved rows stay in cache).
  const std::size_t bands = (std::size_t(h) + kRowsPerItem - 1) / kRowsPerItem;
  const std::size_t items = std::size_t(s.batch) * bands;
  const std::ptrdiff_t st = s.pixStride();
  parallelFor(items, threads, L.elems(j), kMinWorkPerThread, [&](std::size_t item) {
    const int b = int(item / bands);
    const int r0 = int(item % bands) * int(kRowsPerItem), r1 = std::min(h, r0 + int(kRowsPerItem));
    for (int r = r0; r < r1; ++r) {
      for (int c = 0; c < s.channels; ++c) {
        const int p = b * s.channels + c;
        const float fp = f[p];
        float* row = g + s.offset(b, c, r, 0);
        if (coarse == nullptr) {
          for (int k = 0; k < w; ++k) {
            float v = fp * row[std::ptrdiff_t(k) * st];
            v *= mult;
            row[std::ptrdiff_t(k) * st] = v;
          }
          continue;
        }
        const float* crow = coarse + (std::size_t(p) * std::size_t(ch) + std::size_t((r + oh) >> 1)) * std::size_t(cw);
        if (st == 1) {
          for (int k = 0; k < w; ++k) {
            float v = fp * row[k];
            v += 0.25f * crow[(k + ow) >> 1];
            v *= mult;
            row[k] = v;
          }
        } else {
          for (int k = 0; k < w; ++k) {
            float v = fp * row[std::ptrdiff_t(k) * st];
            v += 0.25f * crow[(k + ow) >> 1];
            v *= mult;
            row[std::ptrdiff_t(k) * st] = v;
          }
        }
      }
    }
  });
}

}  // namespace

void computeMsssimCpu(const MsssimJob& job, int threads) {
  const SsimJob& in = job.core;
  const ImageShape& s = in.shape;
  if (s.batch <= 0 || s.channels <= 0 || s.height <= 0 || s.width <= 0)
    throw std::invalid_argument("computeMsssimCpu: non-positive dimension");
  if (job.scales < 1 || job.scales > kMaxScales) throw std::invalid_argument("computeMsssimCpu: scales out of range");
  if (!in.x || !in.y) throw std::invalid_argument("computeMsssimCpu: null input");
  if ((long long)s.batch * s.channels > 0x7fffffffLL) throw std::invalid_argument("computeMsssimCpu: more than 2^31 - 1 planes");
  if (!in.out && !in.grad) return;
  const bool gradient = in.grad != nullptr;
  // scale 0 runs on the input as it is (and its gradient goes to in.grad): scratch for scales 1..
  const MsssimLayout L = msssimLayout(s, job.scales, gradient, false);
  HostScratch block(L.floats * sizeof(float));
  float* const scratch = block.as<float>();
  float* const vals = scratch + L.vals;
  float* const factors = gradient ? scratch + L.factors : nullptr;

  for (int j = 0; j < L.scales; ++j) {
    SsimJob sj;
    if (j == 0) {
      sj.shape = s;
      sj.dtype = in.dtype;
      sj.x = in.x;
      sj.y = in.y;
      sj.params = in.params;
      sj.grad = in.grad;
    } else {
      float* xd = scratch + L.x[j];
      float* yd = scratch + L.y[j];
      if (j == 1) pool(s, in.dtype, in.x, in.y, in.params.inputScale, L, 1, xd, yd, threads);
      else pool(ImageShape{L.planes, 1, L.h[j - 1], L.w[j - 1], true}, DType::F32, scratch + L.x[j - 1],
                scratch + L.y[j - 1], 1.0f, L, j, xd, yd, threads);
      sj.shape = ImageShape{L.planes, 1, L.h[j], L.w[j], true};
      sj.dtype = DType::F32;
      sj.x = xd;
      sj.y = yd;
      sj.params = in.params;
      sj.params.inputScale = 1.0f;
      sj.grad = gradient ? scratch + L.g[j] : nullptr;
    }
    if (j + 1 < L.scales) sj.params.c1 = kContrastStructureC1;
    sj.params.valueOffset = 0.0f;
    sj.params.valueScale = 1.0f;
    sj.params.gradFactor = 1.0f;
    sj.out = vals + std::size_t(j) * std::size_t(L.planes);
    detail::computeSsimCpuPlanes(sj, threads);
  }
  for (int b = 0; b < s.batch; ++b) {
    const float v = combineMsssimImage(b, s.channels, L.planes, job.scales, job.weights, vals, factors,
                                       in.params.valueOffset, in.params.valueScale);
    if (in.out != nullptr) in.out[b] = v;
  }
  if (!gradient) return;
  const float mult = float(double(in.params.gradFactor));  // valueScale is in the factors
  for (int j = L.scales - 1; j >= 0; --j) {
    const float* coarse = j + 1 < L.scales ? scratch + L.g[j + 1] : nullptr;
    const float* f = factors + std::size_t(j) * std::size_t(L.planes);
    if (j > 0) accumulate(ImageShape{L.planes, 1, L.h[j], L.w[j], true}, L, j, f, scratch + L.g[j], coarse, 1.0f, threads);
    else accumulate(s, L, 0, f, in.grad, coarse, mult, threads);
  }
}

}  // namespace cudassim
