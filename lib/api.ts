// The 12 synchronous functions (docs/API.md, "Functions"), all generated from the table in compute.ts.
//
// Device inputs: calls return once the kernels are queued (stream-ordered); values of allocating
// calls and host outputs are downloaded before returning.

import { syncFunction } from './compute';
import type {
  GradientFunction,
  GradientIntoFunction,
  ValueFunction,
  ValueIntoFunction,
  WithGradientFunction,
  WithGradientIntoFunction,
} from './types';

/**
 * Mean SSIM of x against y: a number, or a Float32Array of one value per image when `batch` is given.
 * @example ssim({ data: a, width: 640, height: 480 }, { data: b, width: 640, height: 480 })
 */
export const ssim: ValueFunction = syncFunction('ssim');

/** DSSIM = 1 - SSIM (or (1 - SSIM) / 2 with `divideByTwo`): a number, or a Float32Array with `batch`. */
export const dssim: ValueFunction = syncFunction('dssim');

/**
 * Gradient of each image's SSIM with respect to x, in x's length and layout: a Float32Array for
 * host x, a float32 DeviceArray for device x (w.r.t. normalised intensities for integer data).
 */
export const ssimGradient: GradientFunction = syncFunction('ssimGradient');

/** Gradient of each image's DSSIM with respect to x (see {@link ssimGradient}). */
export const dssimGradient: GradientFunction = syncFunction('dssimGradient');

/** SSIM and its gradient with respect to x in one pass: `{ value, gradient }`. */
export const ssimWithGradient: WithGradientFunction = syncFunction('ssimWithGradient');

/** DSSIM and its gradient with respect to x in one pass: `{ value, gradient }`. */
export const dssimWithGradient: WithGradientFunction = syncFunction('dssimWithGradient');

/** Writes the SSIM of each image into `out` (Float32Array or float32 DeviceArray of `batch`, 1 without); returns `out`. */
export const ssimInto: ValueIntoFunction = syncFunction('ssimInto');

/** Writes the DSSIM of each image into `out`; returns `out`. */
export const dssimInto: ValueIntoFunction = syncFunction('dssimInto');

/** Writes the SSIM gradient with respect to x into `grad` (x's length, float32); returns `grad`. */
export const ssimGradientInto: GradientIntoFunction = syncFunction('ssimGradientInto');

/** Writes the DSSIM gradient with respect to x into `grad`; returns `grad`. */
export const dssimGradientInto: GradientIntoFunction = syncFunction('dssimGradientInto');

/** Writes SSIM values into `out` and the gradient into `grad`; returns `{ value: out, gradient: grad }`. */
export const ssimWithGradientInto: WithGradientIntoFunction = syncFunction('ssimWithGradientInto');

/** Writes DSSIM values into `out` and the gradient into `grad`; returns `{ value: out, gradient: grad }`. */
export const dssimWithGradientInto: WithGradientIntoFunction = syncFunction('dssimWithGradientInto');
