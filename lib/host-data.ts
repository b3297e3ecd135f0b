// Host typed arrays: which dtype they hold. Uses the %TypedArray%.prototype[Symbol.toStringTag]
// getter, so arrays from other realms (vm contexts, worker transfers) are recognised too.

import { expected, ssimError } from './errors';
import type { DType } from './basic-types';
import { arrayCheck, hasResizableBuffer, isArrayBuffer, isSharedArrayBuffer, isDetachedView, typedArrayLength, typedArrayTag } from './util';

/** The dtype of a supported host array, else undefined (a Uint16Array is 'uint16': half-precision bits need an explicit dtype). */
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
    case 'Float16Array':  // where the runtime has one (Node 20 has not)
      return 'float16';
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
  // brand checks only: no Proxy trap or getter of the caller runs (a revoked Proxy is not array-like)
  return ArrayBuffer.isView(value) || arrayCheck(value) === true || isArrayBuffer(value) || isSharedArrayBuffer(value);
}

/**
 * The element count of a host typed array, read through the intrinsic getter (an overridden
 * `length` is ignored). ERR_SSIM_DETACHED for an array whose ArrayBuffer was detached
 * (transferred); ERR_SSIM_INVALID_ARGUMENT for one over a resizable ArrayBuffer or growable
 * SharedArrayBuffer, whose memory could change size under a call.
 */
export function hostLength(value: unknown, name: string): number {
  const length = typedArrayLength.call(value);
  if (length === 0 && isDetachedView(value)) {
    throw ssimError('ERR_SSIM_DETACHED', `Expected ${name} to hold memory but its ArrayBuffer was detached (transferred)`);
  }
  if (hasResizableBuffer(value)) {
    throw expected('ERR_SSIM_INVALID_ARGUMENT', 'an array over a fixed-length ArrayBuffer or SharedArrayBuffer (a resizable or growable one could change size under the call)', name, value);
  }
  return length;
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
export const dtypeBytes: Readonly<Record<DType, number>> = { float32: 4, float64: 8, uint8: 1, uint16: 2, float16: 2, bfloat16: 2 };

/** A new zeroed host array of `dtype` (a Uint16Array for the bits of the half dtypes). */
export function newHostArray(dtype: DType, length: number): Float32Array | Float64Array | Uint8Array | Uint16Array {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'uint8':
      return new Uint8Array(length);
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(length);
  }
}
