// The options of evaluate(), checked when it is called (codes as the core API's) and resolved
// into the settings of a run.

import { constants as bufferConstants } from 'node:buffer';
import * as os from 'node:os';
import { expected, optionError } from '../errors';
import { parseBackend } from '../parse/backend';
import { parseMetricOptions } from '../parse/options';
import { DEFAULT_MAX_FILE_SIZE } from './decode';
import type { MetricOptions } from './lanes';
import { checkShard } from './pairs';
import type { ColorMode, EvaluateOptions, ShardSpec } from './types';

/** The largest Buffer (the most maxFileSize can be). */
const MAX_LENGTH = bufferConstants.MAX_LENGTH;

export interface Settings {
  metric: MetricOptions;
  color: ColorMode;
  devices: 'all' | number[] | undefined;
  shard: ShardSpec | undefined;
  skip: Set<string> | undefined;
  concurrency: number;
  batchSize: number;
  maps: boolean;
  maxFileSize: number;
  signal: AbortSignal | undefined;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw optionError('positive integer', name, value, true);
  if (!Number.isInteger(value) || value < 1) throw optionError('positive integer', name, value, false);
  return value;
}

/** The option maxFileSize: a positive integer of bytes, at most what one Buffer can hold. */
function maxFileSize(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_FILE_SIZE;
  if (typeof value !== 'number') throw optionError(`integer in [1, ${MAX_LENGTH}]`, 'options.maxFileSize', value, true);
  if (!Number.isInteger(value) || value < 1 || value > MAX_LENGTH) throw optionError(`integer in [1, ${MAX_LENGTH}]`, 'options.maxFileSize', value, false);
  return value;
}

/** The settings of a run; throws ERR_SSIM_OPTION / ERR_SSIM_INVALID_ARGUMENT for a bad option. */
export function settings(o: EvaluateOptions): Settings {
  if (typeof o !== 'object' || o === null) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'an options object', 'options', o);
  const m = o.metric ?? 'ssim';
  if (m !== 'ssim' && m !== 'msssim') throw optionError("one of 'ssim', 'msssim'", 'options.metric', m, typeof m !== 'string');
  const metric: MetricOptions = {
    metric: m,
    convention: o.convention,
    window: o.window,
    windowSize: o.windowSize,
    sigma: o.sigma,
    covariance: o.covariance,
    k1: o.k1,
    k2: o.k2,
    padding: o.padding,
    downsample: o.downsample,
    backend: o.backend,
    device: o.device,
  };
  // checked exactly as ssim() checks them (as uint8 data: decoded images are integers)
  const parsed = parseMetricOptions(metric, 'uint8');
  metric.convention = parsed.convention;
  metric.backend = parseBackend(metric, null).backend; // resolved once: 'auto' and CUDA_SSIM_BACKEND read here
  // MATLAB reads colour files with imread and rgb2gray, which rounds: luma is that.
  const color = o.color ?? (metric.convention === 'matlab' ? 'luma' : 'rgb');
  if (color !== 'rgb' && color !== 'luma') throw optionError("one of 'rgb', 'luma'", 'options.color', color, typeof color !== 'string');
  const devices = o.devices;
  if (devices !== undefined && devices !== 'all' &&
      !(Array.isArray(devices) && devices.length > 0 && devices.every((d) => Number.isInteger(d) && d >= 0))) {
    throw optionError("'all' or a non-empty array of device indices", 'options.devices', devices, !Array.isArray(devices) && typeof devices !== 'string');
  }
  if (o.maps !== undefined && typeof o.maps !== 'boolean') throw optionError('boolean', 'options.maps', o.maps, true);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw optionError('an AbortSignal', 'options.signal', o.signal, true);
  let skip: Set<string> | undefined;
  if (o.skip !== undefined) {
    if (typeof o.skip !== 'object' || o.skip === null || !(Symbol.iterator in o.skip)) throw optionError('an iterable of pair ids', 'options.skip', o.skip, true);
    skip = new Set(o.skip);
  }
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    metric,
    color,
    devices,
    shard: checkShard(o.shard, 'options.shard'),
    skip,
    concurrency: positiveInt(o.concurrency, 'options.concurrency', Math.max(4, 2 * cpus)),
    // a data range from the data (torchmetrics) is one pair's, not a batch's
    batchSize: parsed.dataRangeFromData ? 1 : positiveInt(o.batchSize, 'options.batchSize', 16),
    maps: o.maps === true,
    maxFileSize: maxFileSize(o.maxFileSize),
    signal: o.signal,
  };
}
