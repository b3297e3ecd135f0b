// Half-precision element types (IEEE binary16 'float16' and bfloat16) and their conversions to
// and from float32: the one definition shared by the CPU path (g++, no CUDA headers), the kernels
// and the binding. Inputs are read as float32 (exact: both formats are subsets of float32);
// gradients are written back rounded to nearest, ties to even.
//
// The portable conversions are bit-exact integer code. On the GPU the loads use the hardware
// conversion (cvt.f32.f16, a shift for bfloat16), which gives the same float for every non-NaN
// input; the stores (float -> half, one pass over a gradient) use the portable code everywhere, so
// the CPU and the GPU round identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define SSIM_HALF_HD __host__ __device__ __forceinline__
#else
#define SSIM_HALF_HD inline
#endif

namespace cudassim {

SSIM_HALF_HD float floatFromBits(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

SSIM_HALF_HD std::uint32_t bitsFromFloat(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

// binary16 bits -> float32 (exact; a NaN stays a NaN with its payload's top bits).
SSIM_HALF_HD float halfBitsToFloat(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t man = h & 0x3ffu;
  if (exp == 0x1fu) return floatFromBits(sign | 0x7f800000u | (man << 13));  // infinity, NaN
  if (exp != 0) return floatFromBits(sign | ((exp + 112u) << 23) | (man << 13));
  // zero or subnormal: man * 2^-24, exact in float32
  return floatFromBits(sign | bitsFromFloat(float(man) * 5.9604644775390625e-8f));
}

// float32 -> binary16 bits, rounded to nearest, ties to even; beyond 65520 -> infinity; NaN -> a quiet NaN.
SSIM_HALF_HD std::uint16_t floatToHalfBits(float f) {
  const std::uint32_t x = bitsFromFloat(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return std::uint16_t(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // >= 65520 (a tie with odd 65504): infinity
  if (ax >= 0x38800000u) {                                       // >= 2^-14: a normal half
    const std::uint32_t odd = (ax >> 13) & 1u;
    return std::uint16_t(sign | ((ax - 0x38000000u + 0xfffu + odd) >> 13));
  }
  if (ax <= 0x33000000u) return std::uint16_t(sign);  // <= 2^-25 (a tie with 0): zero
  // subnormal half: round m * 2^(e - 126) to an integer (may round up to the smallest normal, 0x400)
  const std::uint32_t e = ax >> 23;  // 102 .. 112
  const std::uint32_t m = (ax & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126u - e;  // 14 .. 24
  std::uint32_t q = m >> shift;
  const std::uint32_t rem = m & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return std::uint16_t(sign | q);
}

// bfloat16 bits -> float32 (exact: the top half of a float32).
SSIM_HALF_HD float bfloat16BitsToFloat(std::uint16_t h) { return floatFromBits(std::uint32_t(h) << 16); }

// float32 -> bfloat16 bits, rounded to nearest, ties to even (overflow -> infinity); NaN -> a quiet NaN.
SSIM_HALF_HD std::uint16_t floatToBfloat16Bits(float f) {
  const std::uint32_t x = bitsFromFloat(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((x >> 16) | 0x40u);
  return std::uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// Element types of DType::F16 and DType::BF16: the stored bits, read as float32.
struct Float16 {
  std::uint16_t bits;
  SSIM_HALF_HD explicit operator float() const {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(bits));
#else
    return halfBitsToFloat(bits);
#endif
  }
};

struct BFloat16 {
  std::uint16_t bits;
  SSIM_HALF_HD explicit operator float() const { return bfloat16BitsToFloat(bits); }
};

// n floats -> n half values (bfloat16 when `bf16`, else binary16), rounded to nearest even: the
// CPU path's gradient in the input's dtype (the GPU's is gpu/half_store.cu, with the same rounding).
inline void roundFloatsToHalf(const float* src, std::uint16_t* dst, std::size_t n, bool bf16) {
  if (bf16) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = floatToBfloat16Bits(src[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = floatToHalfBits(src[i]);
  }
}

static_assert(sizeof(Float16) == 2 && sizeof(BFloat16) == 2, "half element types are their 16 bits");

}  // namespace cudassim
