// cuda/common/half_types.h on the host (g++, no CUDA headers): the conversions the CPU path uses
// and the GPU's gradient rounding shares. Driven by test/half.test.js:
//   half_check decode            -> for every 16-bit pattern h: "h f16bits bf16bits" (hex; the
//                                   float32 bits of its float16 and bfloat16 values)
//   half_check encode < floats   -> for each float32 bit pattern (hex, one a line): "f16 bf16" (hex)
// The test compares both with its own float64 definitions (test/helpers/half.js).
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "common/half_types.h"

using namespace cudassim;

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "decode") == 0) {
    for (std::uint32_t h = 0; h < 65536; ++h) {
      const float a = static_cast<float>(Float16{std::uint16_t(h)});
      const float b = static_cast<float>(BFloat16{std::uint16_t(h)});
      std::printf("%x %x %x\n", unsigned(h), unsigned(bitsFromFloat(a)), unsigned(bitsFromFloat(b)));
    }
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "encode") == 0) {
    unsigned u;
    while (std::scanf("%x", &u) == 1) {
      const float f = floatFromBits(u);
      std::uint16_t h = 0, b = 0;
      roundFloatsToHalf(&f, &h, 1, false);
      roundFloatsToHalf(&f, &b, 1, true);
      std::printf("%x %x\n", unsigned(h), unsigned(b));
    }
    return 0;
  }
  std::fprintf(stderr, "usage: half_check decode | encode < float32 bits\n");
  return 2;
}
