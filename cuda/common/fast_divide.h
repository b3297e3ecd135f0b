// Division by a runtime constant as a multiply and a shift (Granlund and Montgomery, "Division
// by invariant integers using multiplication", 1994): the kernels divide block and column
// indices by channel counts, strip counts and pitches, and a 32-bit hardware-free division is
// about 20 dependent instructions (docs/PERFORMANCE.md, v11; commit a87616d).
//
// For a divisor d >= 1 let l = ceil(log2 d), s = 31 + l and m = ceil(2^s / d). Then m < 2^32
// (d > 2^(l-1)), and for every n < 2^31, floor(n m / 2^s) == floor(n / d): with m d = 2^s + e,
// 0 <= e < d <= 2^l, n m / 2^s = n / d + n e / (d 2^s), and n e < 2^31 2^l = 2^s, so the error
// term stays below 1 / d and cannot carry past the next multiple of 1 / d.
#pragma once

#if defined(__CUDACC__)
#define FAST_DIVIDE_HD __host__ __device__ __forceinline__
#else
#define FAST_DIVIDE_HD inline
#endif

namespace cudassim {

struct FastDivide {
  unsigned d;      // the divisor (for the remainder)
  unsigned mul;    // m
  unsigned shift;  // s

  static FastDivide of(unsigned divisor) {
    FastDivide f;
    f.d = divisor < 1 ? 1 : divisor;
    unsigned l = 0;
    while ((1ull << l) < f.d) ++l;
    f.shift = 31 + l;
    f.mul = unsigned(((1ull << f.shift) + f.d - 1) / f.d);
    return f;
  }

  // n / d for n < 2^31.
  FAST_DIVIDE_HD unsigned div(unsigned n) const { return unsigned((unsigned long long)n * mul >> shift); }
};

}  // namespace cudassim
