// The CPU path of MS-SSIM (cuda/cpu/msssim_cpu.cpp) against common/msssim.h's composition run
// with plain per-element loops (the operations composeMsssim asks of a backend, written as
// directly as possible, SSIM of each scale by computeSsimCpu on planar planes): the two must be
// bitwise identical (values and gradients), for any thread count, for every layout and dtype.
// Also: concurrent calls (which share the HostScratch cache) match single calls.
// Built and run by test/native.test.js:
//   g++ -std=c++17 -O3 -I cuda test/native/msssim_cpu_check.cpp cuda/cpu/ssim_cpu.cpp cuda/cpu/msssim_cpu.cpp -pthread
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/msssim.h"
#include "common/msssim_pyramid.h"
#include "common/ssim_math.h"
#include "cpu/msssim_cpu.h"
#include "cpu/ssim_cpu.h"

using namespace cudassim;

namespace {

int gChecks = 0, gFailed = 0;

void report(bool ok, const std::string& what) {
  ++gChecks;
  if (!ok) ++gFailed;
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
}

// The straightforward backend of composeMsssim: planar copies, per-element pooling and
// accumulation with index arithmetic, one computeSsimCpu per scale. Tiled: the pooling and the
// accumulation by common/msssim_pyramid.h's tiles instead (the CUDA path's code, one tile and one
// "thread" at a time), which must give the same bits. PoolFirst: scale 0's SSIM also pools scale 1
// and scale 1's scale 2 (ssimPooling, as the CUDA forward does for float32 planar inputs, the
// second only for large images), and the composition's other order runs: the pyramid from scale
// 2, the coarse scales after scale 0. Fold: scale 0's
// gradient is finished after the combination (ssimBackwardFolded, as the CUDA backward does).
template <bool Tiled, bool PoolFirst = false, bool Fold = false>
struct ReferenceOps {
  const MsssimJob& job;
  const MsssimLayout& L;
  float* scratch;
  float* scratchAt(std::size_t off) const { return scratch + off; }

  void planarize(float* xd, float* yd) const {
    const ImageShape& s = job.core.shape;
    const std::size_t n = s.elems(), hw = s.planeElems(), C = std::size_t(s.channels);
    withElementType(job.core.dtype, [&](auto e) {
      using T = typename decltype(e)::type;
      const T* x = static_cast<const T*>(job.core.x);
      const T* y = static_cast<const T*>(job.core.y);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = i % C, rest = i / C, b = rest / hw, pix = rest % hw;
        const std::size_t o = (b * C + c) * hw + pix;
        xd[o] = toIntensity(x[i], job.core.params.inputScale);
        yd[o] = toIntensity(y[i], job.core.params.inputScale);
      }
    });
  }

  void pool(const void* xs, const void* ys, DType dt, float scale, int j, float* xd, float* yd) const {
    const int h = L.h[j - 1], w = L.w[j - 1], ph = L.h[j], pw = L.w[j], oh = h & 1, ow = w & 1;
    withElementType(dt, [&](auto e) {
      using T = typename decltype(e)::type;
      const T* srcs[2] = {static_cast<const T*>(xs), static_cast<const T*>(ys)};
      float* dsts[2] = {xd, yd};
      for (int k = 0; k < 2; ++k)
        for (int p = 0; p < L.planes; ++p)
          for (int r = 0; r < ph; ++r)
            for (int c = 0; c < pw; ++c) {
              float s = 0.0f;
              for (int a = 0; a < 2; ++a)
                for (int b = 0; b < 2; ++b) {
                  const int rr = 2 * r - oh + a, cc = 2 * c - ow + b;
                  if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
                  s += toIntensity(srcs[k][(std::size_t(p) * h + rr) * w + cc], scale);
                }
              dsts[k][(std::size_t(p) * ph + r) * pw + c] = 0.25f * s;
            }
    });
  }

  struct NoSync {
    void operator()() const {}
  };

  void pyramid(const void* xs, const void* ys, DType dt, float scale, int from) const {
    float* xd[kMaxScales] = {};
    float* yd[kMaxScales] = {};
    for (int j = 1; j < L.scales; ++j) {
      xd[j] = scratchAt(L.x[j]);
      yd[j] = scratchAt(L.y[j]);
    }
    if (!Tiled) {
      for (int j = from + 1; j < L.scales; ++j) {
        pool(xs, ys, dt, scale, j, xd[j], yd[j]);
        xs = xd[j];
        ys = yd[j];
        dt = DType::F32;
        scale = 1.0f;
      }
      return;
    }
    std::vector<float> shared(kPyramidSharedFloats);
    forEachPoolPass(L, xd, yd, from, [&](const PyramidPass& pass, const PyramidLevels& xl, const PyramidLevels& yl) {
      const bool first = pass.lo == 0;
      withElementType(first ? dt : DType::F32, [&](auto e) {
        using T = typename decltype(e)::type;
        const T* xsrc = static_cast<const T*>(first ? xs : xd[pass.lo]);
        const T* ysrc = static_cast<const T*>(first ? ys : yd[pass.lo]);
        PyramidPass p = pass;
        p.alignedRows = quadRowsAligned(pass, xsrc, ysrc);
        for (long long t = 0; t < p.tiles(); ++t) {
          poolPyramidTile(p, xsrc, ysrc, first ? scale : 1.0f, xl, yl, t, shared.data(), 0, 1, NoSync{});
        }
      });
      return true;
    });
  }

  void forkCoarse() const {}
  void endCoarse() const {}
  void joinCoarse() const {}

  // (kForward: the whole SSIM gradient into sj.grad, which ssimBackwardFolded finishes in place.)
  void ssim(const SsimJob& sj, ScalePhase) const { computeSsimCpu(sj, 1); }

  bool ssimPooling(const SsimJob& sj, ScalePhase phase, int j) const {
    if (!PoolFirst) return false;
    ssim(sj, phase);
    pool(sj.x, sj.y, sj.dtype, sj.params.inputScale, j + 1, scratchAt(L.x[j + 1]), scratchAt(L.y[j + 1]));
    return true;
  }
  bool poolsAtCoarseScale(int) const { return PoolFirst; }

  bool foldsScaleZero() const { return Fold; }
  void ssimBackwardFolded(const SsimJob& sj, const float* up, float mult) const {
    accumulateLevel(0, sj.grad, up, sj.grad, false, mult);
  }

  void combine(const float* vals, float* factors) const {
    const ImageShape& s = job.core.shape;
    for (int b = 0; b < s.batch; ++b) {
      const float v = combineMsssimImage(b, s.channels, L.planes, job.scales, job.weights, vals, factors,
                                         job.core.params.valueOffset, job.core.params.valueScale);
      if (job.core.out != nullptr) job.core.out[b] = v;
    }
  }

  void accumulateLevel(int j, const float* g, const float* coarse, float* dst, bool hwc, float mult) const {
    const int h = L.h[j], w = L.w[j], oh = h & 1, ow = w & 1;
    const int ch = j + 1 < L.scales ? L.h[j + 1] : 1, cw = j + 1 < L.scales ? L.w[j + 1] : 1;
    const float* f = scratchAt(L.factors) + std::size_t(j) * L.planes;
    const std::size_t C = std::size_t(job.core.shape.channels);
    for (int p = 0; p < L.planes; ++p)
      for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c) {
          const std::size_t i = (std::size_t(p) * h + r) * w + c;
          float v = f[p] * g[i];
          if (coarse != nullptr) v += 0.25f * coarse[(std::size_t(p) * ch + ((r + oh) >> 1)) * cw + ((c + ow) >> 1)];
          v *= mult;
          if (!hwc) dst[i] = v;
          else dst[((std::size_t(p) / C) * std::size_t(h) * w + std::size_t(r) * w + c) * C + std::size_t(p) % C] = v;
        }
  }

  void accumulate(float* const* g, float* const* dst, bool hwc, float mult, bool bottom) const {
    if (!Tiled) {
      for (int j = L.scales - 1; j >= (bottom ? 0 : 1); --j)
        accumulateLevel(j, g[j], j + 1 < L.scales ? dst[j + 1] : nullptr, dst[j], j == 0 && hwc, j == 0 ? mult : 1.0f);
      return;
    }
    std::vector<float> shared(kPyramidSharedFloats);
    forEachAccumulatePass(L, g, dst, [&](const PyramidPass& pass, const PyramidLevels& gl, const PyramidLevels& dl,
                                         const float* top) {
      for (long long t = 0; t < pass.tiles(); ++t) {
        accumulatePyramidTile(pass, gl, dl, top, scratchAt(L.factors), t, shared.data(), 0, 1, NoSync{});
      }
      return true;
    });
    if (!bottom) return;
    const BottomGeometry geo = bottomGeometry(L, int(job.core.shape.channels), hwc);
    const float* up = L.scales > 1 ? dst[1] : nullptr;
    for (int p = 0; p < L.planes; ++p)
      for (int r = 0; r < geo.h; ++r)
        for (int c = 0; c < geo.w; ++c) {
          const float u = up != nullptr ? up[geo.upIndex(p, r, c)] : 0.0f;
          dst[0][geo.dstIndex(p, r, c)] = accumulateBottom(scratchAt(L.factors)[p], g[0][geo.index(p, r, c)], up != nullptr, u, mult);
        }
  }
};

template <bool Tiled, bool PoolFirst = false, bool Fold = false>
void referenceMsssim(const MsssimJob& job) {
  const MsssimLayout L = msssimLayout(job.core.shape, job.scales, job.core.grad != nullptr);
  std::vector<float> scratch(L.floats == 0 ? 1 : L.floats);
  ReferenceOps<Tiled, PoolFirst, Fold> ops{job, L, scratch.data()};
  composeMsssim(job, L, ops);
}
struct Case {
  int B, C, H, W;
  bool chw;
  DType dt;
  int scales;
  bool valid;
  int radius;
  std::string describe() const {
    const char* names[] = {"f32", "f64", "u8", "u16", "f16", "bf16"};
    return std::to_string(B) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W) +
           (chw ? " chw " : " hwc ") + names[int(dt)] + " scales " + std::to_string(scales) +
           (valid ? " valid" : " same") + " window " + std::to_string(2 * radius + 1);
  }
};

struct Inputs {
  std::vector<std::uint8_t> x, y;  // raw bytes of dtype
};

template <typename T>
T fromUnit(float v, DType dt) {
  if constexpr (std::is_same_v<T, Float16>) {
    return Float16{floatToHalfBits(v)};
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return BFloat16{floatToBfloat16Bits(v)};
  } else {
    if (dt == DType::U8) return T(std::lround(v * 255.0f));
    if (dt == DType::U16) return T(std::lround(v * 65535.0f));
    return T(v);
  }
}

Inputs makeInputs(const Case& k, std::mt19937& rng) {
  const std::size_t n = std::size_t(k.B) * k.C * k.H * k.W;
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Inputs in;
  in.x.resize(n * dtypeBytes(k.dt));
  in.y.resize(n * dtypeBytes(k.dt));
  withElementType(k.dt, [&](auto e) {
    using T = typename decltype(e)::type;
    T* x = reinterpret_cast<T*>(in.x.data());
    T* y = reinterpret_cast<T*>(in.y.data());
    for (std::size_t i = 0; i < n; ++i) {
      const float a = u(rng), b = std::fmin(1.0f, std::fmax(0.0f, a + 0.3f * (u(rng) - 0.5f)));
      x[i] = fromUnit<T>(a, k.dt);
      y[i] = fromUnit<T>(b, k.dt);
    }
  });
  return in;
}

MsssimJob makeJob(const Case& k, const Inputs& in) {
  MsssimJob job;
  job.core.shape = ImageShape{k.B, k.C, k.H, k.W, k.chw};
  job.core.dtype = k.dt;
  job.core.x = in.x.data();
  job.core.y = in.y.data();
  job.core.params.radius = k.radius;
  gaussianTaps(k.radius, 1.5, job.core.params.taps);
  job.core.params.valid = k.valid;
  job.core.params.inputScale = k.dt == DType::U8 ? 1.0f / 255.0f : k.dt == DType::U16 ? 1.0f / 65535.0f : 1.0f;
  job.core.params.valueOffset = k.scales % 2 ? 0.0f : 1.0f;  // DSSIM-like for some cases
  job.core.params.valueScale = k.scales % 2 ? 1.0f : -0.5f;
  job.core.params.gradFactor = k.dt == DType::U8 || k.dt == DType::U16 ? 1.0f : 0.5f;
  job.scales = k.scales;
  for (int j = 0; j < k.scales; ++j) job.weights[j] = k.scales == 5 ? kDefaultMsssimWeights[j] : 1.0f / k.scales + 0.01f * j;
  return job;
}

struct Result {
  std::vector<float> value, both, grad, gradOnly;
};

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
bool sameBits(const Result& a, const Result& b) {
  return sameBits(a.value, b.value) && sameBits(a.both, b.both) && sameBits(a.grad, b.grad) && sameBits(a.gradOnly, b.gradOnly);
}

// Value only, value and gradient, gradient only; outputs poisoned with NaN first.
template <typename F>
Result run(const Case& k, MsssimJob job, F&& compute) {
  const std::size_t n = std::size_t(k.B) * k.C * k.H * k.W;
  Result r;
  r.value.assign(std::size_t(k.B), NAN);
  r.both.assign(std::size_t(k.B), NAN);
  r.grad.assign(n, NAN);
  r.gradOnly.assign(n, NAN);
  job.core.out = r.value.data();
  job.core.grad = nullptr;
  compute(job);
  job.core.out = r.both.data();
  job.core.grad = r.grad.data();
  compute(job);
  job.core.out = nullptr;
  job.core.grad = r.gradOnly.data();
  compute(job);
  return r;
}

bool allFinite(const Result& r) {
  for (float v : r.value) if (!std::isfinite(v)) return false;
  for (float v : r.grad) if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

int main() {
  std::mt19937 rng(std::random_device{}());
  const Case cases[] = {
      {1, 3, 181, 203, false, DType::F32, 5, true, 5},   {2, 3, 97, 131, false, DType::F32, 3, false, 5},
      {1, 3, 161, 161, true, DType::F32, 5, true, 5},    {2, 4, 75, 66, false, DType::U8, 3, true, 3},
      {1, 1, 120, 121, false, DType::F64, 4, false, 4},  {3, 2, 47, 59, true, DType::U16, 2, false, 5},
      {1, 3, 64, 77, false, DType::F16, 1, false, 5},    {2, 3, 50, 41, false, DType::BF16, 3, false, 3},
      {1, 5, 90, 100, false, DType::F32, 4, false, 5},   {1, 2, 33, 40, true, DType::U8, 5, false, 5},
      // large enough that the pooling and the accumulation use several workers too
      {1, 3, 407, 515, false, DType::F32, 5, true, 5},   {2, 2, 300, 401, true, DType::U8, 3, false, 5},
      // more scales than one pyramid pass holds; sides that reach 1
      {1, 2, 150, 171, true, DType::F32, 7, false, 2},   {2, 1, 9, 13, false, DType::U8, 6, false, 1},
      {1, 3, 129, 257, false, DType::F16, 10, false, 3},
      // float32 rows of a multiple of 4 (the pyramid's pooling four floats at a time): odd heights,
      // odd sides further up (padding columns at level 1), and scale 1 of a multiple of 4
      {1, 3, 181, 204, true, DType::F32, 5, true, 5},    {2, 2, 97, 408, true, DType::F32, 3, false, 5},
      {2, 1, 64, 68, true, DType::F32, 2, false, 4},
      // sides multiples of 4 all the way to scale 2 (level 1 and level 2 without padding)
      {1, 3, 120, 160, true, DType::F32, 5, false, 5},   {2, 1, 64, 68, true, DType::F32, 3, true, 3},
  };
  const int threadCounts[] = {1, 2, 3, 4, 7, 16};
  for (const Case& k : cases) {
    const Inputs in = makeInputs(k, rng);
    const MsssimJob job = makeJob(k, in);
    const Result ref = run(k, job, [](const MsssimJob& j) { referenceMsssim<false>(j); });
    report(allFinite(ref), "reference is finite: " + k.describe());
    const Result tiled = run(k, job, [](const MsssimJob& j) { referenceMsssim<true>(j); });
    report(sameBits(tiled, ref), "the CUDA path's pyramid tiles == pooling and accumulating one level at a time: " + k.describe());
    const Result poolFirst = run(k, job, [](const MsssimJob& j) { referenceMsssim<true, true, true>(j); });
    report(sameBits(poolFirst, ref),
           "scales 1 and 2 pooled with the SSIM of the scale below, the rest after, scale 0's gradient finished last (the CUDA order for float32 planar) == the other order: " +
               k.describe());
    const Result folded = run(k, job, [](const MsssimJob& j) { referenceMsssim<true, false, true>(j); });
    report(sameBits(folded, ref), "scale 0's gradient finished after the combination (the CUDA order for other planar inputs) == the other order: " + k.describe());
    bool same = true;
    for (int t : threadCounts) {
      const Result got = run(k, job, [t](const MsssimJob& j) { computeMsssimCpu(j, t); });
      if (!sameBits(got, ref)) {
        same = false;
        std::printf("  threads %d: value %.9g vs %.9g\n", t, double(got.both[0]), double(ref.both[0]));
      }
    }
    report(same, "bitwise identical to the composition, threads 1,2,3,4,7,16: " + k.describe());
    report(sameBits(ref.value, ref.both), "value alone == value with gradient: " + k.describe());
  }

  {  // concurrent calls share the scratch cache: each must match a single call
    const Case k{2, 3, 200, 250, false, DType::F32, 5, true, 5};
    const Inputs in = makeInputs(k, rng);
    const MsssimJob job = makeJob(k, in);
    const Result single = run(k, job, [](const MsssimJob& j) { computeMsssimCpu(j, 2); });
    std::vector<Result> got(6);
    std::vector<std::thread> ts;
    for (std::size_t i = 0; i < got.size(); ++i)
      ts.emplace_back([&, i] {
        for (int rep = 0; rep < 3; ++rep) got[i] = run(k, job, [](const MsssimJob& j) { computeMsssimCpu(j, 2); });
      });
    for (std::thread& t : ts) t.join();
    bool ok = true;
    for (const Result& r : got) ok = ok && sameBits(r, single);
    report(ok, "concurrent calls from 6 threads match a single call: " + k.describe());
  }

  if (gFailed == 0) std::printf("PASS: %d checks, 0 failed\n", gChecks);
  else std::printf("FAIL: %d checks, %d failed\n", gChecks, gFailed);
  return gFailed == 0 ? 0 : 1;
}
