// The CUDA operations of common/msssim.h's composition (msssim_cuda.h).
#include "msssim_cuda.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>

#include "common/msssim_pyramid.h"
#include "common/ssim_math.h"
#include "side_stream.h"
#include "ssim_cuda.h"

namespace cudassim {

namespace {

constexpr int kThreads = 256;
constexpr std::size_t kAlign = 256;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// The SSIM workspaces: scale 0's, then one for the coarse scales (scale 1's size), which may run
// at the same time on another stream.
std::size_t ssimPart0(const ImageShape& s, bool gradient) {
  return aligned(workspaceBytes(s.batch * s.channels, s.elems(), gradient));
}
std::size_t ssimPartCoarse(const MsssimLayout& L, bool gradient) {
  return L.scales > 1 ? aligned(workspaceBytes(L.planes, L.elems(1), gradient)) : 0;
}

struct Levels {
  float* p[kMaxScales];
};
struct ConstLevels {
  const float* p[kMaxScales];
};

struct BlockSync {
  __device__ void operator()() const { __syncthreads(); }
};

unsigned tileGrid(long long tiles) { return unsigned(tiles < (1LL << 20) ? tiles : (1LL << 20)); }

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

// One pass of the pooling pyramid (common/msssim_pyramid.h): a tile per block.
template <typename T>
__global__ void __launch_bounds__(kThreads) poolPyramidKernel(PyramidPass pass, const T* __restrict__ xs,
                                                             const T* __restrict__ ys, float scale, Levels xd, Levels yd) {
  __shared__ float shared[kPyramidSharedFloats];
  for (long long t = blockIdx.x; t < pass.tiles(); t += gridDim.x) {
    poolPyramidTile(pass, xs, ys, scale, xd.p, yd.p, t, shared, int(threadIdx.x), kThreads, BlockSync{});
  }
}

// One pass of the gradient's way back (common/msssim_pyramid.h): a tile per block.
__global__ void __launch_bounds__(kThreads) accumulatePyramidKernel(PyramidPass pass, ConstLevels g, Levels dst,
                                                                   const float* top, const float* __restrict__ factors,
                                                                   float mult0, bool hwc, int channels) {
  __shared__ float shared[kPyramidSharedFloats];
  for (long long t = blockIdx.x; t < pass.tiles(); t += gridDim.x) {
    accumulatePyramidTile(pass, g.p, dst.p, top, factors, mult0, hwc, channels, t, shared, int(threadIdx.x), kThreads,
                          BlockSync{});
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

struct GpuOps {
  const MsssimJob& job;
  const MsssimLayout& L;
  char* ws0;        // scale 0's SSIM workspace
  char* wsCoarse;   // the coarse scales'
  float* scratch;   // the layout's base
  cudaStream_t main;
  SideStream* side;  // null: everything on `main`, in order
  cudaStream_t stream;  // where the next launch goes
  bool coarse = false;  // between forkCoarse and endCoarse
  cudaError_t err = cudaSuccess;

  float* scratchAt(std::size_t off) const { return scratch + off; }

  bool ok() {
    if (err == cudaSuccess) err = cudaGetLastError();
    return err == cudaSuccess;
  }

  void forkCoarse() {
    coarse = true;
    if (err != cudaSuccess || side == nullptr) return;
    err = side->fork(main);
    stream = side->stream();
  }
  void endCoarse() {
    coarse = false;
    stream = main;
  }
  void joinCoarse() {
    if (err != cudaSuccess || side == nullptr) return;
    err = side->join(main);
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

  void pyramid(const void* xs, const void* ys, DType dt, float scale) {
    Levels xd{}, yd{};
    for (int j = 1; j < L.scales; ++j) {
      xd.p[j] = scratchAt(L.x[j]);
      yd.p[j] = scratchAt(L.y[j]);
    }
    for (int lo = 0; lo + 1 < L.scales && err == cudaSuccess;) {
      const int hi = lo + kPyramidSpan < L.scales - 1 ? lo + kPyramidSpan : L.scales - 1;
      const PyramidPass pass = pyramidPass(L, lo, hi);
      withElementType(dt, [&](auto e) {
        using T = typename decltype(e)::type;
        poolPyramidKernel<T><<<tileGrid(pass.tiles()), kThreads, 0, stream>>>(pass, static_cast<const T*>(xs),
                                                                            static_cast<const T*>(ys), scale, xd, yd);
      });
      ok();
      // the next pass starts from this one's top level, in float32
      xs = xd.p[hi];
      ys = yd.p[hi];
      dt = DType::F32;
      scale = 1.0f;
      lo = hi;
    }
  }

  void ssim(const SsimJob& sj) {
    if (err != cudaSuccess) return;
    // ordinary launches: the pooled inputs are written by this file's kernels, which the SSIM
    // path's early-launch bookkeeping (launch_order.h) does not see
    err = coarse ? launchSsim(sj, wsCoarse, L.planes, L.elems(1), stream, false)
                 : launchSsim(sj, ws0, L.planes, L.elems(0), stream, false);
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

  void accumulate(float* const* g, float* const* dst, bool hwc, float mult) {
    ConstLevels gl{};
    Levels dl{};
    for (int j = 0; j < L.scales; ++j) {
      gl.p[j] = g[j];
      dl.p[j] = dst[j];
    }
    // passes of up to kPyramidSpan + 1 levels from the coarsest down; each starts from the
    // previous one's lowest level
    const float* top = nullptr;
    for (int hi = L.scales - 1; hi >= 0 && err == cudaSuccess;) {
      const int lo = hi - kPyramidSpan > 0 ? hi - kPyramidSpan : 0;
      const PyramidPass pass = pyramidPass(L, lo, hi);
      accumulatePyramidKernel<<<tileGrid(pass.tiles()), kThreads, 0, stream>>>(
          pass, gl, dl, top, scratchAt(L.factors), mult, hwc, job.core.shape.channels);
      ok();
      top = dl.p[lo];
      hi = lo - 1;
    }
  }
};

}  // namespace

std::size_t msssimWorkspaceBytes(const ImageShape& shape, int scales, bool gradient) {
  const MsssimLayout L = msssimLayout(shape, scales, gradient);
  return ssimPart0(shape, gradient) + ssimPartCoarse(L, gradient) + L.floats * sizeof(float);
}

MsssimStateSpans msssimStateSpans(const ImageShape& shape, int scales, bool gradient) {
  const MsssimLayout L = msssimLayout(shape, scales, gradient);
  const std::size_t state = workspaceBytes(L.planes, 0, false);
  MsssimStateSpans spans;
  spans.span[0] = {0, state};
  if (L.scales > 1) spans.span[1] = {ssimPart0(shape, gradient), state};
  return spans;
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
  char* base = static_cast<char*>(workspace);
  const std::size_t part0 = ssimPart0(s, gradient), partCoarse = ssimPartCoarse(L, gradient);
  // The coarse scales run beside scale 0 on the device's side stream, except while `stream` is
  // being captured into a graph (a forked stream stays in the capture until it ends, so no other
  // call could use it meanwhile) or with one scale.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cudaError_t err = cudaStreamIsCapturing(stream, &capture);
  if (err != cudaSuccess) return err;
  SideStream* side = capture == cudaStreamCaptureStatusNone && L.scales > 1 ? SideStream::current() : nullptr;
  GpuOps ops{job, L, base, base + part0, reinterpret_cast<float*>(base + part0 + partCoarse), stream, side, stream};
  if (side == nullptr) {
    composeMsssim(job, L, ops);
  } else {
    std::lock_guard<std::mutex> lock(side->mutex());
    composeMsssim(job, L, ops);
  }
  return ops.err;
}

}  // namespace cudassim
