// Standalone check of the CUDA path (cuda/gpu/ssim_cuda.cu) against a float64 host reference.
//
//   nvcc -std=c++17 -O3 -arch=sm_90 -I cuda test/native/kernel_check.cu cuda/gpu/ssim_cuda.cu -o kernel_check
//   ./kernel_check            # correctness cases, then a short timing table
//   ./kernel_check --no-bench # correctness only
//   ./kernel_check --quick    # only the cases of at most 2000 tiles (for slow emulation), no timing
//   ./kernel_check --bench-only [--bench-full]   # timing table only (--bench-full: extra rows)
//   ./kernel_check --case "b8_3ch_4k_fwd chw"    # one timing row (e.g. under ncu)
//   ./kernel_check --parts    # only the parts launches (launchSsimParts)
//   compute-sanitizer ./kernel_check --no-bench   (memcheck; also try --tool racecheck)
//
// For every case: random x and y, outputs poisoned with NaN, launchSsim for value only,
// gradient only and both, each TWICE on the same workspace (the per-image counters must reset),
// compared with a direct (non-separable) float64 implementation written here: 2-D window sums,
// the SSIM map, its mean, and the gradient from the alpha/beta/gamma formulas of cuda/common/MATH.md.
// Exits non-zero on any failure.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "common/fast_divide.h"
#include "common/ssim_math.h"
#include "common/ssim_types.h"
#include "gpu/launch_overlap.cuh"
#include "gpu/ssim_cuda.h"

using namespace cudassim;

#define CK(call)                                                                             \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      std::fprintf(stderr, "%s:%d: %s -> %s (%s)\n", __FILE__, __LINE__, #call,              \
                   cudaGetErrorName(e_), cudaGetErrorString(e_));                            \
      std::exit(2);                                                                          \
    }                                                                                        \
  } while (0)

namespace {

constexpr double kValueTol = 1e-5;
constexpr double kGradTol = 1e-4;
constexpr double kIdentityTol = 1e-6;

struct Case {
  std::string name;
  int B, C, H, W;
  bool chw;
  DType dt;
  int window;
  bool valid;
  float offset, scale;  // value = offset + scale * mean SSIM
  bool identity;        // y is x (same device pointer); reference: value 1, gradient 0
  double kScale = 1.0;  // k1 = 0.01 kScale, k2 = 0.03 kScale (tiny: the exact-reciprocal kernels)
};

const char* dtName(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::U8: return "u8";
    case DType::U16: return "u16";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
  }
  return "?";
}

float dtScale(DType d) {
  switch (d) {
    case DType::U8: return 1.0f / 255.0f;
    case DType::U16: return 1.0f / 65535.0f;
    default: return 1.0f;
  }
}

// Raw host bytes of x and y in the dtype, plus the float intensities the kernels see
// (float(v) * inputScale, float arithmetic, like the GPU).
struct Inputs {
  std::vector<unsigned char> xRaw, yRaw;
  std::vector<float> xf, yf;
};

template <typename T>
void fillTyped(const Case& c, std::mt19937_64& rng, Inputs& in) {
  const std::size_t n = std::size_t(c.B) * c.C * c.H * c.W;
  std::vector<T> x(n), y(n);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.12);
  const double maxv = c.dt == DType::U8 ? 255.0 : c.dt == DType::U16 ? 65535.0 : 1.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = u01(rng);
    double b = a + noise(rng);
    b = b < 0.0 ? 0.0 : b > 1.0 ? 1.0 : b;
    if constexpr (std::is_same<T, Float16>::value) {  // rounded to nearest even
      x[i] = Float16{floatToHalfBits(float(a))};
      y[i] = Float16{floatToHalfBits(float(b))};
    } else if constexpr (std::is_same<T, BFloat16>::value) {
      x[i] = BFloat16{floatToBfloat16Bits(float(a))};
      y[i] = BFloat16{floatToBfloat16Bits(float(b))};
    } else if (c.dt == DType::U8 || c.dt == DType::U16) {
      x[i] = T(std::lround(a * maxv));
      y[i] = T(std::lround(b * maxv));
    } else {
      x[i] = T(a);
      y[i] = T(b);
    }
  }
  if (c.identity) y = x;
  in.xRaw.resize(n * sizeof(T));
  in.yRaw.resize(n * sizeof(T));
  std::memcpy(in.xRaw.data(), x.data(), n * sizeof(T));
  std::memcpy(in.yRaw.data(), y.data(), n * sizeof(T));
  const float s = dtScale(c.dt);
  in.xf.resize(n);
  in.yf.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    in.xf[i] = float(x[i]) * s;
    in.yf[i] = float(y[i]) * s;
  }
}

Inputs makeInputs(const Case& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Inputs in;
  switch (c.dt) {
    case DType::F32: fillTyped<float>(c, rng, in); break;
    case DType::F64: fillTyped<double>(c, rng, in); break;
    case DType::U8: fillTyped<std::uint8_t>(c, rng, in); break;
    case DType::U16: fillTyped<std::uint16_t>(c, rng, in); break;
    case DType::F16: fillTyped<Float16>(c, rng, in); break;
    case DType::BF16: fillTyped<BFloat16>(c, rng, in); break;
  }
  return in;
}

ImageShape shapeOf(const Case& c) {
  ImageShape s;
  s.batch = c.B;
  s.channels = c.C;
  s.height = c.H;
  s.width = c.W;
  s.chw = c.chw;
  return s;
}

SsimParams paramsOf(const Case& c) {
  SsimParams p;
  p.radius = c.window / 2;
  gaussianTaps(p.radius, 1.5, p.taps);
  p.c1 = float((0.01 * c.kScale) * (0.01 * c.kScale));
  p.c2 = float((0.03 * c.kScale) * (0.03 * c.kScale));
  p.inputScale = dtScale(c.dt);
  p.valid = c.valid;
  p.valueOffset = c.offset;
  p.valueScale = c.scale;
  return p;
}

// ---------------------------------------------------------------------------------------------
// float64 reference, deliberately naive: 2-D window sums, no separability, no shared code with
// the kernels except the float taps (so that only the arithmetic precision differs).
struct Reference {
  std::vector<double> value;  // batch
  std::vector<double> grad;   // elems, x's layout
};

Reference reference(const Case& c, const Inputs& in, const SsimParams& p, bool wantGrad) {
  const ImageShape s = shapeOf(c);
  const int H = c.H, W = c.W, r = p.radius;
  const MapRegion m = mapRegion(s, p);
  const double M = double(m.count());
  double w1[kMaxRadius + 1];
  for (int k = 0; k <= kMaxRadius; ++k) w1[k] = k <= r ? double(p.taps[k]) : 0.0;
  const double c1 = p.c1, c2 = p.c2;
  Reference ref;
  ref.value.assign(c.B, 0.0);
  if (wantGrad) ref.grad.assign(s.elems(), 0.0);

  std::vector<double> X(std::size_t(H) * W), Y(X.size()), A(X.size()), Bt(X.size()), G(X.size());
  auto blur = [&](const std::vector<double>& src, int yy, int xx) {
    double acc = 0.0;
    for (int dy = -r; dy <= r; ++dy) {
      const int sy = yy + dy;
      if (sy < 0 || sy >= H) continue;
      for (int dx = -r; dx <= r; ++dx) {
        const int sx = xx + dx;
        if (sx < 0 || sx >= W) continue;
        acc += w1[std::abs(dy)] * w1[std::abs(dx)] * src[std::size_t(sy) * W + sx];
      }
    }
    return acc;
  };
  for (int b = 0; b < c.B; ++b) {
    double sum = 0.0;
    for (int ch = 0; ch < c.C; ++ch) {
      for (int yy = 0; yy < H; ++yy)
        for (int xx = 0; xx < W; ++xx) {
          const std::size_t o = s.offset(b, ch, yy, xx);
          X[std::size_t(yy) * W + xx] = in.xf[o];
          Y[std::size_t(yy) * W + xx] = in.yf[o];
        }
      std::fill(A.begin(), A.end(), 0.0);
      std::fill(Bt.begin(), Bt.end(), 0.0);
      std::fill(G.begin(), G.end(), 0.0);
      for (int yy = m.y0; yy < m.y1; ++yy)
        for (int xx = m.x0; xx < m.x1; ++xx) {
          double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
          for (int dy = -r; dy <= r; ++dy) {
            const int sy = yy + dy;
            if (sy < 0 || sy >= H) continue;
            for (int dx = -r; dx <= r; ++dx) {
              const int sx = xx + dx;
              if (sx < 0 || sx >= W) continue;
              const double w = w1[std::abs(dy)] * w1[std::abs(dx)];
              const double xv = X[std::size_t(sy) * W + sx], yv = Y[std::size_t(sy) * W + sx];
              mx += w * xv;
              my += w * yv;
              exx += w * xv * xv;
              eyy += w * yv * yv;
              exy += w * xv * yv;
            }
          }
          const double sxx = std::max(exx - mx * mx, 0.0);
          const double syy = std::max(eyy - my * my, 0.0);
          const double sxy = exy - mx * my;
          const double a1 = 2 * mx * my + c1, a2 = 2 * sxy + c2;
          const double b1 = mx * mx + my * my + c1, b2 = sxx + syy + c2;
          const double S = a1 * a2 / (b1 * b2);
          sum += std::min(S, 1.0);
          if (wantGrad) {
            const std::size_t i = std::size_t(yy) * W + xx;
            A[i] = 2.0 / (b1 * b2) * (my * (a2 - a1) - mx * S * (b2 - b1));
            Bt[i] = -S / b2;
            G[i] = 2.0 * a1 / (b1 * b2);
          }
        }
      if (wantGrad) {
        const double k = double(p.valueScale) / (double(c.C) * M);
        for (int yy = 0; yy < H; ++yy)
          for (int xx = 0; xx < W; ++xx) {
            const std::size_t i = std::size_t(yy) * W + xx;
            ref.grad[s.offset(b, ch, yy, xx)] =
                k * (blur(A, yy, xx) + 2.0 * X[i] * blur(Bt, yy, xx) + Y[i] * blur(G, yy, xx));
          }
      }
    }
    ref.value[b] = double(p.valueOffset) + double(p.valueScale) * sum / (double(c.C) * M);
  }
  return ref;
}

// ---------------------------------------------------------------------------------------------

struct DeviceCase {
  void* x = nullptr;
  void* y = nullptr;
  float* out = nullptr;
  float* grad = nullptr;
  void* ws = nullptr;        // gradient-capable workspace, wsImages = B + 3, wsElements = elems + 33
  void* wsValue = nullptr;   // value-only workspace of exactly workspaceBytes(B, elems, false)
  void* wsGrad = nullptr;    // gradient workspace of exactly workspaceBytes(B, elems, true)
  int wsImages = 0;
  std::size_t wsElements = 0;
  std::size_t wsBytes = 0, wsValueBytes = 0;
};

int g_failures = 0;

void report(bool ok, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void report(bool ok, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::printf("%s  ", ok ? "PASS" : "FAIL");
  std::vprintf(fmt, ap);
  std::printf("\n");
  va_end(ap);
  if (!ok) ++g_failures;
}

bool allFinite(const std::vector<float>& v) {
  for (float f : v)
    if (!std::isfinite(f)) return false;
  return true;
}

// The two halves of o (the values of two calls of one job) agree: finite and within 1e-6. A call
// that takes the fused value + gradient kernel sums the map in another order than the two-launch
// design (its gradient agrees bit for bit: the same arithmetic per pixel).
bool valuesAgree(const std::vector<float>& o, int batch) {
  bool ok = allFinite(o);
  for (int b = 0; b < batch; ++b) ok = ok && std::fabs(o[b] - o[batch + b]) <= 1e-6f;
  return ok;
}

// The reduction states of a workspace's first `images` images are all zero.
bool stateIsZero(const void* ws, int images) {
  std::vector<unsigned char> st(std::size_t(images) * 16);
  CK(cudaMemcpy(st.data(), ws, st.size(), cudaMemcpyDeviceToHost));
  for (unsigned char b : st)
    if (b != 0) return false;
  return true;
}

// Largest |out[b] - ref[b]| (INFINITY where it is not finite; NaN outputs need allFinite too:
// std::max drops a NaN).
double valueError(const std::vector<float>& out, const std::vector<double>& ref) {
  double e = 0.0;
  for (std::size_t b = 0; b < out.size(); ++b) e = std::max(e, std::fabs(double(out[b]) - ref[b]));
  return std::isfinite(e) ? e : INFINITY;
}

// The gradient's relative L2 error against the reference (INFINITY where it is not finite) and
// its largest absolute error.
struct GradError {
  double rel = 0.0, maxAbs = 0.0;
};
GradError gradError(const std::vector<float>& grad, const std::vector<double>& ref) {
  double num = 0.0, den = 0.0;
  GradError e;
  for (std::size_t i = 0; i < grad.size(); ++i) {
    const double d = double(grad[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
    e.maxAbs = std::max(e.maxAbs, std::fabs(d));
  }
  e.rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (!std::isfinite(e.rel)) e.rel = INFINITY;
  return e;
}

void runCase(const Case& c, std::uint64_t seed, cudaStream_t stream) {
  const ImageShape s = shapeOf(c);
  const SsimParams p = paramsOf(c);
  const std::size_t n = s.elems();
  const std::size_t eb = dtypeBytes(c.dt);
  char label[256];
  std::snprintf(label, sizeof label, "%-28s B=%d C=%d %dx%d %s %s win=%d %s", c.name.c_str(), c.B,
                c.C, c.H, c.W, c.chw ? "chw" : "hwc", dtName(c.dt), c.window,
                c.valid ? "valid" : "same");

  const Inputs in = makeInputs(c, seed);
  Reference ref;
  if (c.identity) {
    ref.value.assign(c.B, double(c.offset) + double(c.scale));
    ref.grad.assign(n, 0.0);
  } else {
    ref = reference(c, in, p, true);
  }

  DeviceCase d;
  CK(cudaMalloc(&d.x, n * eb));
  CK(cudaMemcpy(d.x, in.xRaw.data(), n * eb, cudaMemcpyHostToDevice));
  if (c.identity) {
    d.y = d.x;
  } else {
    CK(cudaMalloc(&d.y, n * eb));
    CK(cudaMemcpy(d.y, in.yRaw.data(), n * eb, cudaMemcpyHostToDevice));
  }
  CK(cudaMalloc(&d.out, c.B * sizeof(float)));
  CK(cudaMalloc(&d.grad, n * sizeof(float)));
  d.wsImages = c.B + 3;
  d.wsElements = n + 33;
  d.wsBytes = workspaceBytes(d.wsImages, d.wsElements, true);
  CK(cudaMalloc(&d.ws, d.wsBytes));
  CK(cudaMemset(d.ws, 0, d.wsBytes));
  d.wsValueBytes = workspaceBytes(c.B, n, false);
  CK(cudaMalloc(&d.wsValue, d.wsValueBytes));
  CK(cudaMemset(d.wsValue, 0, d.wsValueBytes));
  const std::size_t wsGradBytes = workspaceBytes(c.B, n, true);
  CK(cudaMalloc(&d.wsGrad, wsGradBytes));
  CK(cudaMemset(d.wsGrad, 0, wsGradBytes));

  SsimJob job;
  job.shape = s;
  job.dtype = c.dt;
  job.x = d.x;
  job.y = d.y;
  job.params = p;

  struct Mode {
    const char* name;
    bool value, grad, exactWs;
  };
  const Mode modes[] = {{"value", true, false, false},
                        {"value(ws exact)", true, false, true},
                        {"grad", false, true, false},
                        {"value+grad", true, true, false},
                        {"value+grad(ws exact)", true, true, true}};
  std::vector<float> out(c.B), grad(n), firstGrad;
  for (const Mode& mode : modes) {
    firstGrad.clear();
    std::vector<float> firstOut;
    for (int rep = 0; rep < 2; ++rep) {
      CK(cudaMemsetAsync(d.out, 0xFF, c.B * sizeof(float), stream));   // NaN
      CK(cudaMemsetAsync(d.grad, 0xFF, n * sizeof(float), stream));
      job.out = mode.value ? d.out : nullptr;
      job.grad = mode.grad ? d.grad : nullptr;
      const cudaError_t e =
          mode.exactWs ? launchSsim(job, mode.grad ? d.wsGrad : d.wsValue, c.B, n, stream)
                       : launchSsim(job, d.ws, d.wsImages, d.wsElements, stream);
      if (e != cudaSuccess) {
        report(false, "%s [%s run %d] launchSsim -> %s", label, mode.name, rep + 1, cudaGetErrorName(e));
        continue;
      }
      CK(cudaStreamSynchronize(stream));
      CK(cudaGetLastError());
      double vErr = 0.0, gRel = 0.0, gAbs = 0.0;
      bool finite = true;
      if (mode.value) {
        CK(cudaMemcpy(out.data(), d.out, c.B * sizeof(float), cudaMemcpyDeviceToHost));
        finite = finite && allFinite(out);
        vErr = valueError(out, ref.value);
      }
      bool sameAsFirst = true;
      if (mode.grad) {
        CK(cudaMemcpy(grad.data(), d.grad, n * sizeof(float), cudaMemcpyDeviceToHost));
        finite = finite && allFinite(grad);
        const GradError ge = gradError(grad, ref.grad);
        gRel = ge.rel;
        gAbs = ge.maxAbs;
        if (rep == 0) firstGrad = grad;
        else sameAsFirst = std::memcmp(firstGrad.data(), grad.data(), n * sizeof(float)) == 0;
      }
      double runDiff = 0.0;
      if (mode.value) {
        if (rep == 0) firstOut = out;
        else
          for (int b = 0; b < c.B; ++b)
            runDiff = std::max(runDiff, std::fabs(double(out[b]) - double(firstOut[b])));
      }
      bool ok = finite && sameAsFirst && runDiff <= 1e-6;
      char detail[256] = "";
      if (c.identity) {
        // Value: 1 within 1e-6. Gradient of ssim(x, x): 0; report it relative to the scale of
        // the per-pixel terms (|gradScale| * 1): float cancellation leaves ~1e-6 of it.
        const double gradScale = std::fabs(double(c.scale)) / (double(c.C) * double(mapRegion(s, p).count()));
        const double gNorm = gAbs / gradScale;
        ok = ok && (!mode.value || vErr <= kIdentityTol) && (!mode.grad || gNorm <= 1e-3);
        std::snprintf(detail, sizeof detail, "|v-1|=%.3g  max|grad|/scale=%.3g", vErr, gNorm);
      } else {
        ok = ok && (!mode.value || vErr <= kValueTol) && (!mode.grad || gRel <= kGradTol);
        int len = 0;
        if (mode.value) len += std::snprintf(detail + len, sizeof detail - len, "value max err=%.3g  ", vErr);
        if (mode.grad)
          std::snprintf(detail + len, sizeof detail - len, "grad rel L2=%.3g (max abs err %.3g)", gRel, gAbs);
      }
      report(ok, "%s [%-15s run %d] %s%s%s%s", label, mode.name, rep + 1, detail,
             finite ? "" : "  NON-FINITE", sameAsFirst ? "" : "  GRAD DIFFERS BETWEEN RUNS",
             runDiff <= 1e-6 ? "" : "  VALUE DIFFERS BETWEEN RUNS");
    }
  }
  // Every completed launch must leave the reduction state zeroed.
  const bool z = stateIsZero(d.ws, d.wsImages);
  const bool z2 = stateIsZero(d.wsValue, c.B) && stateIsZero(d.wsGrad, c.B);
  report(z && z2, "%s [state reset] reduction state zero after the runs", label);

  CK(cudaFree(d.x));
  if (!c.identity) CK(cudaFree(d.y));
  CK(cudaFree(d.out));
  CK(cudaFree(d.grad));
  CK(cudaFree(d.ws));
  CK(cudaFree(d.wsValue));
  CK(cudaFree(d.wsGrad));
}

// MS-SSIM's scale 1 written by the forward (MsssimHooks poolX / poolY, where forwardPools says it
// can): the 2 x 2 average pooling of x and y within 1e-6 of a float64 pooling of the intensities
// (zero padding, an odd side's windows one row / column early), every pooled pixel written and
// nothing past them (NaN-poisoned guards), and the values and gradients bit for bit those of the
// same call without pooling. `poolable`: what forwardPools must answer.
struct PoolCase {
  const char* name;
  int B, C, H, W;
  DType dt;
  bool valid, grad, poolable;
};

void checkPooling(std::uint64_t seed, cudaStream_t stream) {
  const PoolCase cases[] = {
      {"1x1", 1, 1, 1, 1, DType::F32, false, false, true},
      {"17x1 grad", 1, 1, 17, 1, DType::F32, false, true, true},
      {"3000x7", 1, 1, 3000, 7, DType::F32, false, false, true},
      {"233x1001 rgb chw (odd sides)", 1, 3, 233, 1001, DType::F32, false, false, true},
      {"233x1001 rgb chw grad", 1, 3, 233, 1001, DType::F32, false, true, true},
      {"233x257 rgb chw (packing saves 2 of 9 strips: no)", 1, 3, 233, 257, DType::F32, false, false, false},
      {"301x460 rgb chw b2 grad", 2, 3, 301, 460, DType::F32, false, true, true},
      {"1080x1920 rgb chw", 1, 3, 1080, 1920, DType::F32, false, false, true},
      {"1081x1919 grad", 1, 1, 1081, 1919, DType::F32, false, true, true},
      {"300x517 valid grad (every pixel computed)", 1, 2, 300, 517, DType::F32, true, true, true},
      {"300x517 valid value (the map only: no)", 1, 2, 300, 517, DType::F32, true, false, false},
      {"300x517 u8 (not float32: no)", 1, 1, 300, 517, DType::U8, false, false, false},
      {"256x256 b32 rgb chw (packed: no)", 32, 3, 256, 256, DType::F32, false, true, false},
  };
  for (const PoolCase& pc : cases) {
    Case c{pc.name, pc.B, pc.C, pc.H, pc.W, true, pc.dt, 11, pc.valid, 0.0f, 1.0f, false};
    const ImageShape s = shapeOf(c);
    const std::size_t n = s.elems(), eb = dtypeBytes(c.dt);
    const int ph = (c.H + 1) / 2, pw = (c.W + 1) / 2;
    const std::size_t pn = std::size_t(c.B) * c.C * ph * pw;
    constexpr std::size_t kGuard = 64;
    const Inputs in = makeInputs(c, seed++);
    void *x = nullptr, *y = nullptr, *ws = nullptr;
    float *out = nullptr, *grad = nullptr, *pool = nullptr;
    CK(cudaMalloc(&x, n * eb));
    CK(cudaMalloc(&y, n * eb));
    CK(cudaMemcpy(x, in.xRaw.data(), n * eb, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(y, in.yRaw.data(), n * eb, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&out, 2 * c.B * sizeof(float)));
    CK(cudaMalloc(&grad, 2 * n * sizeof(float)));
    CK(cudaMalloc(&pool, 2 * (pn + kGuard) * sizeof(float)));
    const std::size_t wsBytes = workspaceBytes(c.B, n, pc.grad);
    CK(cudaMalloc(&ws, wsBytes));
    CK(cudaMemset(ws, 0, wsBytes));
    CK(cudaMemset(out, 0xFF, 2 * c.B * sizeof(float)));
    CK(cudaMemset(grad, 0xFF, 2 * n * sizeof(float)));
    CK(cudaMemset(pool, 0xFF, 2 * (pn + kGuard) * sizeof(float)));
    SsimJob job;
    job.shape = s;
    job.dtype = c.dt;
    job.x = x;
    job.y = y;
    job.params = paramsOf(c);
    job.out = out;
    job.grad = pc.grad ? grad : nullptr;
    const bool poolable = forwardPools(job);
    report(poolable == pc.poolable, "%-50s [pool] forwardPools says %s", pc.name, poolable ? "yes" : "no");
    if (poolable) {
      CK(launchSsim(job, ws, c.B, n, stream));
      job.out = out + c.B;
      job.grad = pc.grad ? grad + n : nullptr;
      MsssimHooks hooks;
      hooks.poolX = pool;
      hooks.poolY = pool + pn + kGuard;
      CK(launchSsim(job, ws, c.B, n, stream, false, &hooks));
      CK(cudaStreamSynchronize(stream));
      std::vector<float> o(2 * c.B), g(pc.grad ? 2 * n : 0), pl(2 * (pn + kGuard));
      CK(cudaMemcpy(o.data(), out, o.size() * sizeof(float), cudaMemcpyDeviceToHost));
      if (pc.grad) CK(cudaMemcpy(g.data(), grad, g.size() * sizeof(float), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(pl.data(), pool, pl.size() * sizeof(float), cudaMemcpyDeviceToHost));
      const bool same =
          valuesAgree(o, c.B) && (!pc.grad || std::memcmp(g.data(), g.data() + n, n * sizeof(float)) == 0);
      double maxErr = 0.0;
      bool written = true, guards = true;
      const int oh = c.H & 1, ow = c.W & 1;
      for (int k = 0; k < 2; ++k) {
        const std::vector<float>& src = k == 0 ? in.xf : in.yf;
        const float* got = pl.data() + k * (pn + kGuard);
        for (std::size_t i = 0; i < kGuard; ++i) guards = guards && std::isnan(got[pn + i]);
        for (int p = 0; p < c.B * c.C; ++p)
          for (int r = 0; r < ph; ++r)
            for (int q = 0; q < pw; ++q) {
              double sum = 0.0;
              for (int a = 0; a < 2; ++a)
                for (int b = 0; b < 2; ++b) {
                  const int rr = 2 * r - oh + a, cc = 2 * q - ow + b;
                  if (rr >= 0 && rr < c.H && cc >= 0 && cc < c.W) sum += src[(std::size_t(p) * c.H + rr) * c.W + cc];
                }
              const float v = got[(std::size_t(p) * ph + r) * pw + q];
              written = written && std::isfinite(v);
              maxErr = std::max(maxErr, std::fabs(double(v) - 0.25 * sum));
            }
      }
      report(same && written && guards && maxErr <= 1e-6,
             "%-50s [pool] scale 1 max err %.3g%s%s%s", pc.name, maxErr, written ? "" : "  NOT ALL WRITTEN",
             guards ? "" : "  WRITTEN PAST THE END", same ? "" : "  VALUES OR GRADIENT DIFFER FROM THE CALL WITHOUT POOLING");
    } else {
      MsssimHooks hooks;
      hooks.poolX = pool;
      hooks.poolY = pool + pn + kGuard;
      report(launchSsim(job, ws, c.B, n, stream, false, &hooks) == cudaErrorInvalidValue,
             "%-50s [pool] launchSsim refuses a PoolTarget", pc.name);
    }
    CK(cudaFree(x));
    CK(cudaFree(y));
    CK(cudaFree(out));
    CK(cudaFree(grad));
    CK(cudaFree(pool));
    CK(cudaFree(ws));
  }
}

// MS-SSIM's scale 0 split in two (MsssimHooks): the forward alone (values as the whole call's,
// the gradient untouched), then the backward alone finishing the gradient as
// mult (f[plane] g + 1/4 up[parent]) with random factors and a random scale 1 gradient: bit for
// bit that formula in float on the host from the whole call's gradient g (the same roundings,
// common/msssim_pyramid.h accumulateBottom). Planar layouts, packed ones among them.
void checkFold(std::uint64_t seed, cudaStream_t stream) {
  struct FoldCase {
    const char* name;
    int B, C, H, W;
    DType dt;
    bool withUp;
  };
  const FoldCase cases[] = {
      {"301x460 rgb chw b2", 2, 3, 301, 460, DType::F32, true},
      {"233x257 rgb chw (packed)", 1, 3, 233, 257, DType::F32, true},
      {"256x256 b8 rgb chw (packed)", 8, 3, 256, 256, DType::F32, true},
      {"50x61 c1 b9 u8 (packed, odd)", 9, 1, 50, 61, DType::U8, true},
      {"17x1 one scale", 1, 1, 17, 1, DType::F32, false},
      {"1081x1919 f16", 1, 1, 1081, 1919, DType::F16, true},
  };
  for (const FoldCase& fc : cases) {
    Case c{fc.name, fc.B, fc.C, fc.H, fc.W, true, fc.dt, 11, false, 0.0f, 1.0f, false};
    const ImageShape s = shapeOf(c);
    const std::size_t n = s.elems(), eb = dtypeBytes(c.dt);
    const int planes = c.B * c.C, uh = (c.H + 1) / 2, uw = (c.W + 1) / 2;
    const std::size_t un = std::size_t(planes) * uh * uw;
    const Inputs in = makeInputs(c, seed++);
    std::mt19937_64 rng(seed++);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> factors(planes), up(un);
    for (float& f : factors) f = u(rng);
    for (float& v : up) v = 1e-4f * u(rng);
    const float mult = 0.75f;
    void *x = nullptr, *y = nullptr, *ws = nullptr;
    float *out = nullptr, *grad = nullptr, *df = nullptr, *du = nullptr;
    CK(cudaMalloc(&x, n * eb));
    CK(cudaMalloc(&y, n * eb));
    CK(cudaMemcpy(x, in.xRaw.data(), n * eb, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(y, in.yRaw.data(), n * eb, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&out, 2 * c.B * sizeof(float)));
    CK(cudaMalloc(&grad, 2 * n * sizeof(float)));
    CK(cudaMalloc(&df, planes * sizeof(float)));
    CK(cudaMalloc(&du, un * sizeof(float)));
    CK(cudaMemcpy(df, factors.data(), planes * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(du, up.data(), un * sizeof(float), cudaMemcpyHostToDevice));
    const std::size_t wsBytes = workspaceBytes(c.B, n, true);
    CK(cudaMalloc(&ws, wsBytes));
    CK(cudaMemset(ws, 0, wsBytes));
    CK(cudaMemset(out, 0xFF, 2 * c.B * sizeof(float)));
    CK(cudaMemset(grad, 0xFF, 2 * n * sizeof(float)));
    SsimJob job;
    job.shape = s;
    job.dtype = c.dt;
    job.x = x;
    job.y = y;
    job.params = paramsOf(c);
    job.out = out;
    job.grad = grad;
    CK(launchSsim(job, ws, c.B, n, stream));  // whole: g
    job.out = out + c.B;
    job.grad = grad + n;
    MsssimHooks fwd;
    fwd.forwardOnly = true;
    CK(launchSsim(job, ws, c.B, n, stream, false, &fwd));
    CK(cudaStreamSynchronize(stream));
    std::vector<float> o(2 * c.B), g(2 * n);
    CK(cudaMemcpy(g.data(), grad, g.size() * sizeof(float), cudaMemcpyDeviceToHost));
    bool untouched = true;
    for (std::size_t i = n; i < 2 * n; ++i) untouched = untouched && std::isnan(g[i]);
    MsssimHooks bwd;
    bwd.backwardOnly = true;
    bwd.factors = df;
    bwd.up = fc.withUp ? du : nullptr;
    bwd.mult = mult;
    CK(launchSsim(job, ws, c.B, n, stream, false, &bwd));
    CK(cudaStreamSynchronize(stream));
    CK(cudaMemcpy(o.data(), out, o.size() * sizeof(float), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(g.data(), grad, g.size() * sizeof(float), cudaMemcpyDeviceToHost));
    const bool sameValues = valuesAgree(o, c.B);
    std::size_t mismatches = 0;
    for (int p = 0; p < planes; ++p)
      for (int r = 0; r < c.H; ++r)
        for (int q = 0; q < c.W; ++q) {
          const std::size_t i = (std::size_t(p) * c.H + r) * c.W + q;
          float v = factors[p] * g[i];
          if (fc.withUp) v = v + 0.25f * up[(std::size_t(p) * uh + ((r + (c.H & 1)) >> 1)) * uw + ((q + (c.W & 1)) >> 1)];
          v = v * mult;
          if (std::memcmp(&v, &g[n + i], sizeof(float)) != 0) ++mismatches;
        }
    report(untouched && sameValues && mismatches == 0, "%-50s [fold] %zu of %zu gradients differ from mult (f g + up / 4)%s%s",
           fc.name, mismatches, n, untouched ? "" : "  THE FORWARD ALONE WROTE THE GRADIENT",
           sameValues ? "" : "  VALUES DIFFER FROM THE WHOLE CALL'S");
    CK(cudaFree(x));
    CK(cudaFree(y));
    CK(cudaFree(out));
    CK(cudaFree(grad));
    CK(cudaFree(df));
    CK(cudaFree(du));
    CK(cudaFree(ws));
  }
}

// The inputs of a parts launch, written late: copies[k] into inputs[k], n[k] floats each.
struct LateInputs {
  const float* copies[2 * kMaxSsimParts];
  float* inputs[2 * kMaxSsimParts];
  std::size_t n[2 * kMaxSsimParts];
  int count;
};

// Lets the next kernel of the stream launch at once, then writes the inputs only after about
// 50 us. Launched on a few multiprocessors (kLateBlocks), so that an early launch behind it has
// the others to itself from the start: it reads NaN where it reads before waiting for this kernel.
constexpr int kLateBlocks = 8;
__global__ void lateInputsKernel(const LateInputs late) {
  allowNextLaunch();
  const long long t0 = clock64();
  while (clock64() - t0 < 100000) {
  }
  for (int k = 0; k < late.count; ++k)
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < late.n[k];
         i += std::size_t(gridDim.x) * blockDim.x)
      late.inputs[k][i] = late.copies[k][i];
}

// launchSsimParts (ssim_parts_kernels.cuh): several problems in one launch, as MS-SSIM's small
// coarse scales take them (float32 planar, the c1 of the contrast-structure scales on some),
// value only and value + gradient. Each part's values and gradient against the float64
// reference (within the tolerances of runCase), run twice on the same workspaces (each part's
// reduction state must reset), outputs poisoned before each run. The second run launches early
// (where the device overlaps launches) right after a kernel that writes every part's inputs late,
// over NaN: a build without the parts forward's wait (-DSSIM_TEST_BREAK_WAIT_FIRST) must fail it.
// Groups that the parts kernels do not take (an interleaved job, a u8 one, tiny k) fall back to
// one launch per job: the same checks hold.
void checkParts(std::uint64_t seed, cudaStream_t stream) {
  struct Group {
    const char* name;
    std::vector<Case> jobs;
  };
  auto planar = [](const char* n, int B, int C, int H, int W, int window, bool valid, double k = 1.0) {
    return Case{n, B, C, H, W, true, DType::F32, window, valid, 0.0f, 1.0f, false, k};
  };
  const std::vector<Group> groups = {
      {"pyramid of 3x540x960", {planar("540x960", 3, 1, 540, 960, 11, false), planar("270x480", 3, 1, 270, 480, 11, false),
                                planar("135x240", 3, 1, 135, 240, 11, false), planar("68x120", 3, 1, 68, 120, 11, false)}},
      {"pyramid of 96x128x128 valid", {planar("128x128", 96, 1, 128, 128, 11, true), planar("64x64", 96, 1, 64, 64, 11, true),
                                       planar("32x32", 96, 1, 32, 32, 11, true), planar("16x16", 96, 1, 16, 16, 11, true)}},
      {"odd sides, two parts", {planar("67x45 b5c2", 5, 2, 67, 45, 7, false), planar("34x23 b5c2", 5, 2, 34, 23, 7, false)}},
      {"one part", {planar("135x240 b2", 2, 1, 135, 240, 11, false)}},
      {"tiny k in one (falls back)", {planar("37x53 tiny k", 2, 3, 37, 53, 11, false, 1e-12), planar("19x27", 2, 3, 19, 27, 11, false)}},
  };
  for (const Group& gr : groups) {
    const int count = int(gr.jobs.size());
    for (int gradMode = 0; gradMode < 2; ++gradMode) {
      const bool wantGrad = gradMode == 1;
      std::vector<SsimJob> jobs(count);
      std::vector<void*> ws(count);
      std::vector<int> images(count);
      std::vector<std::size_t> elems(count);
      std::vector<Reference> refs(count);
      LateInputs late{};
      late.count = 2 * count;
      std::vector<void*> bufs;
      for (int k = 0; k < count; ++k) {
        const Case& c = gr.jobs[k];
        // Every other part takes the contrast-structure constant of MS-SSIM's coarse scales.
        SsimParams p = paramsOf(c);
        if (k % 2 == 0 && c.kScale == 1.0) p.c1 = 1152921504606846976.0f;  // 2^60
        const ImageShape s = shapeOf(c);
        const std::size_t n = s.elems();
        const Inputs in = makeInputs(c, seed++);
        refs[k] = reference(c, in, p, wantGrad);
        void *x = nullptr, *y = nullptr, *w = nullptr;
        float *out = nullptr, *grad = nullptr;
        CK(cudaMalloc(&x, n * sizeof(float)));
        CK(cudaMalloc(&y, n * sizeof(float)));
        CK(cudaMemcpy(x, in.xRaw.data(), n * sizeof(float), cudaMemcpyHostToDevice));
        CK(cudaMemcpy(y, in.yRaw.data(), n * sizeof(float), cudaMemcpyHostToDevice));
        void *xs = nullptr, *ys = nullptr;
        CK(cudaMalloc(&xs, n * sizeof(float)));
        CK(cudaMalloc(&ys, n * sizeof(float)));
        CK(cudaMemcpy(xs, x, n * sizeof(float), cudaMemcpyDeviceToDevice));
        CK(cudaMemcpy(ys, y, n * sizeof(float), cudaMemcpyDeviceToDevice));
        bufs.insert(bufs.end(), {xs, ys});
        for (int i : {0, 1}) {
          late.copies[2 * k + i] = static_cast<const float*>(i == 0 ? xs : ys);
          late.inputs[2 * k + i] = static_cast<float*>(i == 0 ? x : y);
          late.n[2 * k + i] = n;
        }
        CK(cudaMalloc(&out, c.B * sizeof(float)));
        if (wantGrad) CK(cudaMalloc(&grad, n * sizeof(float)));
        const std::size_t wb = workspaceBytes(c.B, n, wantGrad);
        CK(cudaMalloc(&w, wb));
        CK(cudaMemset(w, 0, wb));
        bufs.insert(bufs.end(), {x, y, out, grad, w});
        jobs[k].shape = s;
        jobs[k].dtype = DType::F32;
        jobs[k].x = x;
        jobs[k].y = y;
        jobs[k].params = p;
        jobs[k].out = out;
        jobs[k].grad = grad;
        ws[k] = w;
        images[k] = c.B;
        elems[k] = n;
      }
      for (int rep = 0; rep < 2; ++rep) {
        for (int k = 0; k < count; ++k) {
          CK(cudaMemsetAsync(jobs[k].out, 0xFF, gr.jobs[k].B * sizeof(float), stream));  // NaN
          if (wantGrad) CK(cudaMemsetAsync(jobs[k].grad, 0xFF, elems[k] * sizeof(float), stream));
        }
        const bool early = rep == 1 && launchesOverlapOn(stream);
        if (rep == 1) {
          for (int k = 0; k < late.count; ++k)
            CK(cudaMemsetAsync(late.inputs[k], 0xFF, late.n[k] * sizeof(float), stream));
          lateInputsKernel<<<kLateBlocks, 256, 0, stream>>>(late);
          CK(cudaGetLastError());
        }
        const cudaError_t e = launchSsimParts(jobs.data(), ws.data(), images.data(), elems.data(), count, stream, early);
        if (e != cudaSuccess) {
          report(false, "%-50s [parts %s run %d] launchSsimParts -> %s", gr.name, wantGrad ? "value+grad" : "value", rep + 1,
                 cudaGetErrorName(e));
          continue;
        }
        CK(cudaStreamSynchronize(stream));
        for (int k = 0; k < count; ++k) {
          const Case& c = gr.jobs[k];
          std::vector<float> o(c.B), g(wantGrad ? elems[k] : 0);
          CK(cudaMemcpy(o.data(), jobs[k].out, o.size() * sizeof(float), cudaMemcpyDeviceToHost));
          if (wantGrad) CK(cudaMemcpy(g.data(), jobs[k].grad, g.size() * sizeof(float), cudaMemcpyDeviceToHost));
          const double vErr = allFinite(o) ? valueError(o, refs[k].value) : INFINITY;
          const double gRel = allFinite(g) ? gradError(g, refs[k].grad).rel : INFINITY;
          const bool zero = stateIsZero(ws[k], c.B);
          report(vErr <= kValueTol && (!wantGrad || gRel <= kGradTol) && zero,
                 "%-28s part %d/%d %-14s [parts %-10s run %d%s] value max err=%.3g%s%.3g%s", gr.name, k + 1, count,
                 c.name.c_str(), wantGrad ? "value+grad" : "value", rep + 1, early ? " early" : "", vErr,
                 wantGrad ? "  grad rel L2=" : "",
                 wantGrad ? gRel : 0.0, zero ? "" : "  STATE NOT RESET");
        }
      }
      for (void* b : bufs)
        if (b != nullptr) CK(cudaFree(b));
    }
  }
}

// Argument checks of launchSsim: each must return cudaErrorInvalidValue without launching.
void checkArguments(cudaStream_t stream) {
  const int B = 2, C = 3, H = 20, W = 30;
  const std::size_t n = std::size_t(B) * C * H * W;
  float *x, *y, *out, *grad;
  void* ws;
  CK(cudaMalloc(&x, n * 4));
  CK(cudaMalloc(&y, n * 4));
  CK(cudaMalloc(&out, B * 4));
  CK(cudaMalloc(&grad, n * 4));
  const std::size_t bytes = workspaceBytes(B, n, true);
  CK(cudaMalloc(&ws, bytes));
  CK(cudaMemset(ws, 0, bytes));
  CK(cudaMemset(x, 0, n * 4));
  CK(cudaMemset(y, 0, n * 4));
  SsimJob base;
  base.shape.batch = B;
  base.shape.channels = C;
  base.shape.height = H;
  base.shape.width = W;
  base.x = x;
  base.y = y;
  base.out = out;
  base.grad = grad;
  base.params.radius = 5;
  gaussianTaps(5, 1.5, base.params.taps);

  struct Bad {
    const char* what;
    SsimJob job;
    void* ws;
    int wsImages;
    std::size_t wsElements;
  };
  std::vector<Bad> bad;
  auto add = [&](const char* what, auto mutate, void* w = nullptr, int wi = -1, std::size_t we = 0) {
    Bad b{what, base, w ? w : ws, wi >= 0 ? wi : B, we ? we : n};
    mutate(b.job);
    bad.push_back(b);
  };
  add("null x", [](SsimJob& j) { j.x = nullptr; });
  add("null y", [](SsimJob& j) { j.y = nullptr; });
  add("zero width", [](SsimJob& j) { j.shape.width = 0; });
  add("negative batch", [](SsimJob& j) { j.shape.batch = -1; });
  add("radius 6", [](SsimJob& j) { j.params.radius = 6; });
  add("radius -1", [](SsimJob& j) { j.params.radius = -1; });
  add("valid too small", [](SsimJob& j) { j.shape.height = 9; j.params.valid = true; });
  add("batch > wsImages", [](SsimJob&) {}, nullptr, B - 1);
  add("elems > wsElements", [](SsimJob&) {}, nullptr, B, n - 1);
  add("bad dtype", [](SsimJob& j) { j.dtype = DType(7); });
  {
    Bad b{"null workspace", base, nullptr, B, n};
    bad.push_back(b);
  }
  for (const Bad& b : bad) {
    const cudaError_t e = launchSsim(b.job, b.ws, b.wsImages, b.wsElements, stream);
    report(e == cudaErrorInvalidValue, "arguments: %-20s -> %s", b.what, cudaGetErrorName(e));
  }
  {
    SsimJob j = base;
    j.out = nullptr;
    j.grad = nullptr;
    const cudaError_t e = launchSsim(j, ws, B, n, stream);
    report(e == cudaSuccess, "arguments: %-20s -> %s", "no outputs", cudaGetErrorName(e));
  }
  {
    // A workspace made for more images / elements serves a smaller call.
    const std::size_t big = workspaceBytes(B + 5, n * 2, true);
    void* ws2;
    CK(cudaMalloc(&ws2, big));
    CK(cudaMemset(ws2, 0, big));
    const cudaError_t e = launchSsim(base, ws2, B + 5, n * 2, stream);
    CK(cudaStreamSynchronize(stream));
    float o[B];
    CK(cudaMemcpy(o, out, sizeof o, cudaMemcpyDeviceToHost));
    // x = y = 0: every pixel has S = 1 (c1 c2 / (c1 c2)).
    report(e == cudaSuccess && std::fabs(o[0] - 1.0f) <= 1e-6f && std::fabs(o[1] - 1.0f) <= 1e-6f,
           "arguments: larger workspace           -> %s, values %.7f %.7f", cudaGetErrorName(e), o[0], o[1]);
    CK(cudaFree(ws2));
  }
  {
    const std::size_t w0 = workspaceBytes(1, 0, false), w1 = workspaceBytes(16, 0, false),
                      w2 = workspaceBytes(17, 10, true), w3 = workspaceBytes(0, 0, false);
    report(w0 == 256 && w1 == 256 && w2 == 512 + 120 && w3 == 0,
           "workspaceBytes: (1,0,f)=%zu (16,0,f)=%zu (17,10,t)=%zu (0,0,f)=%zu", w0, w1, w2, w3);
  }
  CK(cudaFree(x));
  CK(cudaFree(y));
  CK(cudaFree(out));
  CK(cudaFree(grad));
  CK(cudaFree(ws));
}

// FastDivide (cuda/common/fast_divide.h) against '/': every small divisor and numerator, random ones,
// and the edges (powers of two and their neighbours, n = 2^31 - 1).
void checkFastDivide() {
  std::mt19937_64 rng(2026);
  long long checks = 0, bad = 0;
  auto one = [&](unsigned d, unsigned n) {
    ++checks;
    if (FastDivide::of(d).div(n) != n / d) ++bad;
  };
  for (unsigned d = 1; d < 2048; ++d) {
    for (unsigned n = 0; n < 2048; ++n) one(d, n);
    one(d, 0x7fffffffu);
  }
  for (int k = 0; k < 1000000; ++k) {
    const unsigned d = unsigned(rng() % 0x7fffffffu) + 1, n = unsigned(rng() % 0x80000000u);
    one(d, n);
    one(d, 0x7fffffffu);
  }
  for (int l = 0; l < 31; ++l)
    for (int k = -1; k <= 1; ++k)
      if ((1u << l) + k != 0) one((1u << l) + k, 0x7fffffffu);
  report(bad == 0, "FastDivide: %lld divisions, %lld wrong", checks, bad);
}

// Timing (informational; not pass/fail). The issue's cases ("fastest SSIM on Hopper"), with the
// shapes of the peer table in shared/device/README.md: float32 in [0, 1] (y = x + noise,
// clipped), generated on the device; two input sets alternate between consecutive launches;
// per case a loop of N launches timed with CUDA events, 15 repetitions, median reported.
__device__ __forceinline__ unsigned int hashU32(unsigned long long i, unsigned int seed) {
  unsigned long long z = i * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return unsigned(z >> 32);
}

__global__ void fillPair(float* x, float* y, unsigned long long n, unsigned int seed) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)gridDim.x * blockDim.x) {
    const float a = hashU32(i, seed) * (1.0f / 4294967296.0f);
    const float nz = (hashU32(i, seed + 7777u) * (1.0f / 4294967296.0f) - 0.5f) * 0.4f;
    x[i] = a;
    y[i] = fminf(fmaxf(a + nz, 0.0f), 1.0f);
  }
}

void bench(cudaStream_t stream, bool full, const char* only) {
  struct B {
    const char* name;
    int batch, C, H, W;
    bool chw, grad;
    double target;  // ms: fused-ssim / 3 (0 = no target; 32x48: the issue asks 0.030)
  };
  const B cases[] = {
      {"fhd_1ch_fwd", 1, 1, 1080, 1920, true, false, 0.0577 / 3},
      {"fhd_3ch_fwd chw", 1, 3, 1080, 1920, true, false, 0.1261 / 3},
      {"fhd_3ch_fwd hwc", 1, 3, 1080, 1920, false, false, 0.1261 / 3},
      {"b32_1ch_256_fwdbwd", 32, 1, 256, 256, true, true, 0.2424 / 3},
      {"b32_3ch_256_fwdbwd chw", 32, 3, 256, 256, true, true, 0.3932 / 3},
      {"b32_3ch_256_fwdbwd hwc", 32, 3, 256, 256, false, true, 0.3932 / 3},
      {"b128_3ch_32x48_fwdbwd chw", 128, 3, 32, 48, true, true, 0.030},
      {"b128_3ch_32x48_fwdbwd hwc", 128, 3, 32, 48, false, true, 0.030},
      {"b5_5ch_fhd_fwdbwd chw", 5, 5, 1080, 1920, true, true, 2.909 / 3},
      {"b5_5ch_fhd_fwdbwd hwc", 5, 5, 1080, 1920, false, true, 2.909 / 3},
      {"b8_3ch_4k_fwd chw", 8, 3, 2160, 3840, true, false, 3.606 / 3},
      {"b8_3ch_4k_fwd hwc", 8, 3, 2160, 3840, false, false, 3.606 / 3},
      // value+grad / value of the cases above that the table has in one mode only
      {"fhd_3ch_fwdbwd chw", 1, 3, 1080, 1920, true, true, 0.0},
      {"b8_3ch_4k_fwdbwd chw", 8, 3, 2160, 3840, true, true, 0.0},
      {"b5_5ch_fhd_fwd chw", 5, 5, 1080, 1920, true, false, 0.0},
  };
  const double kCopyBW = 2.99e12;  // measured device copy ceiling, bytes read + written per s
  std::printf("\ntiming: ms per call, median of 15 x N launches, 2 alternating input sets, float32\n");
  std::printf("  %-27s %10s %9s %9s %9s %9s %8s\n", "case", "Mpix", "ms", "Gpix/s", "floor ms",
              "target", "x target");
  for (const B& c : cases) {
    if (only != nullptr ? std::strcmp(only, c.name) != 0 : (!full && c.target == 0.0)) continue;
    Case cc{c.name, c.batch, c.C, c.H, c.W, c.chw, DType::F32, 11, false, 0.0f, 1.0f, false};
    const ImageShape s = shapeOf(cc);
    const SsimParams p = paramsOf(cc);
    const std::size_t n = s.elems();
    float *x[2], *y[2], *out, *grad;
    void* ws;
    for (int k = 0; k < 2; ++k) {
      CK(cudaMalloc(&x[k], n * 4));
      CK(cudaMalloc(&y[k], n * 4));
      fillPair<<<1024, 256, 0, stream>>>(x[k], y[k], n, 1234u + 17u * k);
      CK(cudaGetLastError());
    }
    CK(cudaMalloc(&out, c.batch * 4));
    CK(cudaMalloc(&grad, n * 4));
    const std::size_t wsb = workspaceBytes(c.batch, n, true);
    CK(cudaMalloc(&ws, wsb));
    CK(cudaMemset(ws, 0, wsb));
    CK(cudaStreamSynchronize(stream));
    SsimJob job[2];
    for (int k = 0; k < 2; ++k) {
      job[k].shape = s;
      job[k].dtype = DType::F32;
      job[k].x = x[k];
      job[k].y = y[k];
      job[k].params = p;
      job[k].out = out;
      job[k].grad = c.grad ? grad : nullptr;
    }
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    // Warm-up, and N such that one repetition takes about 2 ms.
    for (int i = 0; i < 4; ++i) CK(launchSsim(job[i & 1], ws, c.batch, n, stream));
    CK(cudaEventRecord(e0, stream));
    for (int i = 0; i < 4; ++i) CK(launchSsim(job[i & 1], ws, c.batch, n, stream));
    CK(cudaEventRecord(e1, stream));
    CK(cudaEventSynchronize(e1));
    float probe;
    CK(cudaEventElapsedTime(&probe, e0, e1));
    const int N = std::max(4, std::min(400, int(2.0 / (probe / 4) + 0.5) & ~1));
    std::vector<float> t;
    for (int rep = 0; rep < 15; ++rep) {
      CK(cudaEventRecord(e0, stream));
      for (int i = 0; i < N; ++i) CK(launchSsim(job[i & 1], ws, c.batch, n, stream));
      CK(cudaEventRecord(e1, stream));
      CK(cudaEventSynchronize(e1));
      float m;
      CK(cudaEventElapsedTime(&m, e0, e1));
      t.push_back(m / N);
    }
    CK(cudaGetLastError());
    std::sort(t.begin(), t.end());
    const double ms = t[7];
    const double bytes = double(n) * 4.0 * (c.grad ? 3.0 : 2.0);
    const double floorMs = bytes / kCopyBW * 1e3;
    std::printf("  %-27s %10.2f %9.4f %9.1f %9.4f %9.4f %8.2f   (N=%d, min %.4f max %.4f)\n", c.name,
                n / 1e6, ms, n / ms / 1e6, floorMs, c.target, c.target > 0 ? ms / c.target : 0.0, N,
                t.front(), t.back());
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    for (int k = 0; k < 2; ++k) {
      CK(cudaFree(x[k]));
      CK(cudaFree(y[k]));
    }
    CK(cudaFree(out));
    CK(cudaFree(grad));
    CK(cudaFree(ws));
  }
}

// Overlapping launches (ssim_kernels.cuh): a value-only forward may start before the kernel
// ahead of it has finished, unless it reads what that launch writes. Chains of launches with no
// host synchronisation in between, against the same calls made one at a time:
//   - value-only calls back to back (they overlap);
//   - a value + gradient call that writes G (poisoned with NaN before), then at once a value-only
//     call with x = G: it must see G written (a NaN or another value means it read G early);
//   - the same with a value-only call on other inputs in between (which may start early: the
//     call on G must still wait for the gradient call, two launches back).
// Built with -DSSIM_TEST_BREAK_WRITE_LOG (gpu/launch_order.h then lets every candidate start
// early), the calls on G must fail: that shows this check can catch a missing guard.
void checkLaunchChains(cudaStream_t stream) {
  const int B = 2, C = 3, H = 300, W = 512;
  Case cc{"chain", B, C, H, W, true, DType::F32, 11, false, 0.0f, 1.0f, false};
  const ImageShape s = shapeOf(cc);
  const SsimParams p = paramsOf(cc);
  const std::size_t n = s.elems();
  float *x, *y, *g, *out;
  void* ws;
  CK(cudaMalloc(&x, n * 4));
  CK(cudaMalloc(&y, n * 4));
  CK(cudaMalloc(&g, n * 4));
  CK(cudaMalloc(&out, 11 * B * 4));
  const std::size_t wsb = workspaceBytes(B, n, true);
  CK(cudaMalloc(&ws, wsb));
  CK(cudaMemset(ws, 0, wsb));
  fillPair<<<1024, 256, 0, stream>>>(x, y, n, 99u);
  CK(cudaGetLastError());
  auto job = [&](const float* xin, float* o, float* grad) {
    SsimJob j;
    j.shape = s;
    j.dtype = DType::F32;
    j.x = xin;
    j.y = y;
    j.params = p;
    j.out = o;
    j.grad = grad;
    return j;
  };
  auto values = [&](int k) {
    std::vector<float> v(B);
    CK(cudaMemcpy(v.data(), out + k * B, B * 4, cudaMemcpyDeviceToHost));
    return v;
  };
  // One at a time: ssim(x, y), then ssim(G, y) with G the gradient of the first call.
  CK(launchSsim(job(x, out, g), ws, B, n, stream));
  CK(cudaStreamSynchronize(stream));
  CK(launchSsim(job(g, out + B, nullptr), ws, B, n, stream));
  CK(cudaStreamSynchronize(stream));
  const std::vector<float> serialXY = values(0), serialGY = values(1);
  // Chained: four value-only calls on x, the gradient call, at once the call on G; then the
  // gradient call, a value-only call on x, the call on G.
  CK(cudaMemset(out, 0xFF, 11 * B * 4));
  CK(cudaMemset(g, 0xFF, n * 4));  // NaN
  for (int k = 2; k < 6; ++k) CK(launchSsim(job(x, out + k * B, nullptr), ws, B, n, stream));
  CK(launchSsim(job(x, out + 6 * B, g), ws, B, n, stream));
  CK(launchSsim(job(g, out + 7 * B, nullptr), ws, B, n, stream));
  CK(cudaStreamSynchronize(stream));
  CK(cudaMemset(g, 0xFF, n * 4));
  CK(launchSsim(job(x, out + 8 * B, g), ws, B, n, stream));
  CK(launchSsim(job(x, out + 9 * B, nullptr), ws, B, n, stream));
  CK(launchSsim(job(g, out + 10 * B, nullptr), ws, B, n, stream));
  CK(cudaStreamSynchronize(stream));
  bool same = true;
  for (int k = 2; k < 10; ++k) same = same && (k == 7 || values(k) == serialXY);
  report(same, "launch chain: value-only and value + gradient calls back to back equal the calls one at a time");
  for (int k : {7, 10}) {
    const std::vector<float> chainedGY = values(k);
    report(chainedGY == serialGY && allFinite(chainedGY),
           "launch chain: a value-only call on the gradient %s sees it written (%.9g, %.9g; one at a time %.9g, %.9g)",
           k == 7 ? "the call before wrote" : "written two calls before", chainedGY[0], chainedGY[1], serialGY[0],
           serialGY[1]);
  }
  CK(cudaFree(x));
  CK(cudaFree(y));
  CK(cudaFree(g));
  CK(cudaFree(out));
  CK(cudaFree(ws));
}

}  // namespace

int main(int argc, char** argv) {
  bool doBench = true, quick = false, benchOnly = false, benchFull = false, partsOnly = false;
  const char* only = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-bench") == 0) doBench = false;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true, doBench = false;
    if (std::strcmp(argv[i], "--bench-only") == 0) benchOnly = true;
    if (std::strcmp(argv[i], "--bench-full") == 0) benchFull = true;
    if (std::strcmp(argv[i], "--parts") == 0) partsOnly = true, doBench = false;
    if (std::strcmp(argv[i], "--case") == 0 && i + 1 < argc) only = argv[++i], benchOnly = true;
  }

  int dev = 0;
  CK(cudaSetDevice(dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  std::printf("device %d: %s (sm_%d%d, %d SMs)\n", dev, prop.name, prop.major, prop.minor,
              prop.multiProcessorCount);
  cudaStream_t stream;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  const std::vector<Case> cases = {
      {"1x1", 1, 1, 1, 1, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"1x17", 1, 1, 1, 17, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"17x1", 1, 1, 17, 1, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"3000x7", 1, 1, 3000, 7, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"37x53 b3c3 hwc", 3, 3, 37, 53, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"37x53 b3c3 chw", 3, 3, 37, 53, true, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"7x7 valid", 1, 1, 7, 7, false, DType::F32, 7, true, 0.0f, 1.0f, false},
      {"11x11 valid", 2, 2, 11, 11, true, DType::F32, 11, true, 0.0f, 1.0f, false},
      {"256x256", 1, 1, 256, 256, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"256x256 dssim/2 valid", 2, 1, 256, 256, false, DType::F32, 11, true, 0.5f, -0.5f, false},
      {"100x70 u8 rgba dssim", 2, 4, 100, 70, false, DType::U8, 11, false, 1.0f, -1.0f, false},
      {"123x250 u16 chw win9 valid", 1, 3, 123, 250, true, DType::U16, 9, true, 0.0f, 1.0f, false},
      {"65x97 f64 hwc win7", 2, 2, 65, 97, false, DType::F64, 7, false, 0.0f, 1.0f, false},
      // half-precision inputs (common/half_types.h): the reference reads the same rounded values
      {"37x53 b3c3 f16 hwc", 3, 3, 37, 53, false, DType::F16, 11, false, 0.0f, 1.0f, false},
      {"301x460 bf16 chw valid dssim", 2, 3, 301, 460, true, DType::BF16, 11, true, 1.0f, -1.0f, false},
      {"50x61 c1 b9 f16 packed win9", 9, 1, 50, 61, true, DType::F16, 9, false, 0.0f, 1.0f, false},
      {"identity 97x211 bf16 rgb", 2, 3, 97, 211, false, DType::BF16, 11, false, 0.0f, 1.0f, true},
      {"300x517 rgb hwc", 1, 3, 300, 517, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"301x460 rgb chw (w%4=0)", 2, 3, 301, 460, true, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"1000x228 rgb hwc valid", 1, 3, 1000, 228, false, DType::F32, 11, true, 1.0f, -1.0f, false},
      {"130x336 chw win7 valid", 3, 2, 130, 336, true, DType::F32, 7, true, 0.0f, 1.0f, false},
      {"32x48 rgb chw b5", 5, 3, 32, 48, true, DType::F32, 11, false, 0.0f, 1.0f, false},
      // Wide planes: the fused value + gradient kernel (strips of 108 columns, segments that
      // start inside a strip, 'valid' maps, interleaved and half-precision inputs).
      {"600x1100 b2c2 chw", 2, 2, 600, 1100, true, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"333x1001 rgb hwc valid dssim", 1, 3, 333, 1001, false, DType::F32, 11, true, 1.0f, -1.0f, false},
      {"250x433 f16 chw win7", 2, 2, 250, 433, true, DType::F16, 7, false, 0.0f, 1.0f, false},
      {"17x113 u8 chw", 2, 1, 17, 113, true, DType::U8, 11, false, 0.0f, 1.0f, false},
      // The fused kernel on narrow planes packed side by side (v21): pitch 40 (4 slots),
      // interleaved 'valid', tall planes whose segments start inside a plane.
      {"200x30 c1 b64 chw pitch 40 dssim", 64, 1, 200, 30, true, DType::F32, 11, false, 1.0f, -1.0f, false},
      {"90x61 b4c3 hwc valid win7 packed", 4, 3, 90, 61, false, DType::F32, 7, true, 0.0f, 1.0f, false},
      {"1500x60 c1 b6 chw packed tall", 6, 1, 1500, 60, true, DType::F32, 11, false, 0.0f, 1.0f, false},
      // Planar planes packed side by side in one virtual row (v11): 256 wide, odd widths,
      // 'valid' maps whose halo columns come from the image, one-channel batches.
      {"256x256 rgb chw b4 packed", 4, 3, 256, 256, true, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"29x45 chw b6c2 valid packed", 6, 2, 29, 45, true, DType::F32, 11, true, 0.0f, 1.0f, false},
      {"50x61 c1 b9 u8 packed", 9, 1, 50, 61, false, DType::U8, 11, false, 1.0f, -1.0f, false},
      {"70x30 f64 chw b7 win7 packed", 7, 1, 70, 30, true, DType::F64, 7, false, 0.0f, 1.0f, false},
      {"planes>65535 (batch)", 66000, 1, 3, 5, false, DType::F32, 11, false, 0.0f, 1.0f, false},
      {"planes>65535 (channels)", 2, 33000, 2, 3, false, DType::U8, 11, false, 0.0f, 1.0f, false},
      {"identity 97x211 rgb", 2, 3, 97, 211, false, DType::F32, 11, false, 0.0f, 1.0f, true},
      {"identity 2160x3840 rgb", 1, 3, 2160, 3840, false, DType::F32, 11, false, 0.0f, 1.0f, true},
      {"identity 2160x3840 u8 rgba", 2, 4, 2160, 3840, false, DType::U8, 11, false, 0.0f, 1.0f, true},
      {"identity 2160x3840 valid", 1, 1, 2160, 3840, true, DType::F32, 11, true, 0.0f, 1.0f, true},
      // Small batched 'valid' maps (the GPU suite once saw 0.99999875 on 3 x 1 x 19 x 53 u8 with
      // multi-batch blocks; v6 in `git show 303eda2:bench/NOTES.md`): several seeds, u8 and float.
      {"identity 19x53 u8 chw valid a", 3, 1, 19, 53, true, DType::U8, 11, true, 0.0f, 1.0f, true},
      {"identity 19x53 u8 chw valid b", 3, 1, 19, 53, true, DType::U8, 11, true, 0.0f, 1.0f, true},
      {"identity 19x53 u8 chw valid c", 3, 1, 19, 53, true, DType::U8, 11, true, 0.0f, 1.0f, true},
      {"identity 19x53 u8 chw valid d", 3, 1, 19, 53, true, DType::U8, 11, true, 0.0f, 1.0f, true},
      {"identity 41x67 u8 hwc valid", 4, 3, 41, 67, false, DType::U8, 9, true, 0.0f, 1.0f, true},
      {"identity 29x33 f32 chw valid", 5, 2, 29, 33, true, DType::F32, 7, true, 0.0f, 1.0f, true},
      // C1 C2 below 2^-122: the forward takes 1 / (B1 B2) with the exact reciprocal; just above:
      // the flush-to-zero one (ssim_math.h, Reciprocal).
      {"37x53 b3c3 chw tiny k (exact rcp)", 3, 3, 37, 53, true, DType::F32, 11, false, 0.0f, 1.0f, false, 1e-12},
      {"100x70 u8 dssim tiny k (exact rcp)", 2, 4, 100, 70, false, DType::U8, 11, false, 1.0f, -1.0f, false, 1e-12},
      {"identity 97x211 tiny k (exact rcp)", 2, 3, 97, 211, false, DType::F32, 11, false, 0.0f, 1.0f, true, 1e-12},
      {"301x460 chw k near the gate (ftz rcp)", 2, 3, 301, 460, true, DType::F32, 11, false, 0.0f, 1.0f, false, 6e-8},
  };
  if (benchOnly) {
    bench(stream, benchFull, only);
    CK(cudaStreamDestroy(stream));
    return 0;
  }
  std::uint64_t seed = 12345;
  for (const Case& c : partsOnly ? std::vector<Case>{} : cases) {
    const double tiles = double(c.B) * c.C * std::ceil(c.H / 32.0) * std::ceil(c.W / 32.0);
    if (quick && tiles > 2000) {
      std::printf("skip  %s (--quick)\n", c.name.c_str());
      ++seed;
      continue;
    }
    runCase(c, seed++, stream);
  }
  if (!quick && !partsOnly) checkPooling(seed, stream);
  if (!quick && !partsOnly) checkFold(seed + 100, stream);
  if (!quick) checkParts(seed + 200, stream);
  if (!partsOnly) {
    checkArguments(stream);
    checkFastDivide();
    checkLaunchChains(stream);
  }

  if (doBench && g_failures == 0) bench(stream, benchFull, only);

  CK(cudaStreamDestroy(stream));
  std::printf("\n%s: %d failure(s)\n", g_failures ? "FAILED" : "ALL PASSED", g_failures);
  return g_failures ? 1 : 0;
}
