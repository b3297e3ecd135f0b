// Half-precision data ('float16', 'bfloat16'): which host arrays hold it, the Uint16Array view the
// addon reads, and the finiteness of its bits (lib/finite.ts). The conversions themselves are
// native (cuda/common/half_types.h); nothing here converts values.

import type { DType, HalfDType } from './basic-types';
import { typedArrayBuffer, typedArrayByteOffset, typedArrayLength, typedArrayTag } from './util';

/** True for 'float16' and 'bfloat16'. */
export function isHalfDType(dtype: unknown): dtype is HalfDType {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** Every dtype name, for messages and checks; a job passes its dtype to the addon as an index here (binding/job_args.h kJobDTypes: same order). */
export const DTYPES: readonly DType[] = Object.freeze(['float32', 'float64', 'uint8', 'uint16', 'float16', 'bfloat16']);

/** "one of 'float32', ..., 'bfloat16'". */
export const DTYPE_CHOICES = `one of ${DTYPES.map((d) => `'${d}'`).join(', ')}`;

/** A known dtype name. */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/** True for a Float16Array (of any realm; false where the runtime has none). */
export function isFloat16Array(value: unknown): boolean {
  return typedArrayTag.call(value) === 'Float16Array';
}

/**
 * A Uint16Array over the same memory as `value` (a Uint16Array or Float16Array), read through the
 * intrinsic getters: what the addon is given for half-precision host data.
 */
export function bitsView(value: ArrayBufferView): Uint16Array {
  if (typedArrayTag.call(value) === 'Uint16Array') return value as Uint16Array;
  return new Uint16Array(typedArrayBuffer.call(value) as ArrayBuffer, typedArrayByteOffset.call(value), typedArrayLength.call(value));
}

/** The exponent bits of a dtype's infinity: all set means infinity or NaN. */
const EXPONENT_MASK: Readonly<Record<HalfDType, number>> = { float16: 0x7c00, bfloat16: 0x7f80 };

/** True when every element of the bits `a` (of `dtype`) is finite. */
export function halfAllFinite(a: ArrayBufferView, dtype: HalfDType): boolean {
  return halfFirstNonFinite(a, dtype) < 0;
}

/** The index of the first element of the bits `a` (of `dtype`) that is not finite, else -1. */
export function halfFirstNonFinite(a: ArrayBufferView, dtype: HalfDType): number {
  const bits = bitsView(a);
  const mask = EXPONENT_MASK[dtype];
  for (let i = 0; i < bits.length; i++) if ((bits[i] & mask) === mask) return i;
  return -1;
}

/**
 * The values of half-precision bits as float32 (exact: every float16 and bfloat16 is a float32), for
 * the few host-side steps that read values (a data range from the data, preprocessing).
 */
export function decodeHalf(a: ArrayBufferView, dtype: HalfDType): Float32Array {
  const bits = bitsView(a);
  const out = new Float32Array(bits.length);
  if (dtype === 'bfloat16') {
    const u = new Uint32Array(out.buffer); // bfloat16 is the high half of a float32
    for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
    return out;
  }
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f === 0 ? sign * Infinity : NaN) : sign * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}
