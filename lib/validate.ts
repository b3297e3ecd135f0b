// Turns the arguments of one of the 12 functions into a checked NativeJob. Everything the addon
// would reject (and more) is caught here with an error that names the argument.
//
// The job object is the only allocation on the success path (x is read into locals, y is compared
// with them, options are read one by one), so an in-place call on device arrays with a workspace
// stays lean: no native call but the computation, no backendInfo() (cached), no environment read.

import { resolveBackend, resolveDevice } from './backend';
import { deviceBufferOf, isDeviceArray, type DeviceArray } from './device-array';
import { expected, optionError, ssimError } from './errors';
import { HOST_DATA_TYPES, hostDType, hostLength, isArrayLike, isFloat32Array } from './host-data';
import type { NativeDeviceBuffer, NativeJob, NativeMapJob } from './native';
import type { DType, ImageBatch, Layout, SsimOptions } from './types';
import { arrayCheck, isOptionsObject, typedArrayBuffer, typedArrayByteLength, typedArrayByteOffset, type Unchecked } from './util';
import { dimension, isWorkspace, MAX_DIMENSION, workspaceBufferOf, workspaceFits } from './workspace';

/** What one of the 12 functions computes. */
export interface CallSpec {
  /** The function's name: ssim, dssimGradientInto, ... */
  readonly name: string;
  /** value = 1 - SSIM (or (1 - SSIM) / 2 with divideByTwo). */
  readonly dssim: boolean;
  /** Computes values (out). */
  readonly value: boolean;
  /** Computes the gradient (grad). */
  readonly gradient: boolean;
  /** Outputs are given by the caller. */
  readonly into: boolean;
}

const DATA_TYPES = `one of ${HOST_DATA_TYPES}, DeviceArray`;
const IMAGE = 'an image object { data, width, height, channels?, batch?, layout? }';
const OUTPUT_TYPES = 'Float32Array or float32 DeviceArray';
const NO_OPTIONS: Unchecked<SsimOptions> = Object.freeze({});

/** Stored value -> intensity: integer data are normalised to [0, 1]. */
const INPUT_SCALE: Readonly<Record<DType, number>> = { float32: 1, float64: 1, uint8: 1 / 255, uint16: 1 / 65535 };

function imageObject(value: unknown, name: string): Unchecked<ImageBatch> {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || arrayCheck(value) !== false) {
    throw expected('ERR_SSIM_INVALID_ARGUMENT', IMAGE, name, value);
  }
  return value as Unchecked<ImageBatch>;
}

function layoutOf(value: unknown, name: string): Layout {
  if (value === undefined || value === 'hwc') return 'hwc';
  if (value === 'chw') return 'chw';
  throw expected('ERR_SSIM_LAYOUT', "one of 'hwc', 'chw'", name, value);
}

function dataError(data: unknown, name: string): Error {
  return expected(isArrayLike(data) ? 'ERR_SSIM_DTYPE' : 'ERR_SSIM_INVALID_ARGUMENT', DATA_TYPES, name, data);
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

// k >= 1e-18 keeps C = k^2 (>= 1e-36) a normal float32 number, and 1 / C2 and 2 / C2 (the
// partials' bounds) finite (cuda/common/MATH.md); k <= 1e4 keeps A1 A2 and B1 B2 far from overflow for
// data in [0, dataRange].
const K_MIN = 1e-18;
const K_MAX = 1e4;
// Float data are divided by dataRange (inputScale = 1 / dataRange must be a normal float32).
const RANGE_MIN = 1e-30;
const RANGE_MAX = 1e30;

/**
 * Two job operands share memory (outputs must not alias inputs or each other). Read through the
 * intrinsic getters, not the arrays' own (overridable) properties; the addon checks again by
 * address (which also catches two SharedArrayBuffer objects over one block of memory).
 */
function overlaps(a: ArrayBufferView | NativeDeviceBuffer, b: ArrayBufferView | NativeDeviceBuffer): boolean {
  if (a === b) return true;
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
  if (typedArrayBuffer.call(a) !== typedArrayBuffer.call(b)) return false;
  const aStart = typedArrayByteOffset.call(a);
  const bStart = typedArrayByteOffset.call(b);
  return aStart < bStart + typedArrayByteLength.call(b) && bStart < aStart + typedArrayByteLength.call(a);
}

function overlapError(a: string, b: string): Error {
  return ssimError('ERR_SSIM_INVALID_ARGUMENT', `Expected ${a} and ${b} not to share memory, but they overlap`);
}

/** Checks an output given by the caller; returns what the job gets. `onDevice`: x and y are DeviceArrays. */
function output(value: unknown, name: string, length: number, of: string, onDevice: boolean, device: number): Float32Array | NativeDeviceBuffer {
  if (isDeviceArray(value)) {
    const buffer = deviceBufferOf(value);
    if (buffer === null) throw expected('ERR_SSIM_DISPOSED', 'a live DeviceArray', name, value);
    if (value.dtype !== 'float32') throw expected('ERR_SSIM_DTYPE', OUTPUT_TYPES, name, value);
    if (!onDevice) {
      throw expected('ERR_SSIM_BACKEND', 'a Float32Array (x and y are host arrays, so outputs must be too)', name, value);
    }
    if (value.device !== device) throw expected('ERR_SSIM_BACKEND', `a DeviceArray on device ${device} (where x.data is)`, name, value);
    if (value.length !== length) {
      throw ssimError('ERR_SSIM_OUTPUT_SIZE', `Expected ${length} elements in ${name} (DeviceArray of ${of}) but received ${value.length}`);
    }
    return buffer;
  }
  if (isFloat32Array(value)) {
    const received = hostLength(value, name);
    if (received !== length) {
      throw ssimError('ERR_SSIM_OUTPUT_SIZE', `Expected ${length} elements in ${name} (Float32Array of ${of}) but received ${received}`);
    }
    return value;
  }
  throw expected(isArrayLike(value) ? 'ERR_SSIM_DTYPE' : 'ERR_SSIM_INVALID_ARGUMENT', OUTPUT_TYPES, name, value);
}

/** True when a value call returns a Float32Array rather than a number: `batch` given on x or y. */
export function isBatched(x: unknown, y: unknown): boolean {
  return (x as { batch?: unknown }).batch !== undefined || (y as { batch?: unknown }).batch !== undefined;
}

/**
 * Validates a call of `spec` and resolves it into a job. `out` / `grad` are checked when the spec
 * takes them (`into`); otherwise the job's outputs are left null for the caller to allocate.
 */
export function resolveCall(spec: CallSpec, x: unknown, y: unknown, opts: unknown, out: unknown, grad: unknown): NativeJob {
  if (opts !== undefined && !isOptionsObject<SsimOptions>(opts)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'an options object', 'opts', opts);
  const o = opts === undefined ? NO_OPTIONS : opts;

  // x, read into locals that become the job.
  const xi = imageObject(x, 'x');
  const xData = xi.data;
  let dtype: DType;
  let length: number;
  let xIn: ArrayBufferView | NativeDeviceBuffer;
  let xArray: DeviceArray | null = null;
  if (isDeviceArray(xData)) {
    const buffer = deviceBufferOf(xData);
    if (buffer === null) throw expected('ERR_SSIM_DISPOSED', 'a live DeviceArray', 'x.data', xData);
    xArray = xData;
    xIn = buffer;
    dtype = xData.dtype;
    length = xData.length;
  } else {
    const d = hostDType(xData);
    if (d === undefined) throw dataError(xData, 'x.data');
    xIn = xData as ArrayBufferView;
    dtype = d;
    length = hostLength(xData, 'x.data');
  }
  const width = dimension(xi.width, 'x.width');
  const height = dimension(xi.height, 'x.height');
  const batch = dimension(xi.batch, 'x.batch', 1);
  const pixels = width * height * batch;
  let channels: number;
  if (xi.channels === undefined) {
    channels = length / pixels;
    if (!Number.isInteger(channels) || channels < 1 || channels > MAX_DIMENSION) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected a positive multiple of ${pixels} elements (width ${width} * height ${height} * batch ${batch}) in x.data but received ${length}`);
    }
  } else {
    channels = dimension(xi.channels, 'x.channels');
    if (length !== pixels * channels) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected ${pixels * channels} elements (width ${width} * height ${height} * channels ${channels} * batch ${batch}) in x.data but received ${length}`);
    }
  }
  const layout = layoutOf(xi.layout, 'x.layout');

  // y, compared with x.
  const yi = imageObject(y, 'y');
  const yData = yi.data;
  let yIn: ArrayBufferView | NativeDeviceBuffer;
  let yDType: DType;
  let yLength: number;
  if (isDeviceArray(yData)) {
    const buffer = deviceBufferOf(yData);
    if (buffer === null) throw expected('ERR_SSIM_DISPOSED', 'a live DeviceArray', 'y.data', yData);
    if (xArray === null) throw expected('ERR_SSIM_BACKEND', 'a host array (x.data is one)', 'y.data', yData);
    if (yData.device !== xArray.device) throw expected('ERR_SSIM_BACKEND', `a DeviceArray on device ${xArray.device} (where x.data is)`, 'y.data', yData);
    yIn = buffer;
    yDType = yData.dtype;
    yLength = yData.length;
  } else {
    const d = hostDType(yData);
    if (d === undefined) throw dataError(yData, 'y.data');
    if (xArray !== null) throw expected('ERR_SSIM_BACKEND', 'a DeviceArray (x.data is one)', 'y.data', yData);
    yIn = yData as ArrayBufferView;
    yDType = d;
    yLength = hostLength(yData, 'y.data');
  }
  if (dimension(yi.width, 'y.width') !== width) throw expected('ERR_SSIM_SHAPE', `${width} (the width of x)`, 'y.width', yi.width);
  if (dimension(yi.height, 'y.height') !== height) throw expected('ERR_SSIM_SHAPE', `${height} (the height of x)`, 'y.height', yi.height);
  if (dimension(yi.batch, 'y.batch', 1) !== batch) throw expected('ERR_SSIM_SHAPE', `${batch} (the batch of x)`, 'y.batch', yi.batch);
  if (yi.channels !== undefined && dimension(yi.channels, 'y.channels') !== channels) {
    throw expected('ERR_SSIM_SHAPE', `${channels} (the channels of x)`, 'y.channels', yi.channels);
  }
  if (layoutOf(yi.layout, 'y.layout') !== layout) throw expected('ERR_SSIM_LAYOUT', `'${layout}' (the layout of x)`, 'y.layout', yi.layout);
  if (yDType !== dtype) throw expected('ERR_SSIM_DTYPE', `${dtype} data (the dtype of x.data)`, 'y.data', yData);
  if (yLength !== length) {
    throw ssimError('ERR_SSIM_SHAPE', `Expected ${length} elements (as x: width ${width} * height ${height} * channels ${channels} * batch ${batch}) in y.data but received ${yLength}`);
  }
  const onDevice = xArray !== null;

  // Options.
  const windowSize = o.windowSize === undefined ? 11 : o.windowSize;
  if (windowSize !== 7 && windowSize !== 9 && windowSize !== 11) {
    throw optionError('one of 7, 9, 11', 'opts.windowSize', windowSize, typeof windowSize !== 'number');
  }
  const sigma = positiveOption(o.sigma, 'opts.sigma', 1.5, 1e30); // the addon's limit
  const k1 = rangeOption(o.k1, 'opts.k1', 0.01, K_MIN, K_MAX);
  const k2 = rangeOption(o.k2, 'opts.k2', 0.03, K_MIN, K_MAX);
  const intScale = INPUT_SCALE[dtype];
  let dataRange: number;
  if (intScale !== 1) {
    dataRange = positiveOption(o.dataRange, 'opts.dataRange', 1);
    if (dataRange !== 1) throw optionError(`1 (${dtype} data are normalised to [0, 1])`, 'opts.dataRange', dataRange, false);
  } else {
    dataRange = rangeOption(o.dataRange, 'opts.dataRange', 1, RANGE_MIN, RANGE_MAX);
  }
  // Float data are normalised too (x / dataRange, C = k^2), so that the float32 moments neither
  // underflow nor overflow whatever the scale; the gradient takes the 1 / dataRange back.
  const inputScale = intScale !== 1 ? intScale : 1 / dataRange;
  const gradFactor = intScale !== 1 ? 1 : inputScale;
  const padding = o.padding;
  if (padding !== undefined && padding !== 'same' && padding !== 'valid') {
    throw optionError("one of 'same', 'valid'", 'opts.padding', padding, typeof padding !== 'string');
  }
  const valid = padding === 'valid';
  const divideByTwo = o.divideByTwo;
  if (divideByTwo !== undefined && typeof divideByTwo !== 'boolean') throw optionError('boolean', 'opts.divideByTwo', divideByTwo, true);
  // ssim* functions ignore divideByTwo, so one options object can serve ssim and dssim calls.
  if (valid && (width < windowSize || height < windowSize)) {
    throw ssimError('ERR_SSIM_TOO_SMALL', `Expected at least ${windowSize} x ${windowSize} pixels (windowSize ${windowSize} with padding 'valid') for x but received ${width} x ${height}`);
  }

  // Backend and device.
  const backend = resolveBackend(o.backend, 'opts.backend', onDevice);
  let device: number;
  if (xArray !== null) {
    device = xArray.device;
    if (o.device !== undefined && resolveDevice(o.device, 'opts.device', false) !== device) {
      throw expected('ERR_SSIM_BACKEND', `${device} (the device of x.data) or undefined`, 'opts.device', o.device);
    }
  } else {
    device = resolveDevice(o.device, 'opts.device', backend === 'cuda');
  }

  // Workspace.
  const elements = length;
  let workspace: NativeDeviceBuffer | null = null;
  let workspaceImages = 0;
  let workspaceElements = 0;
  const ws = o.workspace;
  if (ws !== undefined) {
    if (!isWorkspace(ws)) throw expected('ERR_SSIM_WORKSPACE', 'a Workspace (from Workspace.for())', 'opts.workspace', ws, 'type');
    if (ws.disposed) throw ssimError('ERR_SSIM_WORKSPACE', 'Expected a live Workspace for opts.workspace but received a disposed Workspace');
    if (ws.backend !== backend) {
      throw ssimError('ERR_SSIM_WORKSPACE', `Expected a ${backend} Workspace (this call runs on the ${backend} backend) for opts.workspace but received a ${ws.backend} Workspace`);
    }
    if (backend === 'cuda' && ws.device !== device) {
      throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace on device ${device} for opts.workspace but received one on device ${ws.device}`);
    }
    if (spec.gradient && !ws.gradient) {
      throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace with room for gradients for opts.workspace (${spec.name} computes one) but received a value-only Workspace (made with gradient: false)`);
    }
    if (!workspaceFits(ws, batch, elements)) {
      throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace for at least ${batch} images and ${elements} elements for opts.workspace but received one for ${ws.images} images and ${ws.elements} elements`);
    }
    if (backend === 'cuda') {
      workspace = workspaceBufferOf(ws);
      workspaceImages = ws.images;
      workspaceElements = ws.elements;
    }
  }

  // Outputs given by the caller.
  let outIn: Float32Array | NativeDeviceBuffer | null = null;
  let gradIn: Float32Array | NativeDeviceBuffer | null = null;
  if (spec.into) {
    if (spec.value) outIn = output(out, 'out', batch, 'batch', onDevice, device);
    if (spec.gradient) gradIn = output(grad, 'grad', elements, 'x.data length', onDevice, device);
    if (outIn !== null && gradIn !== null && overlaps(outIn, gradIn)) throw overlapError('out', 'grad');
    if (outIn !== null && overlaps(outIn, xIn)) throw overlapError('out', 'x.data');
    if (outIn !== null && overlaps(outIn, yIn)) throw overlapError('out', 'y.data');
    if (gradIn !== null && overlaps(gradIn, xIn)) throw overlapError('grad', 'x.data');
    if (gradIn !== null && overlaps(gradIn, yIn)) throw overlapError('grad', 'y.data');
  }

  const scale = spec.dssim ? (divideByTwo === true ? -0.5 : -1) : 1;
  return {
    backend,
    device,
    x: xIn,
    y: yIn,
    dtype,
    batch,
    channels,
    height,
    width,
    layout,
    windowSize,
    sigma,
    c1: k1 * k1,
    c2: k2 * k2,
    inputScale,
    gradFactor,
    valid,
    valueOffset: spec.dssim ? -scale : 0,
    valueScale: scale,
    out: outIn,
    grad: gradIn,
    workspace,
    workspaceImages,
    workspaceElements,
  };
}

/** ssimMap / ssimMapInto: computes neither values nor gradients, only the map. */
const MAP_SPEC: CallSpec = Object.freeze({ name: 'ssimMap', dssim: false, value: false, gradient: false, into: false });

/** The map of a job: `width` x `height` pixels per image (the image less the window radius on each side for 'valid'). */
export function mapShape(job: NativeJob): { width: number; height: number; length: number } {
  const r = job.valid ? (job.windowSize - 1) / 2 : 0;
  const width = job.width - 2 * r;
  const height = job.height - 2 * r;
  return { width, height, length: job.batch * width * height };
}

/**
 * Validates a call of ssimMap (`into` false: the caller allocates the map) or ssimMapInto (`map`
 * checked: a Float32Array, or a float32 DeviceArray for device inputs, of batch * map pixels).
 */
export function resolveMapCall(x: unknown, y: unknown, opts: unknown, map: unknown, into: boolean): NativeMapJob {
  const job = resolveCall(MAP_SPEC, x, y, opts, undefined, undefined) as NativeMapJob;
  job.workspace = null; // the map path keeps no workspace
  job.map = null;
  if (into) {
    const shape = mapShape(job);
    const out = output(map, 'map', shape.length, `batch * ${shape.height} * ${shape.width} map pixels`, !ArrayBuffer.isView(job.x), job.device);
    if (overlaps(out, job.x)) throw overlapError('map', 'x.data');
    if (overlaps(out, job.y)) throw overlapError('map', 'y.data');
    job.map = out;
  }
  return job;
}
