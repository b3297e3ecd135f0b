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

// MS-SSIM (Wang, Simoncelli & Bovik 2003; docs/API.md, "MS-SSIM"): the same 12 shapes, the SSIM
// options plus `weights`. msdssim = 1 - MS-SSIM (or (1 - MS-SSIM) / 2 with `divideByTwo`).

/** Mean MS-SSIM of x against y (5 scales by default): a number, or a Float32Array with `batch`. */
export const msssim: ValueFunction = syncFunction('msssim');

/** 1 - MS-SSIM (or (1 - MS-SSIM) / 2 with `divideByTwo`), the MS-SSIM loss. */
export const msdssim: ValueFunction = syncFunction('msdssim');

/** Gradient of each image's MS-SSIM with respect to x (see {@link ssimGradient}). */
export const msssimGradient: GradientFunction = syncFunction('msssimGradient');

/** Gradient of each image's 1 - MS-SSIM with respect to x. */
export const msdssimGradient: GradientFunction = syncFunction('msdssimGradient');

/** MS-SSIM and its gradient with respect to x: `{ value, gradient }`. */
export const msssimWithGradient: WithGradientFunction = syncFunction('msssimWithGradient');

/** 1 - MS-SSIM and its gradient with respect to x: `{ value, gradient }`. */
export const msdssimWithGradient: WithGradientFunction = syncFunction('msdssimWithGradient');

/** Writes the MS-SSIM of each image into `out`; returns `out`. */
export const msssimInto: ValueIntoFunction = syncFunction('msssimInto');

/** Writes 1 - MS-SSIM of each image into `out`; returns `out`. */
export const msdssimInto: ValueIntoFunction = syncFunction('msdssimInto');

/** Writes the MS-SSIM gradient with respect to x into `grad`; returns `grad`. */
export const msssimGradientInto: GradientIntoFunction = syncFunction('msssimGradientInto');

/** Writes the gradient of 1 - MS-SSIM with respect to x into `grad`; returns `grad`. */
export const msdssimGradientInto: GradientIntoFunction = syncFunction('msdssimGradientInto');

/** Writes MS-SSIM values into `out` and the gradient into `grad`; returns `{ value: out, gradient: grad }`. */
export const msssimWithGradientInto: WithGradientIntoFunction = syncFunction('msssimWithGradientInto');

/** Writes 1 - MS-SSIM values into `out` and the gradient into `grad`; returns `{ value: out, gradient: grad }`. */
export const msdssimWithGradientInto: WithGradientIntoFunction = syncFunction('msdssimWithGradientInto');
