// The one-pass value + gradient kernel for float32 inputs (docs/PERFORMANCE.md, v19 to v21;
// launched by cuda/gpu/ssim_cuda.cu where its strips cover the planes well, fusedPays; other
// dtypes, and short narrow planes, take the two-launch design: fused, float16 inputs measured 11%
// slower, without cp.async staging). Narrow planes are packed side by side in one virtual row as
// for the two launches (kPacked: "Packed strips" below). The two-launch design (ssim_kernels.cuh) writes the three partial maps to
// global memory and reads them back: 44 bytes per pixel where 12 must move (x, y, the gradient).
// Here one block keeps them on chip:
//
//   input strip, 128 columns = kFusedW + 4 kHalo (one per thread, all 128 lanes busy)
//     -> forward vertical pass (the forward's 4 moments, 44 registers of shift register)
//     -> forward horizontal pass: SSIM and the partial maps of kFusedMapW = kFusedW + 2 kHalo
//        columns, into shared memory (smap) instead of global
//     -> backward vertical pass over smap (alpha, beta, gamma: 33 more registers)
//     -> backward horizontal pass: the gradient of kFusedW = 108 columns, with x and y at the
//        pixel from shared memory (spix): the forward's vertical pass holds them, the oldest row
//        of its shift register, in the same step (no global loads after the staging).
//
// Rows: in step s of a segment (rows gy0 .. gyEnd), rb0 = gy0 + s kRB; the step loads input rows
// rb0 + 2 kHalo .., writes map rows rb0 + kHalo .. and gradient rows rb0 .. rb0 + kRB - 1: the maps
// lead the gradient by kHalo rows, the inputs the maps by kHalo more. Step -1 (the warm-up) fills
// the backward's shift register with map rows gy0 - 7 .. gy0 + 4 and writes no gradient. Map rows
// a segment's gradient never reads (above gy0 - kHalo, from gyEnd + kHalo) are skipped: the stale
// shared rows the backward then shifts in reach only gradient rows outside the segment, which
// are not stored. Likewise the last forward item's last two columns (map columns 118, 119)
// filter moment columns no thread writes: they are masked out of the maps and the sums.
//
// The map pixels of a strip's halo columns and rows are computed by two blocks (1.09x the
// forward's horizontal work, 1.19x its vertical work); each counts in the mean only in the block
// that owns its column and row (sumBits).
//
// Shared memory (70.5 KB dynamic, + 3.8 KB static in the packed form; 3 blocks of 128 threads
// per SM, at most 168 registers each):
//   sstage  the next step's x, y (cp.async, as the forward)
//   spix    the step's gradient rows of x and y (shifted), 2 x kRB rows x 140, each thread's
//           column 2 to the right, so that the gradient items' 4 pixels are 16-byte aligned
//   smom    the forward's vertical moments, 4 x kRB rows x 152; then, once the forward's horizontal
//           pass has read them, the backward's vertical pass writes the blurred maps over them
//           (sblur, 3 x kRB rows x 140: the pitches keep the 128-bit item loads conflict-free)
//   smap    alpha, beta, gamma of the step's map rows, 3 x kRB rows x 120
// Four barriers per step: after each of the four passes.
#pragma once

#include "ssim_kernels.cuh"

namespace cudassim {
namespace kernels {

constexpr int kFusedW = kThreads - 4 * kHalo;                       // 108 gradient columns per strip
constexpr int kFusedMapW = kFusedW + 2 * kHalo;                     // 118 partial-map columns
constexpr int kFusedMapSegs = (kFusedMapW + kSegW - 1) / kSegW;     // 30 forward items per row
constexpr int kFusedGradSegs = kFusedW / kSegW;                     // 27 gradient items per row
constexpr int kFusedMapItems = kRB * kFusedMapSegs;                 // 360
constexpr int kFusedGradItems = kRB * kFusedGradSegs;               // 324
constexpr int kFusedMomentPitch = 4 * (kFusedMapSegs + 8);          // 152
constexpr int kFusedBlurPitch = 4 * (kFusedGradSegs + 8);           // 140
constexpr int kFusedMapPitch = kFusedMapSegs * kSegW;               // 120
constexpr int kFusedMomentBuf = kRB * kFusedMomentPitch;
constexpr int kFusedBlurBuf = kRB * kFusedBlurPitch;
constexpr int kFusedMapBuf = kRB * kFusedMapPitch;
constexpr int kFusedPixOff = kSegW - 2 * kHalo % kSegW;                // 2: thread tid's column at tid + 2
constexpr int kFusedPixBuf = kRB * kFusedBlurPitch;                    // the gradient items' geometry
constexpr int kFusedMinBlocks = 3;  // resident blocks per SM the registers are sized for (<= 168 each)

static_assert(kFusedW % kSegW == 0, "strips start 16-byte aligned (float4 gradient stores)");
static_assert((kFusedMapSegs - 1) * kSegW + kSegLoad <= kFusedMomentPitch, "forward items read inside the row");
static_assert((kFusedGradSegs - 1) * kSegW + kSegLoad <= kFusedBlurPitch, "gradient items read inside the row");
static_assert(kFusedMapPitch <= kThreads, "a thread per map column in the backward's vertical pass");
static_assert(kThreads + kFusedPixOff <= kFusedBlurPitch && (2 * kHalo + kFusedPixOff) % kSegW == 0,
              "every column's x and y fit a row of spix; the items' pixels are 16-byte aligned");
static_assert(3 * kFusedBlurBuf <= kMoments * kFusedMomentBuf, "the blurred maps fit over the moments");
static_assert(8 * ((kFusedMapItems + kThreads - 1) / kThreads) <= 32, "a thread's forward items' bits fit in an int");

// Dynamic shared memory of ssimFusedKernel (floats; the launch passes bytes).
constexpr int kFusedStageFloats = 2 * kRB * kThreads;
constexpr int kFusedSharedBytes =
    int(sizeof(float)) * (kFusedStageFloats + 2 * kFusedPixBuf + kMoments * kFusedMomentBuf + 3 * kFusedMapBuf);

// f: the value's half (x, y, out and the per-image state, strides, map region, taps, constants;
// work in strips of kFusedW, planes packed or not); b: the gradient's (grad, its stores, gradScale).
struct FusedArgs {
  ForwardArgs f;
  BackwardArgs b;
};

// The columns of a forward item (kSegW map columns from map column m0 of the strip, the first at
// column lc of its plane) that lie inside the map. The last item's last two columns never do:
// they filter moment columns no thread writes ("Rows" above).
__device__ __forceinline__ int fusedMapMask(const ForwardArgs& a, int lc, int m0) {
  return columnBits(a.mapX0 - lc, a.mapX1 - lc) & columnBits(0, kFusedMapW - m0);
}

// Packed strips (kPacked, WorkLayout::nPack > 1): the item column groups of a segment, once per
// segment into shared tables: a forward item's columns inside its plane's map (mask bits 0-3) and
// its plane's slot (the plane of the strip's first map column, + slot); a gradient item's columns
// inside its plane (mask) and the element offset of its first pixel in row 0 (off).
__device__ __forceinline__ ItemColumns fusedMapColumns(const ForwardArgs& a, const Segment& sg, int slot0, int seg) {
  const WorkLayout& w = a.work;
  const int m0 = seg * kSegW;  // map column within the strip
  int lc;
  const int p = planeOfColumn(w, sg.gx0 - kHalo + m0, lc);
  ItemColumns ic{0, 0, 0};
  if (p < w.nPack && sg.plane0 + p < w.planes && p - slot0 < kSlots) {  // (p >= slot0: columns increase)
    ic.mask = fusedMapMask(a, lc, m0);  // (the map lies in the plane)
    ic.slot = p - slot0;
  }
  return ic;
}
__device__ __forceinline__ ItemColumns fusedGradColumns(const ForwardArgs& a, const Segment& sg, int seg) {
  const WorkLayout& w = a.work;
  int lc;
  const int p = planeOfColumn(w, sg.gx0 + seg * kSegW, lc);
  ItemColumns ic{0, 0, 0};
  if (p < w.nPack && sg.plane0 + p < w.planes) {
    ic.off = planeOffset(a, unsigned(sg.plane0 + p)) + (long long)lc * a.pixStride;
    ic.mask = columnBits(-lc, a.width - lc);
  }
  return ic;
}

template <Reciprocal M, bool kPacked>
__global__ void __launch_bounds__(kThreads, kFusedMinBlocks) ssimFusedKernel(const FusedArgs args) {
  extern __shared__ __align__(16) float fusedShared[];
  float* const sstage = fusedShared;
  float* const spix = fusedShared + kFusedStageFloats;
  float* const smom = spix + 2 * kFusedPixBuf;
  float* const sblur = smom;  // written after the forward's horizontal pass has read smom
  float* const smap = smom + kMoments * kFusedMomentBuf;
  __shared__ float sred[kPacked ? kWarps * kSlots : kWarps];
  // Packed only: the item tables, the slots' shifts, each forward item's map sum over the segment.
  __shared__ __align__(16) ItemColumns smcol[kPacked ? kFusedMapSegs : 1];
  __shared__ __align__(16) ItemColumns sgcol[kPacked ? kFusedGradSegs : 1];
  __shared__ Shift sref[kPacked ? kSlots : 1];
  __shared__ double sitem[kPacked ? kFusedMapItems : 1];
  constexpr int kMapBits = kPacked ? 10 : 8;  // a forward item's bits in mapBits

  const ForwardArgs& a = args.f;
  const BackwardArgs& ba = args.b;
  const float* __restrict__ xp = static_cast<const float*>(a.x);
  const float* __restrict__ yp = static_cast<const float*>(a.y);
  const WorkLayout& w = a.work;
  const int tid = threadIdx.x;
  const bool wantValue = a.out != nullptr;
  const Taps taps = a.taps;

  for (unsigned r = blockIdx.x; r < w.ranges; r += gridDim.x) {
    RangeCursor cur = rangeStart(w, r);
    while (cur.left > 0) {
      const Segment sg = nextSegment<kFusedW>(w, cur);
      const int gx = sg.gx0 - 2 * kHalo + tid;  // this thread's input column (packed: virtual)
      // Packed: slots count from the plane of the first map column (slot0); a column whose plane
      // has no slot feeds only map columns outside every plane's map (zeros), and loads zeros.
      int slot0 = 0, colSlot = 0;
      bool colOk;
      long long planeOff = 0, colOff = 0;
      if constexpr (kPacked) {
        int l0, local = 0;
        slot0 = planeOfColumn(w, sg.gx0 - kHalo, l0);
        const int p = gx >= -kHalo ? planeOfColumn(w, gx, local) : -1;
        colSlot = p - slot0;
        if (p < 0 || p >= w.nPack || sg.plane0 + p >= w.planes || unsigned(colSlot) >= unsigned(kSlots)) colSlot = -1;
        colOk = colSlot >= 0 && unsigned(local) < unsigned(a.width);  // (the fused layout's region is the plane)
        if (colOk) colOff = planeOffset(a, unsigned(sg.plane0 + p)) + (long long)local * a.pixStride;
      } else {
        planeOff = firstPlaneOffset(a, sg);  // one plane per strip
        colOk = unsigned(gx) < unsigned(a.width);
        if (colOk) colOff = planeOff + (long long)gx * a.pixStride;
      }

      // Inputs of step rb0: rows rb0 + 2 kHalo .. + kRB - 1 (zero outside the image), staged
      // asynchronously into this thread's column of sstage.
      const float* const xy[2] = {xp, yp};
      auto loadBatch = [&](int rb0) { stageBatchRows(sstage, xy, colOff, a.rowStride, rb0 + kHalo, a.height, colOk); };
      const int first = sg.gy0 - kRB;  // the warm-up step
      loadBatch(first);                // first, so that it flies while the shift and the halo rows load
      Shift sh;  // this column's plane's
      if constexpr (kPacked) {
        slotShifts(a, xp, yp, sg, sg.gx0 - kHalo, sref);
        if (tid < kFusedMapSegs) smcol[tid] = fusedMapColumns(a, sg, slot0, tid);
        if (tid >= 32 && tid < 32 + kFusedGradSegs) sgcol[tid - 32] = fusedGradColumns(a, sg, tid - 32);
        if (wantValue)
          for (int it = tid; it < kFusedMapItems; it += kThreads) sitem[it] = 0.0;
        __syncthreads();  // sref, smcol, sgcol
        sh = colSlot >= 0 ? sref[colSlot] : Shift{0.0f, 0.0f};
      } else {
        sh = planeShift(a, xp, yp, planeOff);
      }

      // Each thread's items: the same columns in every step of the segment. Forward item
      // it = tid + k kThreads: bits kMapBits k + 0 .. 3 its columns inside the map (kept), + 4 ..
      // 7 those this strip owns (summed), packed + 8, 9 its slot; gradient item: 4 bits, its
      // columns in the image.
      int mapBits = 0, gradBits = 0;
#pragma unroll
      for (int k = 0; k * kThreads < kFusedMapItems; ++k) {
        const int it = tid + k * kThreads;
        const int m0 = (it % kFusedMapSegs) * kSegW;  // map column within the strip
        int in, slot = 0;
        if constexpr (kPacked) {
          const ItemColumns& ic = smcol[it % kFusedMapSegs];
          in = ic.mask;
          slot = ic.slot;
        } else {
          in = fusedMapMask(a, sg.gx0 - kHalo + m0, m0);  // (its image column: one plane per strip)
        }
        const int own = columnBits(kHalo - m0, kHalo + kFusedW - m0);
        if (it < kFusedMapItems) mapBits |= (in | (own << 4) | (slot << 8)) << (kMapBits * k);
      }
#pragma unroll
      for (int k = 0; k * kThreads < kFusedGradItems; ++k) {
        const int it = tid + k * kThreads;
        int cols;
        if constexpr (kPacked) {
          cols = sgcol[it % kFusedGradSegs].mask;
        } else {
          const int c0 = sg.gx0 + (it % kFusedGradSegs) * kSegW;
          cols = columnBits(0, a.width - c0);
        }
        if (it < kFusedGradItems) gradBits |= cols << (4 * k);
      }

      // The forward's shift register: rows first .. first + 9.
      float rx[kWin], ry[kWin], rss[kWin], rxy[kWin];
      primeMoments(a, xp, yp, colOff, colOk, first, sh, rx, ry, rss, rxy);
      // The backward's: filled by the warm-up step.
      float ra[kWin], rb[kWin], rg[kWin];
#pragma unroll
      for (int k = 0; k < kWin; ++k) ra[k] = rb[k] = rg[k] = 0.0f;

      double segSum = 0.0;
      for (int step = -1; step < sg.nBatches; ++step) {
        const int rb0 = sg.gy0 + step * kRB;
        // 1. Forward vertical pass: input rows rb0 + 2 kHalo + j -> moments of map row rb0 + kHalo + j.
        cpAsyncWaitAll();
#pragma unroll
        for (int j = 0; j < kRB; ++j) {
          const float lx = shiftStored(sstage[j * kThreads + tid], a.inputScale, sh.x);  // zero padding: -shift
          const float ly = shiftStored(sstage[(kRB + j) * kThreads + tid], a.inputScale, sh.y);
          shiftIn(rx, lx);
          shiftIn(ry, ly);
          shiftIn(rss, sumOfSquares(lx, ly));
          shiftIn(rxy, __fmul_rn(lx, ly));
          // The oldest row in the register, rb0 + j: the gradient's x and y at this step's row j.
          spix[j * kFusedBlurPitch + kFusedPixOff + tid] = rx[0];
          spix[kFusedPixBuf + j * kFusedBlurPitch + kFusedPixOff + tid] = ry[0];
          float* dst = smom + j * kFusedMomentPitch + tid;
          dst[0 * kFusedMomentBuf] = foldAt(rx, kHalo, taps);
          dst[1 * kFusedMomentBuf] = foldAt(ry, kHalo, taps);
          dst[2 * kFusedMomentBuf] = foldAt(rss, kHalo, taps);
          dst[3 * kFusedMomentBuf] = foldAt(rxy, kHalo, taps);
        }
        __syncthreads();
        if (step + 1 < sg.nBatches) loadBatch(rb0 + kRB);  // after the barrier: sstage read

        // 2. Forward horizontal pass: SSIM and partial maps of map rows rb0 + kHalo + row, into smap.
        float batchSum = 0.0f;
        int bits = mapBits;
        for (int it = tid; it < kFusedMapItems; it += kThreads, bits >>= kMapBits) {
          const int row = it / kFusedMapSegs;
          const int seg = it - row * kFusedMapSegs;
          const int my = rb0 + kHalo + row;
          if (my < sg.gy0 - kHalo || my >= sg.gyEnd + kHalo) continue;  // no gradient row of the segment reads it
          ItemMoments im;
          filterMoments(smom + row * kFusedMomentPitch + seg * kSegW, kFusedMomentBuf, taps, im);
          const int in = my >= a.mapY0 && my < a.mapY1 ? bits & 0xF : 0;
          const int sum = my >= sg.gy0 && my < sg.gyEnd ? in & (bits >> 4) : 0;
          float al[kSegW], be[kSegW], ga[kSegW];
          const Shift ish = kPacked ? sref[(bits >> 8) & 3] : sh;  // the item's plane's
          const float s = itemPartials<M>(im, ish, a.c1, a.c2q, in, sum, al, be, ga);
          if constexpr (kPacked) {
            if (wantValue) sitem[it] += s;
          } else {
            batchSum += s;
          }
          float* dst = smap + row * kFusedMapPitch + seg * kSegW;
          *reinterpret_cast<float4*>(dst) = make_float4(al[0], al[1], al[2], al[3]);
          *reinterpret_cast<float4*>(dst + kFusedMapBuf) = make_float4(be[0], be[1], be[2], be[3]);
          *reinterpret_cast<float4*>(dst + 2 * kFusedMapBuf) = make_float4(ga[0], ga[1], ga[2], ga[3]);
        }
        segSum += batchSum;
        __syncthreads();

        // 3. Backward vertical pass: map rows rb0 + kHalo + j -> blurred maps of gradient row rb0 + j.
        if (tid < kFusedMapPitch) {
#pragma unroll
          for (int j = 0; j < kRB; ++j) {
            const float* src = smap + j * kFusedMapPitch + tid;
            shiftIn(ra, src[0]);
            shiftIn(rb, src[kFusedMapBuf]);
            shiftIn(rg, src[2 * kFusedMapBuf]);
            if (step >= 0) {
              float* dst = sblur + j * kFusedBlurPitch + tid;
              dst[0 * kFusedBlurBuf] = foldAt(ra, kHalo, taps);
              dst[1 * kFusedBlurBuf] = foldAt(rb, kHalo, taps);
              dst[2 * kFusedBlurBuf] = foldAt(rg, kHalo, taps);
            }
          }
        }
        if (step < 0) continue;  // the warm-up writes no gradient (and sblur is untouched)
        __syncthreads();

        // 4. Backward horizontal pass: the gradient of rows rb0 .. rb0 + kRB - 1.
        bits = gradBits;
        for (int it = tid; it < kFusedGradItems; it += kThreads, bits >>= 4) {
          const int row = it / kFusedGradSegs;
          const int seg = it - row * kFusedGradSegs;
          const int gy = rb0 + row;
          const int cols = bits & 0xF;
          if (gy >= sg.gyEnd || cols == 0) continue;
          const long long col0 = kPacked ? sgcol[seg].off : planeOff + (long long)(sg.gx0 + seg * kSegW) * a.pixStride;
          const long long off0 = col0 + (long long)gy * a.rowStride;
          // Columns gx0 + 4 seg .. + 3: threads 4 seg + 2 kHalo .. (spix: + kFusedPixOff).
          const float* px = spix + row * kFusedBlurPitch + seg * kSegW + 2 * kHalo + kFusedPixOff;
          const float4 x4 = *reinterpret_cast<const float4*>(px);
          const float4 y4 = *reinterpret_cast<const float4*>(px + kFusedPixBuf);
          const float xv[kSegW] = {x4.x, x4.y, x4.z, x4.w}, yv[kSegW] = {y4.x, y4.y, y4.z, y4.w};
          float g[kSegW];
          itemGradient(sblur + row * kFusedBlurPitch + seg * kSegW, kFusedBlurBuf, taps, xv, yv, ba.gradScale, g);
          storeItemGradient(ba, off0, cols, g);
        }
        __syncthreads();  // the next step's vertical pass overwrites smom (= sblur)
      }

      // The segment's share of its planes' images' means: packed, per slot (the forward's way).
      if (kPacked && wantValue) {
        float part[kSlots];
#pragma unroll
        for (int j = 0; j < kSlots; ++j) part[j] = 0.0f;
        addItemSums<kFusedMapItems, kMapBits>(sitem, mapBits, part, tid);
        slotSumsToShared(part, kSlots, sred, tid);
        __syncthreads();
        if (tid < kSlots) {
          const float blockSum = blockSlotSum(sred, tid);
          int cols = 0;
          for (int q = 0; q < kFusedMapSegs; ++q) {
            const int own = columnBits(kHalo - q * kSegW, kHalo + kFusedW - q * kSegW);
            cols += smcol[q].slot == tid ? __popc(smcol[q].mask & own) : 0;
          }
          const int rows = max(0, min(sg.gyEnd, a.mapY1) - max(sg.gy0, a.mapY0));
          const unsigned long long n = (unsigned long long)cols * unsigned(rows);
          if (n > 0) addToImage(a, w.byChannels.div(unsigned(sg.plane0 + slot0 + tid)), blockSum, n);
        }
        if (cur.left > 0 || r + gridDim.x < w.ranges) __syncthreads();  // sred, smcol: the next segment
      } else if (wantValue) {
        const float t = warpSum(float(segSum));
        if ((tid & 31) == 0) sred[tid >> 5] = t;
        __syncthreads();
        if (tid == 0) {
          float blockSum = 0.0f;
#pragma unroll
          for (int v = 0; v < kWarps; ++v) blockSum += sred[v];
          const int cols = max(0, min(min(sg.gx0 + kFusedW, a.width), a.mapX1) - max(sg.gx0, a.mapX0));
          const int rows = max(0, min(sg.gyEnd, a.mapY1) - max(sg.gy0, a.mapY0));
          const unsigned long long n = (unsigned long long)cols * unsigned(rows);
          if (n > 0) addToImage(a, sg.b0, blockSum, n);
        }
        // (sred is written again only after the next segment's barriers)
      }
    }
  }
}

}  // namespace kernels
}  // namespace cudassim
