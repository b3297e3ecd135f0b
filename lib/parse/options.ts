// The options object and the metric options in it: convention, window, windowSize, sigma,
// covariance, k1, k2, dataRange, padding, downsample, grayscale, divideByTwo. (backend and device:
// ./backend; workspace: ./workspace.) A convention (lib/conventions.ts) gives the defaults of the
// options it sets; an option given explicitly overrides its preset's value.

import { downsampleFactor, parseConvention, type Convention, type Covariance, type WindowKind } from '../conventions';
import { expected, optionError, ssimError } from '../errors';
import type { DType, Padding, SsimOptions } from '../types';
import { isOptionsObject, type Unchecked } from '../util';

const NO_OPTIONS: Unchecked<SsimOptions> = Object.freeze({});

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
  /** The preset the options started from. */
  readonly convention: Convention;
  readonly window: WindowKind;
  readonly windowSize: 7 | 9 | 11;
  readonly sigma: number;
  readonly c1: number;
  readonly c2: number;
  /** Stored value -> normalised intensity: 1 / 255, 1 / 65535 for integer data, 1 / dataRange for float data. */
  readonly inputScale: number;
  /** Extra factor on the gradient: 1 / dataRange for float data, 1 for integer data. */
  readonly gradFactor: number;
  /** padding 'valid' or 'reflect' (the job runs 'valid' on the reflect-padded image). */
  readonly valid: boolean;
  /** padding 'reflect': x and y are reflect-padded by the radius on the host first. */
  readonly reflect: boolean;
  readonly divideByTwo: boolean;
  readonly covariance: Covariance;
  /**
   * The data range is max(max x - min x, max y - min y) of the call's data (convention
   * 'torchmetrics'): inputScale, gradFactor, c1 and c2 are those of a range of 1 until
   * withDataRange() gives the range.
   */
  readonly dataRangeFromData: boolean;
  /** 1, a factor, or 'auto' (MATLAB ssim.m's rule). */
  readonly downsample: number | 'auto';
  readonly grayscale: boolean;
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

/**
 * opts.dataRange: for integer data only 1 (they are normalised to [0, 1]); for float data a number
 * in [1e-30, 1e30], by default the preset's (`preset`): a number, 'required' (an error without it)
 * or 'data' (returned as 'data': the range of the call's data).
 */
function dataRangeOf(value: unknown, dtype: DType, preset: number | 'required' | 'data', convention: Convention): number | 'data' {
  if (INPUT_SCALE[dtype] === 1) {
    if (value === undefined && preset === 'data') return 'data';
    if (value === undefined && preset === 'required') {
      throw ssimError('ERR_SSIM_OPTION', `Expected a number in [${RANGE_MIN}, ${RANGE_MAX}] for opts.dataRange: convention '${convention}' needs the data range of float data (scikit-image raises without data_range), but received undefined`, 'type');
    }
    return rangeOption(value, 'opts.dataRange', typeof preset === 'number' ? preset : 1, RANGE_MIN, RANGE_MAX);
  }
  if (value === undefined && preset === 'data') return 'data';
  const dataRange = positiveOption(value, 'opts.dataRange', 1);
  if (dataRange !== 1) throw optionError(`1 (${dtype} data are normalised to [0, 1])`, 'opts.dataRange', dataRange, false);
  return dataRange;
}

/** opts.downsample: a positive integer or 'auto' (default: the preset's). */
function downsampleOf(value: unknown, fallback: number | 'auto'): number | 'auto' {
  if (value === undefined) return fallback;
  if (value === 'auto') return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65536) {
    throw optionError("integer in [1, 65536] or 'auto'", 'opts.downsample', value, typeof value !== 'number' && typeof value !== 'string');
  }
  return value;
}

function choiceOption<T extends string>(value: unknown, name: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw optionError(`one of ${choices.map((c) => `'${c}'`).join(', ')}`, name, value, typeof value !== 'string');
  }
  return value as T;
}

/**
 * The metric options of `o` for `dtype` data (float32: any data with dataRange unset), checked in
 * this order: convention, window, windowSize, sigma, covariance, k1, k2, dataRange, padding,
 * downsample, grayscale, divideByTwo.
 */
export function parseMetricOptions(o: Unchecked<SsimOptions>, dtype: DType = 'float32'): MetricParams {
  const { convention, settings: preset } = parseConvention(o.convention);
  const window = choiceOption(o.window, 'opts.window', ['gaussian', 'uniform'] as const, preset.window);
  const windowSize = o.windowSize === undefined ? preset.windowSize : o.windowSize;
  if (windowSize !== 7 && windowSize !== 9 && windowSize !== 11) {
    throw optionError('one of 7, 9, 11', 'opts.windowSize', windowSize, typeof windowSize !== 'number');
  }
  const sigma = positiveOption(o.sigma, 'opts.sigma', preset.sigma, SIGMA_MAX);
  const covariance = choiceOption(o.covariance, 'opts.covariance', ['population', 'sample'] as const, preset.covariance);
  const k1 = rangeOption(o.k1, 'opts.k1', 0.01, K_MIN, K_MAX);
  const k2 = rangeOption(o.k2, 'opts.k2', 0.03, K_MIN, K_MAX);
  const range = dataRangeOf(o.dataRange, dtype, preset.dataRange, convention);
  const dataRange = range === 'data' ? 1 : range;
  // Float data are normalised too (x / dataRange, C = k^2), so that the float32 moments neither
  // underflow nor overflow whatever the scale; the gradient takes the 1 / dataRange back.
  const intScale = INPUT_SCALE[dtype];
  const inputScale = intScale !== 1 ? intScale : 1 / dataRange;
  const gradFactor = intScale !== 1 ? 1 : inputScale;
  const padding = o.padding === undefined ? preset.padding : o.padding;
  if (padding !== 'same' && padding !== 'valid' && padding !== 'reflect') {
    throw optionError("one of 'same', 'valid', 'reflect'", 'opts.padding', padding, typeof padding !== 'string');
  }
  const downsample = downsampleOf(o.downsample, preset.downsample);
  const grayscale = o.grayscale === undefined ? preset.grayscale : o.grayscale;
  if (typeof grayscale !== 'boolean') throw optionError('boolean', 'opts.grayscale', grayscale, true);
  const divideByTwo = o.divideByTwo;
  if (divideByTwo !== undefined && typeof divideByTwo !== 'boolean') throw optionError('boolean', 'opts.divideByTwo', divideByTwo, true);
  // ssim* functions ignore divideByTwo, so one options object can serve ssim and dssim calls.
  return {
    convention, window, windowSize, sigma, c1: k1 * k1, c2: k2 * k2 * covarianceC2Factor(covariance, windowSize), inputScale, gradFactor,
    valid: padding !== 'same', reflect: padding === 'reflect', divideByTwo: divideByTwo === true, covariance, dataRangeFromData: range === 'data', downsample, grayscale,
  };
}

/**
 * Sample covariance multiplies both variances and the covariance by f = N / (N - 1), N =
 * windowSize^2 (scikit-image's cov_norm, also for its Gaussian window). In S only
 * A2 / B2 = (2 f s_xy + C2) / (f (s_xx + s_yy) + C2) = (2 s_xy + C2 / f) / (s_xx + s_yy + C2 / f)
 * sees it, so it is exactly population covariance with C2 divided by f: value, map and gradient
 * (cuda/common/MATH.md, "Sample covariance").
 */
function covarianceC2Factor(covariance: Covariance, windowSize: number): number {
  if (covariance === 'population') return 1;
  const n = windowSize * windowSize;
  return (n - 1) / n;
}

/**
 * `m` with the data range `range` (in stored units; convention 'torchmetrics': the range of the
 * call's data) in place of 1. Integer data stay normalised by their dtype: C1, C2 scale by
 * (range / dtype max)^2 instead.
 */
export function withDataRange(m: MetricParams, dtype: DType, range: number): MetricParams {
  if (!(range >= RANGE_MIN && range <= RANGE_MAX)) {
    throw ssimError('ERR_SSIM_OPTION', `Expected data whose range (max - min of x or y) is in [${RANGE_MIN}, ${RANGE_MAX}] for the data range of convention '${m.convention}' but received a range of ${range}: give opts.dataRange`, 'range');
  }
  const intScale = INPUT_SCALE[dtype];
  if (intScale !== 1) {
    const l = range * intScale;
    return { ...m, c1: m.c1 * l * l, c2: m.c2 * l * l, dataRangeFromData: false };
  }
  return { ...m, inputScale: 1 / range, gradFactor: 1 / range, dataRangeFromData: false };
}

/** With padding 'reflect', each side must exceed the window radius (torch's reflect padding; `name`: 'x'). */
export function checkReflectFits(width: number, height: number, metric: MetricParams, name: string): void {
  const r = (metric.windowSize - 1) / 2;
  if (metric.reflect && (width <= r || height <= r)) {
    throw ssimError('ERR_SSIM_TOO_SMALL', `Expected at least ${r + 1} x ${r + 1} pixels (windowSize ${metric.windowSize} with padding 'reflect') for ${name} but received ${width} x ${height}`);
  }
}

/** With padding 'valid', the window must fit in an image of `width` x `height` (`name`: 'x'). */
export function checkWindowFits(width: number, height: number, metric: MetricParams, name: string): void {
  const { windowSize } = metric;
  if (metric.valid && (width < windowSize || height < windowSize)) {
    throw ssimError('ERR_SSIM_TOO_SMALL', `Expected at least ${windowSize} x ${windowSize} pixels (windowSize ${windowSize} with padding 'valid') for ${name} but received ${width} x ${height}`);
  }
}

/**
 * The SSIM map of an image of `shape` under (checked) options `opts`: the image (downsampled by the
 * convention's or option's factor) for padding 'same', less the window radius on each side for
 * 'valid'. (cuda/common/ssim_types.h computes the same.)
 */
export function mapSize(shape: { readonly width: number; readonly height: number },
  opts: { readonly windowSize?: number; readonly padding?: Padding; readonly convention?: Convention; readonly downsample?: number | 'auto' }): { width: number; height: number } {
  const preset = parseConvention(opts.convention).settings;
  const f = downsampleFactor(opts.downsample ?? preset.downsample, shape.width, shape.height);
  const r = (opts.padding ?? preset.padding) === 'valid' ? ((opts.windowSize ?? preset.windowSize) - 1) / 2 : 0; // 'reflect': uncropped
  return { width: Math.ceil(shape.width / f) - 2 * r, height: Math.ceil(shape.height / f) - 2 * r };
}
