// The images x and y: { data, width, height, channels?, batch?, layout?, dtype? }. x is parsed on
// its own; y must match it (same side, device, dtype, shape and layout).

import { deviceBufferOf, isDeviceArray, type DeviceArray } from '../device-array';
import { expected, ssimError } from '../errors';
import { bitsView, DTYPE_CHOICES, isDType, isHalfDType } from '../half';
import { HOST_DATA_TYPES, hostDType, hostLength, isArrayLike } from '../host-data';
import type { NativeDeviceBuffer } from '../native';
import type { DType, ImageBatch, Layout } from '../types';
import { arrayCheck, type Unchecked } from '../util';
import { dimension, MAX_DIMENSION } from '../workspace';
import { layoutOf } from './layout';

const DATA_TYPES = `one of ${HOST_DATA_TYPES}, DeviceArray`;
const IMAGE = 'an image object { data, width, height, channels?, batch?, layout?, dtype? }';

/** An image's data as a job takes it. */
export interface ImageData {
  /** Host data, or the device buffer of `array`. */
  readonly data: ArrayBufferView | NativeDeviceBuffer;
  /** The DeviceArray behind `data`, or null for host data. */
  readonly array: DeviceArray | null;
  readonly dtype: DType;
  /** Elements in `data`. */
  readonly length: number;
  /** The caller's host array is a Float16Array (`data` is a Uint16Array view of it). */
  readonly float16Array: boolean;
}

/** A checked image: its data and shape. */
export interface ParsedImage extends ImageData {
  readonly width: number;
  readonly height: number;
  readonly batch: number;
  readonly channels: number;
  readonly layout: Layout;
}

function imageObject(value: unknown, name: string): Unchecked<ImageBatch> {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || arrayCheck(value) !== false) {
    throw expected('ERR_SSIM_INVALID_ARGUMENT', IMAGE, name, value);
  }
  return value as Unchecked<ImageBatch>;
}

function dataError(data: unknown, name: string): Error {
  return expected(isArrayLike(data) ? 'ERR_SSIM_DTYPE' : 'ERR_SSIM_INVALID_ARGUMENT', DATA_TYPES, name, data);
}

/**
 * The dtype of image data whose own dtype is `own` (`data`: the data, `name`: the image), given the
 * image's `dtype` key: absent or `own`, or a half dtype for the bits in a host Uint16Array.
 */
function declaredDType(declared: unknown, own: DType, data: unknown, name: string): DType {
  if (declared === undefined || declared === own) return own;
  if (!isDType(declared)) throw expected('ERR_SSIM_DTYPE', DTYPE_CHOICES, `${name}.dtype`, declared);
  if (isHalfDType(declared) && own === 'uint16' && ArrayBuffer.isView(data)) return declared;
  const half = own === 'uint16' && ArrayBuffer.isView(data) ? ", 'float16' or 'bfloat16' (the bits in a Uint16Array)" : '';
  throw expected('ERR_SSIM_DTYPE', `'${own}' (the dtype of ${name}.data)${half}`, `${name}.dtype`, declared);
}

/**
 * `name` (an image's data): a live DeviceArray or host data of a supported dtype. With `x` (the
 * first image's data), on x's side: a DeviceArray on x's device, or host data. `declared`: the
 * image's `dtype` key.
 */
function parseData(value: unknown, name: string, x: ImageData | null, declared: unknown = undefined): ImageData {
  const imageName = name.slice(0, name.lastIndexOf('.'));
  if (isDeviceArray(value)) {
    const buffer = deviceBufferOf(value);
    if (buffer === null) throw expected('ERR_SSIM_DISPOSED', 'a live DeviceArray', name, value);
    if (x !== null) {
      if (x.array === null) throw expected('ERR_SSIM_BACKEND', 'a host array (x.data is one)', name, value);
      if (value.device !== x.array.device) throw expected('ERR_SSIM_BACKEND', `a DeviceArray on device ${x.array.device} (where x.data is)`, name, value);
    }
    const dtype = declaredDType(declared, value.dtype, value, imageName);
    return { data: buffer, array: value, dtype, length: value.length, float16Array: false };
  }
  const own = hostDType(value);
  if (own === undefined) throw dataError(value, name);
  if (x !== null && x.array !== null) throw expected('ERR_SSIM_BACKEND', 'a DeviceArray (x.data is one)', name, value);
  const length = hostLength(value, name);
  const dtype = declaredDType(declared, own, value, imageName);
  // half-precision host data go to the addon as a Uint16Array of their bits
  const data = isHalfDType(dtype) ? bitsView(value as ArrayBufferView) : (value as ArrayBufferView);
  return { data, array: null, dtype, length, float16Array: own === 'float16' };
}

/** `name`.channels given, or inferred from `length` = width * height * channels * batch. */
function channelsOf(image: Unchecked<ImageBatch>, name: string, length: number, width: number, height: number, batch: number): number {
  const pixels = width * height * batch;
  if (image.channels === undefined) {
    const channels = length / pixels;
    if (!Number.isInteger(channels) || channels < 1 || channels > MAX_DIMENSION) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected a positive multiple of ${pixels} elements (width ${width} * height ${height} * batch ${batch}) in ${name}.data but received ${length}`);
    }
    return channels;
  }
  const channels = dimension(image.channels, `${name}.channels`);
  if (length !== pixels * channels) {
    throw ssimError('ERR_SSIM_SHAPE', `Expected ${pixels * channels} elements (width ${width} * height ${height} * channels ${channels} * batch ${batch}) in ${name}.data but received ${length}`);
  }
  return channels;
}

/** An image argument (`name`: 'x'): its data, then width, height, batch, channels and layout. */
export function parseImage(value: unknown, name: string): ParsedImage {
  const image = imageObject(value, name);
  const { data, array, dtype, length, float16Array } = parseData(image.data, `${name}.data`, null, image.dtype);
  const width = dimension(image.width, `${name}.width`);
  const height = dimension(image.height, `${name}.height`);
  const batch = dimension(image.batch, `${name}.batch`, 1);
  const channels = channelsOf(image, name, length, width, height, batch);
  const layout = layoutOf(image.layout, `${name}.layout`);
  return { data, array, dtype, length, float16Array, width, height, batch, channels, layout };
}

/** An image compared with x (`name`: 'y'): x's side, device, shape, layout and dtype. Returns its data. */
export function parseMatchingImage(value: unknown, name: string, x: ParsedImage): ArrayBufferView | NativeDeviceBuffer {
  const image = imageObject(value, name);
  const raw = image.data;
  const { data, dtype, length } = parseData(raw, `${name}.data`, x, image.dtype);
  const { width, height, batch, channels, layout } = x;
  if (dimension(image.width, `${name}.width`) !== width) throw expected('ERR_SSIM_SHAPE', `${width} (the width of x)`, `${name}.width`, image.width);
  if (dimension(image.height, `${name}.height`) !== height) throw expected('ERR_SSIM_SHAPE', `${height} (the height of x)`, `${name}.height`, image.height);
  if (dimension(image.batch, `${name}.batch`, 1) !== batch) throw expected('ERR_SSIM_SHAPE', `${batch} (the batch of x)`, `${name}.batch`, image.batch);
  if (image.channels !== undefined && dimension(image.channels, `${name}.channels`) !== channels) {
    throw expected('ERR_SSIM_SHAPE', `${channels} (the channels of x)`, `${name}.channels`, image.channels);
  }
  if (layoutOf(image.layout, `${name}.layout`) !== layout) throw expected('ERR_SSIM_LAYOUT', `'${layout}' (the layout of x)`, `${name}.layout`, image.layout);
  if (dtype !== x.dtype) throw expected('ERR_SSIM_DTYPE', `${x.dtype} data (the dtype of x.data)`, `${name}.data`, raw);
  if (length !== x.length) {
    throw ssimError('ERR_SSIM_SHAPE', `Expected ${x.length} elements (as x: width ${width} * height ${height} * channels ${channels} * batch ${batch}) in ${name}.data but received ${length}`);
  }
  return data;
}
