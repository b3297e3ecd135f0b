// The CPU operations of common/msssim.h's composition (msssim_cpu.h): plain loops for the
// pooling and the gradient's accumulation, computeSsimCpu for every scale.
#include "msssim_cpu.h"

#include <stdexcept>
#include <vector>

#include "common/ssim_math.h"
#include "ssim_cpu.h"

namespace cudassim {

namespace {

struct CpuOps {
  const MsssimJob& job;
  const MsssimLayout& L;
  float* scratch;
  int threads;

  float* scratchAt(std::size_t off) const { return scratch + off; }

  void planarize(float* xd, float* yd) const {
    const ImageShape& s = job.core.shape;
    const std::size_t n = s.elems(), hw = s.planeElems();
    const std::size_t C = std::size_t(s.channels);
    const float scale = job.core.params.inputScale;
    withElementType(job.core.dtype, [&](auto e) {
      using T = typename decltype(e)::type;
      const T* x = static_cast<const T*>(job.core.x);
      const T* y = static_cast<const T*>(job.core.y);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = i % C, rest = i / C, b = rest / hw, pix = rest % hw;
        const std::size_t o = (b * C + c) * hw + pix;
        xd[o] = toIntensity(x[i], scale);
        yd[o] = toIntensity(y[i], scale);
      }
    });
  }

  void pool(const void* xs, const void* ys, DType dt, float scale, int j, float* xd, float* yd) const {
    const int h = L.h[j - 1], w = L.w[j - 1], ph = L.h[j], pw = L.w[j];
    const int oh = h & 1, ow = w & 1;
    withElementType(dt, [&](auto e) {
      using T = typename decltype(e)::type;
      const T* srcs[2] = {static_cast<const T*>(xs), static_cast<const T*>(ys)};
      float* dsts[2] = {xd, yd};
      for (int k = 0; k < 2; ++k) {
        for (int p = 0; p < L.planes; ++p) {
          const T* src = srcs[k] + std::size_t(p) * std::size_t(h) * std::size_t(w);
          float* dst = dsts[k] + std::size_t(p) * std::size_t(ph) * std::size_t(pw);
          for (int r = 0; r < ph; ++r) {
            for (int c = 0; c < pw; ++c) {
              float s = 0.0f;  // the GPU's order: rows, then columns
              for (int a = 0; a < 2; ++a) {
                const int rr = 2 * r - oh + a;
                if (rr < 0 || rr >= h) continue;
                for (int b = 0; b < 2; ++b) {
                  const int cc = 2 * c - ow + b;
                  if (cc < 0 || cc >= w) continue;
                  s += toIntensity(src[std::size_t(rr) * std::size_t(w) + std::size_t(cc)], scale);
                }
              }
              dst[std::size_t(r) * std::size_t(pw) + std::size_t(c)] = 0.25f * s;
            }
          }
        }
      }
    });
  }

  void ssim(const SsimJob& sj) const { computeSsimCpu(sj, threads); }

  void combine(const float* vals, float* factors) const {
    const ImageShape& s = job.core.shape;
    for (int b = 0; b < s.batch; ++b) {
      const float v = combineMsssimImage(b, s.channels, L.planes, job.scales, job.weights, vals, factors,
                                         job.core.params.valueOffset, job.core.params.valueScale);
      if (job.core.out != nullptr) job.core.out[b] = v;
    }
  }

  void accumulate(int j, const float* g, const float* coarse, float* dst, bool hwc, float mult) const {
    const int h = L.h[j], w = L.w[j];
    const int ch = j + 1 < L.scales ? L.h[j + 1] : 1, cw = j + 1 < L.scales ? L.w[j + 1] : 1;
    const int oh = h & 1, ow = w & 1;
    const float* f = scratchAt(L.factors) + std::size_t(j) * std::size_t(L.planes);
    const std::size_t C = std::size_t(job.core.shape.channels);
    for (int p = 0; p < L.planes; ++p) {
      for (int r = 0; r < h; ++r) {
        for (int c = 0; c < w; ++c) {
          const std::size_t i = (std::size_t(p) * std::size_t(h) + std::size_t(r)) * std::size_t(w) + std::size_t(c);
          float v = f[p] * g[i];
          if (coarse != nullptr) {
            v += 0.25f * coarse[(std::size_t(p) * std::size_t(ch) + std::size_t((r + oh) >> 1)) * std::size_t(cw) +
                                std::size_t((c + ow) >> 1)];
          }
          v *= mult;
          if (!hwc) {
            dst[i] = v;
          } else {
            const std::size_t b = std::size_t(p) / C, cc = std::size_t(p) % C;
            dst[(b * std::size_t(h) * std::size_t(w) + std::size_t(r) * std::size_t(w) + std::size_t(c)) * C + cc] = v;
          }
        }
      }
    }
  }
};

}  // namespace

void computeMsssimCpu(const MsssimJob& job, int threads) {
  const ImageShape& s = job.core.shape;
  if (s.batch <= 0 || s.channels <= 0 || s.height <= 0 || s.width <= 0)
    throw std::invalid_argument("computeMsssimCpu: non-positive dimension");
  if (job.scales < 1 || job.scales > kMaxScales) throw std::invalid_argument("computeMsssimCpu: scales out of range");
  if (!job.core.x || !job.core.y) throw std::invalid_argument("computeMsssimCpu: null input");
  if (!job.core.out && !job.core.grad) return;
  const MsssimLayout L = msssimLayout(s, job.scales, job.core.grad != nullptr);
  std::vector<float> scratch(L.floats == 0 ? 1 : L.floats);
  CpuOps ops{job, L, scratch.data(), threads};
  composeMsssim(job, L, ops);
}

}  // namespace cudassim
