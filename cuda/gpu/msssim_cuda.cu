// The CUDA operations of common/msssim.h's composition (msssim_cuda.h).
#include "msssim_cuda.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "common/ssim_math.h"
#include "ssim_cuda.h"

namespace cudassim {

namespace {

constexpr int kThreads = 256;
constexpr std::size_t kAlign = 256;

std::size_t ssimPart(const ImageShape& s, bool gradient) {
  const std::size_t bytes = workspaceBytes(s.batch * s.channels, s.elems(), gradient);
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

unsigned gridFor(std::size_t n) {
  std::size_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535u * 16u) blocks = 65535u * 16u;  // grid-stride loops cover the rest
  return unsigned(blocks == 0 ? 1 : blocks);
}

// Interleaved (hwc) x, y -> planar float32 intensities (plane p = b * C + c).
template <typename T>
__global__ void planarizeKernel(const T* __restrict__ x, const T* __restrict__ y, float* __restrict__ xd,
                                float* __restrict__ yd, std::size_t n, int channels, std::size_t planeElems,
                                float scale) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    // i: interleaved index b * (HW C) + pix * C + c
    const std::size_t c = i % unsigned(channels);
    const std::size_t rest = i / unsigned(channels);  // b * HW + pix
    const std::size_t b = rest / planeElems, pix = rest % planeElems;
    const std::size_t o = (b * unsigned(channels) + c) * planeElems + pix;
    xd[o] = toIntensity(x[i], scale);
    yd[o] = toIntensity(y[i], scale);
  }
}

// 2 x 2 average pooling of planar planes (h x w -> ph x pw), odd sides padded on both sides.
template <typename T>
__device__ __forceinline__ float pooled(const T* __restrict__ src, std::size_t plane, int h, int w, int r0, int c0,
                                        float scale) {
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

template <typename T>
__global__ void poolKernel(const T* __restrict__ x, const T* __restrict__ y, float* __restrict__ xd,
                           float* __restrict__ yd, std::size_t n, int h, int w, int ph, int pw, float scale) {
  const int oh = h & 1, ow = w & 1;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const int k = int(i % unsigned(pw));
    const std::size_t rest = i / unsigned(pw);
    const int r = int(rest % unsigned(ph));
    const std::size_t p = rest / unsigned(ph);
    const std::size_t plane = p * std::size_t(h) * unsigned(w);
    xd[i] = pooled(x, plane, h, w, 2 * r - oh, 2 * k - ow, scale);
    yd[i] = pooled(y, plane, h, w, 2 * r - oh, 2 * k - ow, scale);
  }
}

struct Weights {
  float w[kMaxScales];
};

__global__ void combineKernel(const float* __restrict__ vals, float* __restrict__ factors, float* __restrict__ out,
                              int batch, int channels, int scales, Weights weights, float valueOffset, float valueScale) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const float v = combineMsssimImage(b, channels, batch * channels, scales, weights.w, vals, factors, valueOffset, valueScale);
  if (out != nullptr) out[b] = v;
}

// dst = mult * (f[p] g + 1/4 coarse[p, (r + h % 2) / 2, (c + w % 2) / 2]); dst planar, or
// interleaved (hwc: channels C, plane p = b * C + c).
__global__ void accumulateKernel(const float* g, const float* __restrict__ f, const float* __restrict__ coarse,
                                 float* dst, std::size_t n, int h, int w, int ch, int cw, int channels, bool hwc,
                                 float mult) {
  const int oh = h & 1, ow = w & 1;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const int c = int(i % unsigned(w));
    const std::size_t rest = i / unsigned(w);
    const int r = int(rest % unsigned(h));
    const std::size_t p = rest / unsigned(h);
    float v = f[p] * g[i];
    if (coarse != nullptr) {
      v += 0.25f * coarse[(p * unsigned(ch) + unsigned((r + oh) >> 1)) * unsigned(cw) + unsigned((c + ow) >> 1)];
    }
    v *= mult;
    if (!hwc) {
      dst[i] = v;
    } else {
      const std::size_t b = p / unsigned(channels), cc = p % unsigned(channels);
      const std::size_t pix = std::size_t(r) * unsigned(w) + unsigned(c);
      dst[(b * std::size_t(h) * unsigned(w) + pix) * unsigned(channels) + cc] = v;
    }
  }
}

struct GpuOps {
  const MsssimJob& job;
  const MsssimLayout& L;
  char* ws;         // the SSIM workspace part
  std::size_t ssimBytes;
  float* scratch;   // the layout's base
  cudaStream_t stream;
  cudaError_t err = cudaSuccess;

  float* scratchAt(std::size_t off) const { return scratch + off; }

  bool ok() {
    if (err == cudaSuccess) err = cudaGetLastError();
    return err == cudaSuccess;
  }

  void planarize(float* xd, float* yd) {
    if (err != cudaSuccess) return;
    const ImageShape& s = job.core.shape;
    const std::size_t n = s.elems();
    withElementType(job.core.dtype, [&](auto e) {
      using T = typename decltype(e)::type;
      planarizeKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(job.core.x), static_cast<const T*>(job.core.y),
                                                              xd, yd, n, s.channels, s.planeElems(), job.core.params.inputScale);
    });
    ok();
  }

  void pool(const void* xs, const void* ys, DType dt, float scale, int j, float* xd, float* yd) {
    if (err != cudaSuccess) return;
    const std::size_t n = L.elems(j);
    withElementType(dt, [&](auto e) {
      using T = typename decltype(e)::type;
      poolKernel<T><<<gridFor(n), kThreads, 0, stream>>>(static_cast<const T*>(xs), static_cast<const T*>(ys), xd, yd, n,
                                                         L.h[j - 1], L.w[j - 1], L.h[j], L.w[j], scale);
    });
    ok();
  }

  void ssim(const SsimJob& sj) {
    if (err != cudaSuccess) return;
    // ordinary launches: the pooled inputs are written by this file's kernels, which the SSIM
    // path's early-launch bookkeeping (launch_order.h) does not see
    err = launchSsim(sj, ws, L.planes, job.core.shape.elems(), stream, false);
  }

  void combine(const float* vals, float* factors) {
    if (err != cudaSuccess) return;
    const ImageShape& s = job.core.shape;
    Weights w{};
    for (int j = 0; j < job.scales; ++j) w.w[j] = job.weights[j];
    combineKernel<<<(s.batch + 127) / 128, 128, 0, stream>>>(vals, factors, job.core.out, s.batch, s.channels, job.scales, w,
                                                             job.core.params.valueOffset, job.core.params.valueScale);
    ok();
  }

  void accumulate(int j, const float* g, const float* coarse, float* dst, bool hwc, float mult) {
    if (err != cudaSuccess) return;
    const std::size_t n = L.elems(j);
    const int ch = j + 1 < L.scales ? L.h[j + 1] : 1, cw = j + 1 < L.scales ? L.w[j + 1] : 1;
    accumulateKernel<<<gridFor(n), kThreads, 0, stream>>>(g, scratchAt(L.factors) + std::size_t(j) * unsigned(L.planes),
                                                          coarse, dst, n, L.h[j], L.w[j], ch, cw, job.core.shape.channels, hwc,
                                                          mult);
    ok();
  }
};

}  // namespace

std::size_t msssimWorkspaceBytes(const ImageShape& shape, int scales, bool gradient) {
  return ssimPart(shape, gradient) + msssimLayout(shape, scales, gradient).floats * sizeof(float);
}

cudaError_t launchMsssim(const MsssimJob& job, void* workspace, std::size_t wsBytes, cudaStream_t stream) {
  const ImageShape& s = job.core.shape;
  if (job.core.x == nullptr || job.core.y == nullptr || workspace == nullptr) return cudaErrorInvalidValue;
  if (job.scales < 1 || job.scales > kMaxScales) return cudaErrorInvalidValue;
  if (s.batch < 1 || s.channels < 1 || s.height < 1 || s.width < 1) return cudaErrorInvalidValue;
  if ((long long)s.batch * s.channels > 0x7fffffffLL) return cudaErrorInvalidValue;
  if (dtypeBytes(job.core.dtype) == 0) return cudaErrorInvalidValue;
  const bool gradient = job.core.grad != nullptr;
  if (job.core.out == nullptr && !gradient) return cudaSuccess;
  if (wsBytes < msssimWorkspaceBytes(s, job.scales, gradient)) return cudaErrorInvalidValue;
  if (reinterpret_cast<std::uintptr_t>(workspace) % kAlign != 0) return cudaErrorInvalidValue;
  const MsssimLayout L = msssimLayout(s, job.scales, gradient);
  const std::size_t ssimBytes = ssimPart(s, gradient);
  GpuOps ops{job, L, static_cast<char*>(workspace), ssimBytes,
             reinterpret_cast<float*>(static_cast<char*>(workspace) + ssimBytes), stream};
  composeMsssim(job, L, ops);
  return ops.err;
}

}  // namespace cudassim
