// The problem description shared by the CPU path, the CUDA path and the N-API glue.
// Plain C++ (no CUDA headers), so a CPU-only build compiles it with g++ alone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "half_types.h"

namespace cudassim {

// Largest supported window radius (window 11). Smaller windows use the same code with
// their taps padded by zeros, which keeps one kernel instantiation per input dtype.
constexpr int kMaxRadius = 5;

// F16, BF16: IEEE binary16 and bfloat16 (half_types.h), read as float32.
enum class DType : int { F32 = 0, F64 = 1, U8 = 2, U16 = 3, F16 = 4, BF16 = 5 };

template <typename T>
struct ElementType {
  using type = T;
};

// Calls f(ElementType<T>{}) with T the element type of t (float, double, uint8_t, uint16_t,
// Float16, BFloat16) and returns what f returns: the one place where a runtime dtype becomes a
// template argument.
// Callers have checked t (dtypeBytes(t) != 0): a value outside the enum runs as float.
template <typename F>
decltype(auto) withElementType(DType t, F&& f) {
  switch (t) {
    case DType::F64: return f(ElementType<double>{});
    case DType::U8: return f(ElementType<std::uint8_t>{});
    case DType::U16: return f(ElementType<std::uint16_t>{});
    case DType::F16: return f(ElementType<Float16>{});
    case DType::BF16: return f(ElementType<BFloat16>{});
    case DType::F32: break;
  }
  return f(ElementType<float>{});
}

// 0 for a value outside the enum: the launchers reject such a job (cudaErrorInvalidValue)
// before withElementType would read it as float.
inline std::size_t dtypeBytes(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::U8: return 1;
    case DType::U16: return 2;
    case DType::F16: return 2;
    case DType::BF16: return 2;
  }
  return 0;
}

// B images of C channels, H rows, W columns. Element (b, c, y, x) lives at
//   b*C*H*W + c*chanStride + y*rowStride + x*pixStride
// hwc (interleaved): pixStride = C, rowStride = W*C, chanStride = 1
// chw (planar):      pixStride = 1, rowStride = W,   chanStride = H*W
struct ImageShape {
  int batch = 1;
  int channels = 1;
  int height = 1;
  int width = 1;
  bool chw = false;

  std::size_t planeElems() const { return std::size_t(height) * std::size_t(width); }
  std::size_t imageElems() const { return planeElems() * std::size_t(channels); }
  std::size_t elems() const { return imageElems() * std::size_t(batch); }
  std::ptrdiff_t pixStride() const { return chw ? 1 : channels; }
  std::ptrdiff_t rowStride() const { return chw ? std::ptrdiff_t(width) : std::ptrdiff_t(width) * channels; }
  std::ptrdiff_t chanStride() const { return chw ? std::ptrdiff_t(planeElems()) : 1; }
  std::size_t offset(int b, int c, int y, int x) const {
    return std::size_t(b) * imageElems() + std::size_t(c * chanStride() + y * rowStride() + x * pixStride());
  }
};

struct SsimParams {
  int radius = 5;                      // window = 2*radius + 1
  float taps[kMaxRadius + 1] = {};     // taps[k] = weight at distance k; taps[k > radius] = 0
  float c1 = 1e-4f;                    // (k1 * L)^2
  float c2 = 9e-4f;                    // (k2 * L)^2
  float inputScale = 1.0f;             // 1, 1/255 or 1/65535: maps stored values to intensities
  bool valid = false;                  // false: 'same' (zero padding, whole map); true: crop by radius
  float valueOffset = 0.0f;            // reported value = valueOffset + valueScale * mean SSIM
  float valueScale = 1.0f;             // the gradient is scaled by valueScale too
  float gradFactor = 1.0f;             // and by gradFactor: 1 / dataRange for float data
                                       //   (normalised by inputScale), 1 for integer data
};

// One call: the inputs, what to compute, where to write it.
struct SsimJob {
  ImageShape shape;
  DType dtype = DType::F32;
  const void* x = nullptr;  // prediction: the gradient is taken with respect to it
  const void* y = nullptr;  // reference
  SsimParams params;
  float* out = nullptr;     // batch values, or null
  float* grad = nullptr;    // elems() floats in x's layout, or null
};

// The SSIM map covers rows/cols [lo, hi) of each plane: everything for 'same', the image
// shrunk by the radius on each side for 'valid'.
struct MapRegion {
  int y0, y1, x0, x1;
  std::size_t count() const { return std::size_t(y1 - y0) * std::size_t(x1 - x0); }
};

inline MapRegion mapRegion(const ImageShape& s, const SsimParams& p) {
  const int r = p.valid ? p.radius : 0;
  return MapRegion{r, s.height - r, r, s.width - r};
}

// Where a call keeps its reduction states in a workspace (byte offsets and lengths): they must be
// zero when it starts, and every completed launch leaves them zero. Two calls whose state spans
// are the same never write over each other's states (the rest of a layout lies between and after
// them); a call laid out otherwise may have (binding/device_buffer.h, WorkspaceUse).
struct StateSpans {
  static constexpr int kMax = 16;  // an MS-SSIM call's scales at most (common/msssim.h kMaxScales)
  struct Span {
    std::size_t offset = 0, bytes = 0;
  };
  Span span[kMax] = {};
  int count = 0;
  bool operator==(const StateSpans& o) const {
    if (count != o.count) return false;
    for (int i = 0; i < count; ++i)
      if (span[i].offset != o.span[i].offset || span[i].bytes != o.span[i].bytes) return false;
    return true;
  }
};

// The per-pixel SSIM map (computeSsimMapCpu in cpu/ssim_cpu.h, launchSsimMap in gpu/ssim_map.h),
// for heat maps and inspection: a separate, simple path next to the optimised value/gradient
// code, sharing ssim_math.h's formulas. Output: batch maps of mapRegion(shape, params) pixels
// each (H x W for 'same', (H - 2r) x (W - 2r) for 'valid'), row-major, float32; pixel value =
// mean over channels of the SSIM at that pixel. params.valueOffset / valueScale are not applied
// (the map is always SSIM). Floats in the map of a job: batch * mapRegion(...).count().
inline std::size_t mapElems(const SsimJob& job) {
  return std::size_t(job.shape.batch) * mapRegion(job.shape, job.params).count();
}

}  // namespace cudassim
