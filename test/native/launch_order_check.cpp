// Host-only check of cuda/gpu/launch_order.h: which launches may start before the kernel ahead of
// them has finished. Run by test/native.test.js (no GPU needed):
//   g++ -std=c++17 -I cuda test/native/launch_order_check.cpp -o /tmp/launch_order_check && /tmp/launch_order_check
#include <cstdio>

#include "gpu/launch_order.h"

using namespace cudassim;

namespace {

int failures = 0;

void expect(bool got, bool want, const char* what) {
  std::printf("%s  %s\n", got == want ? "PASS" : "FAIL", what);
  if (got != want) ++failures;
}

}  // namespace

int main() {
  char* const base = reinterpret_cast<char*>(0x100000);  // addresses are only compared
  auto span = [&](std::size_t off, std::size_t bytes) { return spanOf(base + off, bytes); };
  const Span x = span(0, 1000), y = span(1000, 1000), g = span(2000, 1000), out = span(3000, 8),
             ws = span(4000, 100), out2 = span(5000, 8), none{};
  const std::uintptr_t stream = 0x1234;
  LaunchOrder order;
  {
    const Span w[3] = {out, g, ws};
    expect(order.admit(0, stream, w, x, y, false), false, "value + gradient call (x -> g): ordinary");
  }
  {
    const Span w[3] = {out2, none, ws};
    expect(order.admit(0, stream, w, x, y, true), true, "value-only call on x, y after it: early");
  }
  {
    const Span w[3] = {out, none, ws};
    expect(order.admit(0, stream, w, g, y, true), false,
           "value-only call on g, written two launches back by a launch that may still run: ordinary");
    expect(order.admit(0, stream, w, g, y, true), true,
           "again (g's writer finished before the ordinary launch started): early");
    expect(order.admit(0, stream, w, out, y, true), false, "value-only call reading the out buffer just written: ordinary");
  }
  {
    const Span w[3] = {out, none, ws};
    int early = 0;
    for (int i = 0; i < 200; ++i) early += order.admit(0, stream, w, x, y, true) ? 1 : 0;
    expect(early == 200, true, "200 value-only calls writing the same buffers all start early (spans kept once)");
  }
  {
    // Before: out and ws recorded (2 spans). A new out buffer per call grows the record by one;
    // at 46 spans the next launch is ordinary and the record restarts from its writes.
    int early = 0;
    for (int i = 0; i < 60; ++i) {
      const Span wi[3] = {span(10000 + 8 * i, 8), none, ws};
      early += order.admit(0, stream, wi, x, y, true) ? 1 : 0;
    }
    expect(early == 59, true, "a chain that writes ever new buffers is cut by one ordinary launch in 60");
  }
  {
    const Span w[3] = {out, g, ws};
    expect(order.admit(1, stream, w, x, y, false), false, "other device, same stream handle: its own record");
    const Span w2[3] = {out, none, ws};
    expect(order.admit(0, stream + 1, w2, g, y, true), true, "other stream: its own record");
    expect(order.admit(1, stream, w2, g, y, true), false, "device 1's record holds its own gradient call");
  }
  {
    const Span w[3] = {out, none, ws};
    expect(order.admit(0, 0x9999, w, x, y, false), false, "not a candidate: ordinary");
  }
  {
    // MS-SSIM: a value call's combination (reads its values, writes out), then the next call's
    // scale-0 forward, which reads x, y and writes the pooled scale 1 before it waits.
    const std::uintptr_t s2 = 0x5678;
    const Span vals = span(20000, 64), msOut = span(20100, 8), pooledX = span(21000, 250), pooledY = span(21300, 250);
    const Span forward[4] = {x, y, pooledX, pooledY};
    expect(order.followsCombination(0, s2, forward), false, "no combination recorded on the stream: ordinary");
    const Span touched[LaunchOrder::kCombinationSpans] = {vals, msOut};
    order.combined(0, s2, touched);
    expect(order.followsCombination(0, s2, forward), true, "scale-0 forward right after a combination it does not touch: early");
    expect(order.followsCombination(1, s2, forward), false, "the combination was on another device: ordinary");
    const Span overPooled[4] = {x, y, span(20032, 250), pooledY};
    expect(order.followsCombination(0, s2, overPooled), false,
           "pooled scale 1 over the values the combination reads (another layout of one workspace): ordinary");
    const Span readsOut[4] = {msOut, y, pooledX, pooledY};
    expect(order.followsCombination(0, s2, readsOut), false, "x is the out buffer the combination writes: ordinary");
    const Span w[3] = {out, none, ws};
    expect(order.admit(0, s2, w, msOut, y, true), false, "a value-only SSIM call reading the combination's out: ordinary");
    order.combined(0, s2, touched);
    expect(order.admit(0, s2, w, x, y, true), true, "a value-only SSIM call on other inputs after the combination: early");
    expect(order.followsCombination(0, s2, forward), false, "after that SSIM launch the combination is not the last one: ordinary");
    order.combined(0, s2, touched);
    order.plainLaunch(0, s2);
    expect(order.followsCombination(0, s2, forward), false, "after a map or rounding kernel: ordinary");
  }
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
