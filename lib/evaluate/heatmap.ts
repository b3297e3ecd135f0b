// SSIM maps as heat-map images: viridis-like colours, SSIM <= 0 dark purple, 1 yellow.

import { loadSharp } from './sharp';
import type { SsimMapImage } from './types';

// viridis at 0, 0.25, 0.5, 0.75, 1
const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
] as const;

/** The RGB colour of an SSIM value (clamped to [0, 1]). */
export function heatColor(v: number): [number, number, number] {
  const t = v > 0 ? (v < 1 ? v : 1) : 0; // NaN -> 0
  const pos = t * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = STOPS[i];
  const b = STOPS[i + 1];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** RGB pixels (hwc, Uint8Array) of a map. */
export function heatmapPixels(map: SsimMapImage): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(heatColor(i / 255), i * 3);
  const n = map.width * map.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = map.data[i];
    const k = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
    out[i * 3] = lut[k * 3];
    out[i * 3 + 1] = lut[k * 3 + 1];
    out[i * 3 + 2] = lut[k * 3 + 2];
  }
  return out;
}

/** A PNG of the map's heat map (one pixel per map pixel). */
export async function heatmapPng(map: SsimMapImage): Promise<Buffer> {
  const sharp = loadSharp();
  return sharp(heatmapPixels(map), { raw: { width: map.width, height: map.height, channels: 3 } }).png().toBuffer();
}
