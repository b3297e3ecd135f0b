// Outputs given by the caller (out, grad, map): float32, of the right length, on the inputs' side,
// sharing memory with nothing else in the job.

import { deviceBufferOf, isDeviceArray } from '../device-array';
import { expected, ssimError } from '../errors';
import { hostLength, isArrayLike, isFloat32Array } from '../host-data';
import type { NativeDeviceBuffer } from '../native';
import { typedArrayBuffer, typedArrayByteLength, typedArrayByteOffset } from '../util';
import type { ParsedImage } from './image';

const OUTPUT_TYPES = 'Float32Array or float32 DeviceArray';

/** An operand of a job: host data or a device buffer. */
export type Operand = ArrayBufferView | NativeDeviceBuffer;

/** An output as a job takes it. */
export type OutputBuffer = Float32Array | NativeDeviceBuffer;

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

/**
 * An output `name` of `length` elements (`of`: what they are, for messages): a Float32Array, or for
 * `onDevice` calls (x and y are DeviceArrays) a live float32 DeviceArray on `device`.
 */
export function parseOutput(value: unknown, name: string, length: number, of: string, onDevice: boolean, device: number): OutputBuffer {
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

/** The outputs of one call: null where the call computes no such output (or allocates it). */
export interface CallOutputs {
  readonly out: OutputBuffer | null;
  readonly grad: OutputBuffer | null;
}

/**
 * `out` (one value per image, when `wants.value`) and `grad` (x's length, when `wants.gradient`) of
 * a call on `x` (x.data's length and batch) and `y` (y.data), on `device`. Neither may share memory
 * with the other, x.data or y.data.
 */
export function parseOutputs(out: unknown, grad: unknown, wants: { readonly value: boolean; readonly gradient: boolean },
  x: ParsedImage, y: Operand, device: number): CallOutputs {
  const onDevice = x.array !== null;
  const outIn = wants.value ? parseOutput(out, 'out', x.batch, 'batch', onDevice, device) : null;
  const gradIn = wants.gradient ? parseOutput(grad, 'grad', x.length, 'x.data length', onDevice, device) : null;
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
