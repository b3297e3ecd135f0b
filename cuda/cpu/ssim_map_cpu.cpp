// computeSsimMapCpu (ssim_cpu.h): for each band of map rows of one image, filter the rows it
// needs horizontally (four moments, zero padding), then vertically, then ssim_math.h's
// pixelSsimValue per pixel, averaged over the channels. Bands are shared out to std::threads.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/ssim_math.h"
#include "parallel_for.h"
#include "ssim_cpu.h"

namespace cudassim {

namespace {

constexpr int kBandRows = 32;

template <typename T>
void bandWork(const SsimJob& job, const T* xs, const T* ys, int b, int r0, int r1, float* map, std::vector<float>& h) {
  const ImageShape& s = job.shape;
  const SsimParams& p = job.params;
  const MapRegion region = mapRegion(s, p);
  const int R = p.radius;
  const int W = s.width;
  const int H = s.height;
  const int mw = region.x1 - region.x0;
  const float scale = p.inputScale;
  const float invC = 1.0f / float(s.channels);
  // Rows of the image that the band's map rows [r0, r1) read: [h0, h1).
  const int h0 = std::max(0, r0 - R);
  const int h1 = std::min(H, r1 + R);
  const std::size_t plane = std::size_t(h1 - h0) * std::size_t(W);
  h.assign(plane * 4, 0.0f);
  float* hx = h.data();
  float* hy = hx + plane;
  float* hss = hy + plane;
  float* hxy = hss + plane;
  float* band = map + std::size_t(b) * region.count();
  for (int y = r0; y < r1; ++y) std::fill_n(band + std::size_t(y - region.y0) * mw, mw, 0.0f);

  for (int c = 0; c < s.channels; ++c) {
    // Shifted moments (ssim_math.h, Shift); zero padding pads with -shift.
    const std::size_t plane = s.offset(b, c, 0, 0);
    const Shift sh = planeShiftOf(xs + plane, ys + plane, H, W, s.rowStride(), s.pixStride(),
                                  shiftWeight(H, W, p.radius, p.valid), scale);
    auto value = [&](const T* v, float shift, int yy, int x) {
      return yy >= 0 && yy < H && x >= 0 && x < W ? toIntensity(v[s.offset(b, c, yy, x)], scale) - shift : -shift;
    };
    for (int yy = h0; yy < h1; ++yy) {
      const std::size_t row = std::size_t(yy - h0) * W;
      for (int x = 0; x < W; ++x) {
        float mx = 0, my = 0, ss = 0, xy = 0;
        for (int k = -R; k <= R; ++k) {
          const float xv = value(xs, sh.x, yy, x + k);
          const float yv = value(ys, sh.y, yy, x + k);
          const float w = p.taps[k < 0 ? -k : k];
          mx += w * xv;
          my += w * yv;
          ss += w * (mulRounded(xv, xv) + mulRounded(yv, yv));
          xy += w * mulRounded(xv, yv);
        }
        hx[row + x] = mx;
        hy[row + x] = my;
        hss[row + x] = ss;
        hxy[row + x] = xy;
      }
    }
    // A row outside the image: all padding.
    float px = 0, py = 0, pss = 0, pxy = 0;
    for (int k = -R; k <= R; ++k) {
      const float w = p.taps[k < 0 ? -k : k];
      px += w * -sh.x;
      py += w * -sh.y;
      pss += w * (mulRounded(sh.x, sh.x) + mulRounded(sh.y, sh.y));
      pxy += w * mulRounded(sh.x, sh.y);
    }
    for (int y = r0; y < r1; ++y) {
      float* out = band + std::size_t(y - region.y0) * mw;
      for (int x = region.x0; x < region.x1; ++x) {
        Moments4 m{0, 0, 0, 0};
        for (int k = -R; k <= R; ++k) {
          const bool in = y + k >= 0 && y + k < H;
          const std::size_t i = in ? std::size_t(y + k - h0) * W + x : 0;
          const float w = p.taps[k < 0 ? -k : k];
          m.mx += w * (in ? hx[i] : px);
          m.my += w * (in ? hy[i] : py);
          m.ss += w * (in ? hss[i] : pss);
          m.xy += w * (in ? hxy[i] : pxy);
        }
        const float v = pixelSsimValue(m, sh, p.c1, p.c2);
        out[x - region.x0] += s.channels == 1 ? v : v * invC;
      }
    }
  }
}

template <typename T>
void run(const SsimJob& job, float* map, int threads) {
  const T* xs = static_cast<const T*>(job.x);
  const T* ys = static_cast<const T*>(job.y);
  const MapRegion region = mapRegion(job.shape, job.params);
  const int rows = region.y1 - region.y0;
  const int bandsPerImage = (rows + kBandRows - 1) / kBandRows;
  const long long units = (long long)bandsPerImage * job.shape.batch;
  std::atomic<long long> next{0};
  auto worker = [&] {
    std::vector<float> scratch;
    for (long long u = next++; u < units; u = next++) {
      const int b = int(u / bandsPerImage);
      const int r0 = region.y0 + int(u % bandsPerImage) * kBandRows;
      const int r1 = std::min(region.y1, r0 + kBandRows);
      bandWork<T>(job, xs, ys, b, r0, r1, map, scratch);
    }
  };
  int n = threads > 0 ? threads : hardwareThreads();
  n = int(std::max<long long>(1, std::min<long long>(n, units)));
  std::vector<std::thread> pool;
  pool.reserve(std::size_t(n - 1));
  for (int i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

}  // namespace

void computeSsimMapCpu(const SsimJob& job, float* map, int threads) {
  withElementType(job.dtype, [&](auto e) { run<typename decltype(e)::type>(job, map, threads); });
}

}  // namespace cudassim
