// ssimMap / ssimMapInto (and their promise versions): the per-pixel SSIM map, averaged over the
// channels, computed by the addon's map path (cuda/ssim_map*.{h,cpp,cu}).
//
// Shape: batch maps, row-major, one after the other: width x height pixels each for padding
// 'same', (width - windowSize + 1) x (height - windowSize + 1) for 'valid'. The mean of a map is
// the image's SSIM (up to float32 rounding).

import { allocDeviceArray, deviceBufferOf, type DeviceArray } from './device-array';
import { requireFinite } from './finite';
import { runJob, runJobAsync, type NativeMapJob } from './native';
import type { MapFunction, MapIntoFunction, AsyncMapFunction, AsyncMapIntoFunction } from './types';
import { mapShape, resolveMapCall } from './validate';

function allocateMap(job: NativeMapJob): Float32Array | DeviceArray<'float32'> {
  const { length } = mapShape(job);
  if (ArrayBuffer.isView(job.x)) {
    const host = new Float32Array(length);
    job.map = host;
    return host;
  }
  const array = allocDeviceArray('float32', length, job.device);
  job.map = deviceBufferOf(array);
  return array;
}

function release(map: Float32Array | DeviceArray): void {
  if (!ArrayBuffer.isView(map)) map.dispose();
}

/**
 * The SSIM map of x against y, averaged over channels: a Float32Array (host inputs) or a float32
 * DeviceArray (device inputs) of batch * mapHeight * mapWidth values, where the map is the image
 * for padding 'same' and the image less windowSize - 1 pixels in each dimension for 'valid'.
 * @example const map = ssimMap(a, b); // a.width * a.height values in [-1, 1]
 */
export const ssimMap: MapFunction = function ssimMap(x: unknown, y: unknown, opts?: unknown) {
  const job = resolveMapCall(x, y, opts, undefined, false);
  const map = allocateMap(job);
  try {
    runJob('computeMap', job);
    requireFinite(job.x, job.y, job.dtype, ['map', job.map]);
  } catch (err) {
    release(map);
    throw err;
  }
  return map;
} as MapFunction;

/** Writes the SSIM map into `map` (Float32Array, or float32 DeviceArray for device inputs, of the map's length); returns `map`. */
export const ssimMapInto: MapIntoFunction = function ssimMapInto(map: unknown, x: unknown, y: unknown, opts?: unknown) {
  const job = resolveMapCall(x, y, opts, map, true);
  runJob('computeMap', job);
  requireFinite(job.x, job.y, job.dtype, ['map', job.map]);
  return map;
} as MapIntoFunction;

/** {@link ssimMap}, computed off the JavaScript thread. */
export const ssimMapAsync: AsyncMapFunction = async function ssimMap(x: unknown, y: unknown, opts?: unknown) {
  const job = resolveMapCall(x, y, opts, undefined, false);
  const map = allocateMap(job);
  try {
    await runJobAsync('computeMapAsync', job);
    requireFinite(job.x, job.y, job.dtype, ['map', job.map]);
  } catch (err) {
    release(map);
    throw err;
  }
  return map;
} as AsyncMapFunction;

/** {@link ssimMapInto}, computed off the JavaScript thread. */
export const ssimMapIntoAsync: AsyncMapIntoFunction = async function ssimMapInto(map: unknown, x: unknown, y: unknown, opts?: unknown) {
  const job = resolveMapCall(x, y, opts, map, true);
  await runJobAsync('computeMapAsync', job);
  requireFinite(job.x, job.y, job.dtype, ['map', job.map]);
  return map;
} as AsyncMapIntoFunction;
