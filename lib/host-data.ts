// Host typed arrays: which dtype they hold. Uses the %TypedArray%.prototype[Symbol.toStringTag]
// getter, so arrays from other realms (vm contexts, worker transfers) are recognised too.

import { expected } from './errors';
import type { DType } from './types';
import { typedArrayTag } from './util';

/** The dtype of a supported host array, else undefined. */
export function hostDType(value: unknown): DType | undefined {
  switch (typedArrayTag.call(value)) {
    case 'Float32Array':
      return 'float32';
    case 'Float64Array':
      return 'float64';
    case 'Uint8Array':
    case 'Uint8ClampedArray':
      return 'uint8';
    case 'Uint16Array':
      return 'uint16';
    default:
      return undefined;
  }
}

/** True for a Float32Array (of any realm). */
export function isFloat32Array(value: unknown): value is Float32Array {
  return typedArrayTag.call(value) === 'Float32Array';
}

/** Array-like things that are arrays of the wrong element type (ERR_SSIM_DTYPE) rather than not arrays at all. */
export function isArrayLike(value: unknown): boolean {
  return ArrayBuffer.isView(value) || Array.isArray(value) || value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer);
}

/** The supported host array types, for messages. */
export const HOST_DATA_TYPES = 'Float32Array, Float64Array, Uint8Array, Uint8ClampedArray, Uint16Array';

/**
 * The dtype of `value`, which must be a supported host array: ERR_SSIM_DTYPE for other arrays,
 * ERR_SSIM_INVALID_ARGUMENT for things that are not arrays.
 */
export function requireHostData(value: unknown, name: string): DType {
  const dtype = hostDType(value);
  if (dtype !== undefined) return dtype;
  throw expected(isArrayLike(value) ? 'ERR_SSIM_DTYPE' : 'ERR_SSIM_INVALID_ARGUMENT', `one of ${HOST_DATA_TYPES}`, name, value);
}

/** Bytes per element. */
export const dtypeBytes: Readonly<Record<DType, number>> = { float32: 4, float64: 8, uint8: 1, uint16: 2 };

/** A new zeroed host array of `dtype`. */
export function newHostArray(dtype: DType, length: number): Float32Array | Float64Array | Uint8Array | Uint16Array {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'uint8':
      return new Uint8Array(length);
    case 'uint16':
      return new Uint16Array(length);
  }
}
