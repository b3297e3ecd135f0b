// The options object and the metric options in it: windowSize, sigma, k1, k2, dataRange, padding,
// divideByTwo. (backend and device: ./backend; workspace: ./workspace.)

import { expected, optionError, ssimError } from '../errors';
import type { DType, Padding, SsimOptions } from '../types';
import { isOptionsObject, type Unchecked } from '../util';

const NO_OPTIONS: Unchecked<SsimOptions> = Object.freeze({});
const DEFAULT_WINDOW = 11;

/** Stored value -> intensity: integer data are normalised to [0, 1]. */
const INPUT_SCALE: Readonly<Record<DType, number>> = { float32: 1, float64: 1, uint8: 1 / 255, uint16: 1 / 65535, float16: 1, bfloat16: 1 };

// k >= 1e-18 keeps C = k^2 (>= 1e-36) a normal float32 number, and 1 / C2 and 2 / C2 (the
// partials' bounds) finite (cuda/MATH.md); k <= 1e4 keeps A1 A2 and B1 B2 far from overflow for
// data in [0, dataRange].
const K_MIN = 1e-18;
const K_MAX = 1e4;
// Float data are divided by dataRange (inputScale = 1 / dataRange must be a normal float32).
const RANGE_MIN = 1e-30;
const RANGE_MAX = 1e30;
const SIGMA_MAX = 1e30; // the addon's limit

/** The metric options as a job takes them. */
export interface MetricParams {
  readonly windowSize: 7 | 9 | 11;
  readonly sigma: number;
  readonly c1: number;
  readonly c2: number;
  /** Stored value -> normalised intensity: 1 / 255, 1 / 65535 for integer data, 1 / dataRange for float data. */
  readonly inputScale: number;
  /** Extra factor on the gradient: 1 / dataRange for float data, 1 for integer data. */
  readonly gradFactor: number;
  /** padding 'valid'. */
  readonly valid: boolean;
  readonly divideByTwo: boolean;
}

/** `opts`: undefined (all defaults) or an options object. */
export function parseOptionsObject(opts: unknown): Unchecked<SsimOptions> {
  if (opts === undefined) return NO_OPTIONS;
  if (!isOptionsObject<SsimOptions>(opts)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'an options object', 'opts', opts);
  return opts;
}

/** A finite number > 0 (default `fallback`), at most `max`. */
function positiveOption(value: unknown, name: string, fallback: number, max = Number.MAX_VALUE): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw optionError('finite number > 0', name, value, true);
  if (!(value > 0 && value <= max)) {
    throw optionError(value > max && value !== Infinity ? `number <= ${max}` : 'finite number > 0', name, value, false);
  }
  return value;
}

/** A number in [min, max] (default `fallback`): the range where the float32 kernels stay finite and accurate. */
function rangeOption(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw optionError(`number in [${min}, ${max}]`, name, value, true);
  if (!(value >= min && value <= max)) throw optionError(`number in [${min}, ${max}]`, name, value, false);
  return value;
}

/** opts.dataRange: 1 (the default) for integer data, which are normalised to [0, 1]; else a number in [1e-30, 1e30]. */
function dataRangeOf(value: unknown, dtype: DType): number {
  if (INPUT_SCALE[dtype] === 1) return rangeOption(value, 'opts.dataRange', 1, RANGE_MIN, RANGE_MAX);
  const dataRange = positiveOption(value, 'opts.dataRange', 1);
  if (dataRange !== 1) throw optionError(`1 (${dtype} data are normalised to [0, 1])`, 'opts.dataRange', dataRange, false);
  return dataRange;
}

/**
 * The metric options of `o` for `dtype` data (float32: any data with dataRange unset), checked in
 * this order: windowSize, sigma, k1, k2, dataRange, padding, divideByTwo.
 */
export function parseMetricOptions(o: Unchecked<SsimOptions>, dtype: DType = 'float32'): MetricParams {
  const windowSize = o.windowSize === undefined ? DEFAULT_WINDOW : o.windowSize;
  if (windowSize !== 7 && windowSize !== 9 && windowSize !== 11) {
    throw optionError('one of 7, 9, 11', 'opts.windowSize', windowSize, typeof windowSize !== 'number');
  }
  const sigma = positiveOption(o.sigma, 'opts.sigma', 1.5, SIGMA_MAX);
  const k1 = rangeOption(o.k1, 'opts.k1', 0.01, K_MIN, K_MAX);
  const k2 = rangeOption(o.k2, 'opts.k2', 0.03, K_MIN, K_MAX);
  const dataRange = dataRangeOf(o.dataRange, dtype);
  // Float data are normalised too (x / dataRange, C = k^2), so that the float32 moments neither
  // underflow nor overflow whatever the scale; the gradient takes the 1 / dataRange back.
  const intScale = INPUT_SCALE[dtype];
  const inputScale = intScale !== 1 ? intScale : 1 / dataRange;
  const gradFactor = intScale !== 1 ? 1 : inputScale;
  const padding = o.padding;
  if (padding !== undefined && padding !== 'same' && padding !== 'valid') {
    throw optionError("one of 'same', 'valid'", 'opts.padding', padding, typeof padding !== 'string');
  }
  const divideByTwo = o.divideByTwo;
  if (divideByTwo !== undefined && typeof divideByTwo !== 'boolean') throw optionError('boolean', 'opts.divideByTwo', divideByTwo, true);
  // ssim* functions ignore divideByTwo, so one options object can serve ssim and dssim calls.
  return { windowSize, sigma, c1: k1 * k1, c2: k2 * k2, inputScale, gradFactor, valid: padding === 'valid', divideByTwo: divideByTwo === true };
}

/** With padding 'valid', the window must fit in an image of `width` x `height` (`name`: 'x'). */
export function checkWindowFits(width: number, height: number, metric: MetricParams, name: string): void {
  const { windowSize } = metric;
  if (metric.valid && (width < windowSize || height < windowSize)) {
    throw ssimError('ERR_SSIM_TOO_SMALL', `Expected at least ${windowSize} x ${windowSize} pixels (windowSize ${windowSize} with padding 'valid') for ${name} but received ${width} x ${height}`);
  }
}

/**
 * The SSIM map of an image of `shape` under (checked) options `opts`: the image for padding 'same',
 * the image less the window radius on each side for 'valid'. (cuda/common/ssim_types.h computes the same.)
 */
export function mapSize(shape: { readonly width: number; readonly height: number },
  opts: { readonly windowSize?: number; readonly padding?: Padding }): { width: number; height: number } {
  const r = opts.padding === 'valid' ? ((opts.windowSize ?? DEFAULT_WINDOW) - 1) / 2 : 0;
  return { width: shape.width - 2 * r, height: shape.height - 2 * r };
}
