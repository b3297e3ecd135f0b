// `require('cuda-ssim/promises')`: the 24 functions (SSIM and MS-SSIM) returning Promises, computed off the JavaScript
// thread (the addon's computeAsync), and ssimMap / ssimMapInto. Arguments are validated at once, but errors reject the
// promise. Host inputs are copied when the call is made; host outputs are written when it settles
// (ERR_SSIM_DETACHED if one was transferred meanwhile). Device arrays are used in place.

import { asyncFunction } from './compute';
import type {
  AsyncGradientFunction,
  AsyncGradientIntoFunction,
  AsyncValueFunction,
  AsyncValueIntoFunction,
  AsyncWithGradientFunction,
  AsyncWithGradientIntoFunction,
} from './types';

/** Mean SSIM: resolves to a number, or a Float32Array of one value per image when `batch` is given. */
export const ssim: AsyncValueFunction = asyncFunction('ssim');

/** DSSIM = 1 - SSIM (or (1 - SSIM) / 2 with `divideByTwo`). */
export const dssim: AsyncValueFunction = asyncFunction('dssim');

/** Gradient of SSIM with respect to x: a Float32Array (host x) or float32 DeviceArray (device x). */
export const ssimGradient: AsyncGradientFunction = asyncFunction('ssimGradient');

/** Gradient of DSSIM with respect to x. */
export const dssimGradient: AsyncGradientFunction = asyncFunction('dssimGradient');

/** SSIM and its gradient: resolves to `{ value, gradient }`. */
export const ssimWithGradient: AsyncWithGradientFunction = asyncFunction('ssimWithGradient');

/** DSSIM and its gradient: resolves to `{ value, gradient }`. */
export const dssimWithGradient: AsyncWithGradientFunction = asyncFunction('dssimWithGradient');

/** Writes SSIM values into `out`; resolves to `out`. */
export const ssimInto: AsyncValueIntoFunction = asyncFunction('ssimInto');

/** Writes DSSIM values into `out`; resolves to `out`. */
export const dssimInto: AsyncValueIntoFunction = asyncFunction('dssimInto');

/** Writes the SSIM gradient into `grad`; resolves to `grad`. */
export const ssimGradientInto: AsyncGradientIntoFunction = asyncFunction('ssimGradientInto');

/** Writes the DSSIM gradient into `grad`; resolves to `grad`. */
export const dssimGradientInto: AsyncGradientIntoFunction = asyncFunction('dssimGradientInto');

/** Writes SSIM values and gradient; resolves to `{ value: out, gradient: grad }`. */
export const ssimWithGradientInto: AsyncWithGradientIntoFunction = asyncFunction('ssimWithGradientInto');

/** Writes DSSIM values and gradient; resolves to `{ value: out, gradient: grad }`. */
export const dssimWithGradientInto: AsyncWithGradientIntoFunction = asyncFunction('dssimWithGradientInto');

/** MS-SSIM (docs/API.md, "MS-SSIM"): the same 12 shapes; msdssim = 1 - MS-SSIM. */
export const msssim: AsyncValueFunction = asyncFunction('msssim');
export const msdssim: AsyncValueFunction = asyncFunction('msdssim');
export const msssimGradient: AsyncGradientFunction = asyncFunction('msssimGradient');
export const msdssimGradient: AsyncGradientFunction = asyncFunction('msdssimGradient');
export const msssimWithGradient: AsyncWithGradientFunction = asyncFunction('msssimWithGradient');
export const msdssimWithGradient: AsyncWithGradientFunction = asyncFunction('msdssimWithGradient');
export const msssimInto: AsyncValueIntoFunction = asyncFunction('msssimInto');
export const msdssimInto: AsyncValueIntoFunction = asyncFunction('msdssimInto');
export const msssimGradientInto: AsyncGradientIntoFunction = asyncFunction('msssimGradientInto');
export const msdssimGradientInto: AsyncGradientIntoFunction = asyncFunction('msdssimGradientInto');
export const msssimWithGradientInto: AsyncWithGradientIntoFunction = asyncFunction('msssimWithGradientInto');
export const msdssimWithGradientInto: AsyncWithGradientIntoFunction = asyncFunction('msdssimWithGradientInto');

export { ssimMapAsync as ssimMap, ssimMapIntoAsync as ssimMapInto } from './map';
