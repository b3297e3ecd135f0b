// Outputs given by the caller (out, grad, map): float32 (a gradient in x's half dtype: its bits),
// of the right length, on the inputs' side, sharing memory with nothing else in the job.

import { deviceBufferOf, isDeviceArray } from '../device-array';
import { expected, ssimError } from '../errors';
import { bitsView, isHalfDType } from '../half';
import { hostLength, isArrayLike, isFloat32Array } from '../host-data';
import type { NativeDeviceBuffer } from '../native';
import type { DType } from '../types';
import { typedArrayBuffer, typedArrayByteLength, typedArrayByteOffset, typedArrayTag } from '../util';
import type { ParsedImage } from './image';

const OUTPUT_TYPES = 'Float32Array or float32 DeviceArray';

/** An operand of a job: host data or a device buffer. */
export type Operand = ArrayBufferView | NativeDeviceBuffer;

/** An output as a job takes it. */
export type OutputBuffer = Float32Array | Uint16Array | NativeDeviceBuffer;

/**
 * Two job operands share memory (outputs must not alias inputs or each other). Read through the
 * intrinsic getters, not the arrays' own (overridable) properties; the addon checks again by
 * address (which also catches two SharedArrayBuffer objects over one block of memory).
 */
function overlaps(a: Operand, b: Operand): boolean {
  if (a === b) return true;
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
  if (typedArrayBuffer.call(a) !== typedArrayBuffer.call(b)) return false;
  const aStart = typedArrayByteOffset.call(a);
  const bStart = typedArrayByteOffset.call(b);
  return aStart < bStart + typedArrayByteLength.call(b) && bStart < aStart + typedArrayByteLength.call(a);
}

/** Throws when operands `a` (named `aName`) and `b` share memory. */
export function checkDisjoint(a: Operand, aName: string, b: Operand, bName: string): void {
  if (overlaps(a, b)) throw ssimError('ERR_SSIM_INVALID_ARGUMENT', `Expected ${aName} and ${bName} not to share memory, but they overlap`);
}

/** The output types of `dtype`, for messages. */
function outputTypes(dtype: DType): string {
  if (!isHalfDType(dtype)) return OUTPUT_TYPES;
  return `Uint16Array${dtype === 'float16' ? ' or Float16Array' : ''} (${dtype} bits) or ${dtype} DeviceArray (gradientDtype 'input')`;
}

/**
 * An output `name` of `length` elements (`of`: what they are, for messages): a Float32Array, or for
 * `onDevice` calls (x and y are DeviceArrays) a live float32 DeviceArray on `device`. With `dtype` a
 * half dtype (a gradient with gradientDtype 'input'): a Uint16Array of its bits (or a Float16Array
 * for float16; the job gets a Uint16Array view), or a DeviceArray of that dtype.
 */
export function parseOutput(value: unknown, name: string, length: number, of: string, onDevice: boolean, device: number,
  dtype: DType = 'float32'): OutputBuffer {
  const half = isHalfDType(dtype);
  if (isDeviceArray(value)) {
    const buffer = deviceBufferOf(value);
    if (buffer === null) throw expected('ERR_SSIM_DISPOSED', 'a live DeviceArray', name, value);
    if (value.dtype !== dtype) throw expected('ERR_SSIM_DTYPE', outputTypes(dtype), name, value);
    if (!onDevice) {
      throw expected('ERR_SSIM_BACKEND', 'a Float32Array (x and y are host arrays, so outputs must be too)', name, value);
    }
    if (value.device !== device) throw expected('ERR_SSIM_BACKEND', `a DeviceArray on device ${device} (where x.data is)`, name, value);
    if (value.length !== length) {
      throw ssimError('ERR_SSIM_OUTPUT_SIZE', `Expected ${length} elements in ${name} (DeviceArray of ${of}) but received ${value.length}`);
    }
    return buffer;
  }
  if (half) {
    const tag = typedArrayTag.call(value);
    if (tag === 'Uint16Array' || (dtype === 'float16' && tag === 'Float16Array')) {
      if (!onDevice) {
        const received = hostLength(value, name);
        if (received !== length) {
          throw ssimError('ERR_SSIM_OUTPUT_SIZE', `Expected ${length} elements in ${name} (${tag} of ${of}) but received ${received}`);
        }
        return bitsView(value as ArrayBufferView);
      }
      throw expected('ERR_SSIM_BACKEND', `a ${dtype} DeviceArray (x and y are DeviceArrays, so outputs must be too)`, name, value);
    }
    throw expected(isArrayLike(value) ? 'ERR_SSIM_DTYPE' : 'ERR_SSIM_INVALID_ARGUMENT', outputTypes(dtype), name, value);
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

/** The outputs of one call: null where the call computes no such output (or allocates it). */
export interface CallOutputs {
  readonly out: Float32Array | NativeDeviceBuffer | null;
  readonly grad: OutputBuffer | null;
}

/**
 * `out` (one value per image, when `wants.value`) and `grad` (x's length, when `wants.gradient`) of
 * a call on `x` (x.data's length and batch) and `y` (y.data), on `device`. Neither may share memory
 * with the other, x.data or y.data.
 */
export function parseOutputs(out: unknown, grad: unknown, wants: { readonly value: boolean; readonly gradient: boolean },
  x: ParsedImage, y: Operand, device: number, gradDtype: DType = 'float32'): CallOutputs {
  const onDevice = x.array !== null;
  // float32 (parseOutput's default dtype)
  const outIn = wants.value ? parseOutput(out, 'out', x.batch, 'batch', onDevice, device) as Float32Array | NativeDeviceBuffer : null;
  const gradIn = wants.gradient ? parseOutput(grad, 'grad', x.length, 'x.data length', onDevice, device, gradDtype) : null;
  if (outIn !== null && gradIn !== null) checkDisjoint(outIn, 'out', gradIn, 'grad');
  if (outIn !== null) {
    checkDisjoint(outIn, 'out', x.data, 'x.data');
    checkDisjoint(outIn, 'out', y, 'y.data');
  }
  if (gradIn !== null) {
    checkDisjoint(gradIn, 'grad', x.data, 'x.data');
    checkDisjoint(gradIn, 'grad', y, 'y.data');
  }
  return { out: outIn, grad: gradIn };
}
