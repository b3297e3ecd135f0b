// launchSsimMap (ssim_map.h): one thread per map pixel of one image, looping over the channels
// and the (2r+1)^2 window (zero padding), with ssim_math.h's pixelSsimValue. Written for
// correctness and clarity (heat maps), not speed: it does not share the tuned kernels' tiling.
#include <cstdint>

#include "common/ssim_math.h"
#include "ssim_cuda.h"
#include "ssim_map.h"

namespace cudassim {

namespace {

// What the kernel needs of the job's shape (ssim_types.h's helpers are host functions).
struct MapGeometry {
  int batch, channels, height, width;
  long long imageElems, chanStride, rowStride, pixStride;
  int x0, y0, mw, mh;
};

template <typename T>
__global__ void ssimMapKernel(SsimJob job, MapGeometry g, float* map) {
  const SsimParams& p = job.params;
  const int mw = g.mw;
  const int mh = g.mh;
  const int mx = blockIdx.x * blockDim.x + threadIdx.x;
  const int my = blockIdx.y * blockDim.y + threadIdx.y;
  if (mx >= mw || my >= mh) return;
  const int px = mx + g.x0;
  const int py = my + g.y0;
  const int R = p.radius;
  const T* xs = static_cast<const T*>(job.x);
  const T* ys = static_cast<const T*>(job.y);
  for (int b = blockIdx.z; b < g.batch; b += gridDim.z) {
    float total = 0.0f;
    for (int c = 0; c < g.channels; ++c) {
      const long long plane = b * g.imageElems + c * g.chanStride;
      // Shifted moments (ssim_math.h, Shift): the plane's reference intensities; padding is -shift.
      const Shift sh = planeShiftOf(xs + plane, ys + plane, g.height, g.width, g.rowStride, g.pixStride,
                                    shiftWeight(g.height, g.width, R, p.valid), p.inputScale);
      Moments4 m{0.0f, 0.0f, 0.0f, 0.0f};
      for (int dy = -R; dy <= R; ++dy) {
        const int qy = py + dy;
        const bool rowIn = qy >= 0 && qy < g.height;
        const float wy = p.taps[dy < 0 ? -dy : dy];
        float rx = 0.0f, ry = 0.0f, rss = 0.0f, rxy = 0.0f;
        for (int dx = -R; dx <= R; ++dx) {
          const int qx = px + dx;
          float xv = -sh.x, yv = -sh.y;
          if (rowIn && qx >= 0 && qx < g.width) {
            const long long i = plane + qy * g.rowStride + qx * g.pixStride;
            xv = toIntensity(xs[i], p.inputScale) - sh.x;
            yv = toIntensity(ys[i], p.inputScale) - sh.y;
          }
          const float w = p.taps[dx < 0 ? -dx : dx];
          rx += w * xv;
          ry += w * yv;
          rss += w * (mulRounded(xv, xv) + mulRounded(yv, yv));
          rxy += w * mulRounded(xv, yv);
        }
        m.mx += wy * rx;
        m.my += wy * ry;
        m.ss += wy * rss;
        m.xy += wy * rxy;
      }
      total += pixelSsimValue(m, sh, p.c1, p.c2);
    }
    map[(long long)b * mw * mh + (long long)my * mw + mx] = total / float(g.channels);
  }
}

template <typename T>
cudaError_t launch(const SsimJob& job, float* map, cudaStream_t stream) {
  const MapRegion region = mapRegion(job.shape, job.params);
  const dim3 block(32, 8);
  const dim3 grid((region.x1 - region.x0 + block.x - 1) / block.x, (region.y1 - region.y0 + block.y - 1) / block.y,
                  job.shape.batch < 65535 ? job.shape.batch : 65535);
  const ImageShape& s = job.shape;
  MapGeometry g;
  g.batch = s.batch;
  g.channels = s.channels;
  g.height = s.height;
  g.width = s.width;
  g.imageElems = (long long)s.imageElems();
  g.chanStride = s.chanStride();
  g.rowStride = s.rowStride();
  g.pixStride = s.pixStride();
  g.x0 = region.x0;
  g.y0 = region.y0;
  g.mw = region.x1 - region.x0;
  g.mh = region.y1 - region.y0;
  ssimMapKernel<T><<<grid, block, 0, stream>>>(job, g, map);
  recordPlainLaunch(stream);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launchSsimMap(const SsimJob& job, float* map, cudaStream_t stream) {
  if (dtypeBytes(job.dtype) == 0) return cudaErrorInvalidValue;
  return withElementType(job.dtype, [&](auto e) { return launch<typename decltype(e)::type>(job, map, stream); });
}

}  // namespace cudassim
