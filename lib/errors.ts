// Errors with a stable `code` (docs/API.md, "Errors"), built like Node's own:
// `RangeError [ERR_SSIM_SHAPE]: Expected positive integer for x.width but received 0`.

// A leaf of lib/: it imports only util.ts, so every module can throw coded errors without an
// import circle. (describe() names DeviceArrays through a describer that device-array.ts installs.)

import { arrayCheck, isDetachedView, typedArrayLength, typedArrayTag } from './util';

const dataViewByteLength = Object.getOwnPropertyDescriptor(DataView.prototype, 'byteLength')!.get as (this: unknown) => number;
const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get as (this: unknown) => number;

/** Every error code this package throws (or passes through from the native addon). */
export const errorCodes = Object.freeze({
  ERR_SSIM_INVALID_ARGUMENT: 'ERR_SSIM_INVALID_ARGUMENT',
  ERR_SSIM_DTYPE: 'ERR_SSIM_DTYPE',
  ERR_SSIM_SHAPE: 'ERR_SSIM_SHAPE',
  ERR_SSIM_LAYOUT: 'ERR_SSIM_LAYOUT',
  ERR_SSIM_TOO_SMALL: 'ERR_SSIM_TOO_SMALL',
  ERR_SSIM_OPTION: 'ERR_SSIM_OPTION',
  ERR_SSIM_OUTPUT_SIZE: 'ERR_SSIM_OUTPUT_SIZE',
  ERR_SSIM_WORKSPACE: 'ERR_SSIM_WORKSPACE',
  ERR_SSIM_DISPOSED: 'ERR_SSIM_DISPOSED',
  ERR_SSIM_DETACHED: 'ERR_SSIM_DETACHED',
  ERR_SSIM_BACKEND: 'ERR_SSIM_BACKEND',
  ERR_SSIM_CUDA_UNAVAILABLE: 'ERR_SSIM_CUDA_UNAVAILABLE',
  ERR_SSIM_CUDA: 'ERR_SSIM_CUDA',
  ERR_SSIM_INTERNAL: 'ERR_SSIM_INTERNAL',
  ERR_SSIM_NATIVE_LOAD: 'ERR_SSIM_NATIVE_LOAD',
  ERR_SSIM_OUT_OF_MEMORY: 'ERR_SSIM_OUT_OF_MEMORY',
  ERR_SSIM_NONFINITE: 'ERR_SSIM_NONFINITE',
  ERR_SSIM_TFJS_UNAVAILABLE: 'ERR_SSIM_TFJS_UNAVAILABLE',
} as const);

/** One of the {@link errorCodes}. */
export type SsimErrorCode = keyof typeof errorCodes;

/** An error thrown by cuda-ssim: an `Error`, `TypeError` or `RangeError` with a stable `code`. */
export interface SsimError extends Error {
  code: SsimErrorCode;
}

/** True when `err` is an error from cuda-ssim (optionally: with this `code`). */
export function isSsimError(err: unknown, code?: SsimErrorCode): err is SsimError {
  if (!(err instanceof Error)) return false;
  const c = (err as { code?: unknown }).code;
  return typeof c === 'string' && Object.hasOwn(errorCodes, c) && (code === undefined || c === code);
}

type ErrorClass = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

// The class each code has unless the call site says otherwise (docs/API.md table).
const defaultClass: Record<SsimErrorCode, ErrorClass> = {
  ERR_SSIM_INVALID_ARGUMENT: TypeError,
  ERR_SSIM_DTYPE: TypeError,
  ERR_SSIM_SHAPE: RangeError,
  ERR_SSIM_LAYOUT: RangeError,
  ERR_SSIM_TOO_SMALL: RangeError,
  ERR_SSIM_OPTION: RangeError,
  ERR_SSIM_OUTPUT_SIZE: RangeError,
  ERR_SSIM_WORKSPACE: RangeError,
  ERR_SSIM_DISPOSED: Error,
  ERR_SSIM_DETACHED: Error,
  ERR_SSIM_BACKEND: Error,
  ERR_SSIM_CUDA_UNAVAILABLE: Error,
  ERR_SSIM_CUDA: Error,
  ERR_SSIM_INTERNAL: Error,
  ERR_SSIM_NATIVE_LOAD: Error,
  ERR_SSIM_OUT_OF_MEMORY: Error,
  ERR_SSIM_NONFINITE: RangeError,
  ERR_SSIM_TFJS_UNAVAILABLE: Error,
};

/**
 * Makes an error with `code`. `kind` overrides the class of the code's table entry (ERR_SSIM_OPTION
 * and ERR_SSIM_WORKSPACE are TypeErrors for a wrong type, RangeErrors for a bad value).
 */
export function ssimError(code: SsimErrorCode, message: string, kind?: 'type' | 'range', cause?: unknown): SsimError {
  const Ctor: ErrorClass = kind === 'type' ? TypeError : kind === 'range' ? RangeError : defaultClass[code];
  const err = (cause === undefined ? new Ctor(message) : new Ctor(message, { cause })) as SsimError;
  // Like Node's internal errors: the stack's first line reads `TypeError [ERR_SSIM_X]: message`,
  // while `name` stays the plain class name.
  err.name = `${Ctor.name} [${code}]`;
  void err.stack;
  delete (err as { name?: string }).name;
  err.code = code;
  return err;
}

/** `Expected ${expected} for ${name} but received ${describe(received)}` as an error with `code`. */
export function expected(code: SsimErrorCode, expectedText: string, name: string, received: unknown, kind?: 'type' | 'range'): SsimError {
  return ssimError(code, `Expected ${expectedText} for ${name} but received ${describe(received)}`, kind);
}

/** An ERR_SSIM_OPTION error: TypeError when `received` has the wrong type, RangeError when a bad value. */
export function optionError(expectedText: string, name: string, received: unknown, wrongType: boolean): SsimError {
  return expected('ERR_SSIM_OPTION', expectedText, name, received, wrongType ? 'type' : 'range');
}

/** Gives the description of a DeviceArray, or undefined for any other value. */
export type DeviceArrayDescriber = (value: unknown) => string | undefined;

// Installed by device-array.ts when it loads, so before that no DeviceArray can exist.
let describeDeviceArray: DeviceArrayDescriber = () => undefined;

/** Sets how describe() recognises and names a DeviceArray (called once, by device-array.ts). */
export function setDeviceArrayDescriber(describer: DeviceArrayDescriber): void {
  describeDeviceArray = describer;
}

/**
 * A short description of any value for error messages: `0`, `'nhwc'`, `Int16Array(12)`, `undefined`.
 * Never throws, and reads arrays through the intrinsic getters (not their own, overridable properties).
 */
export function describe(value: unknown): string {
  try {
    return describeValue(value);
  } catch {
    return 'an object'; // a revoked Proxy, a throwing getter or trap
  }
}

function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string':
      return value.length > 40 ? `'${value.slice(0, 37)}...' (string)` : `'${value}'`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return `function ${value.name || '(anonymous)'}`;
  }
  if (value === null) return 'null';
  const deviceArray = describeDeviceArray(value);
  if (deviceArray !== undefined) return deviceArray;
  const tag = typedArrayTag.call(value);
  if (tag !== undefined) {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor;
    const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : tag;
    if (isDetachedView(value)) return `${name} (detached)`;
    return `${name}(${typedArrayLength.call(value)})`;
  }
  const isArray = arrayCheck(value);
  if (isArray === 'revoked') return 'a revoked Proxy';
  if (isArray) return `Array(${(value as unknown[]).length})`;
  try {
    return `ArrayBuffer(${arrayBufferByteLength.call(value)} bytes)`;
  } catch {
    // not an ArrayBuffer
  }
  if (ArrayBuffer.isView(value)) {
    try {
      return `DataView(${dataViewByteLength.call(value)} bytes)`;
    } catch {
      return 'DataView (detached)';
    }
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return 'an object';
  const ctorName = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctorName === 'string' && ctorName !== '' ? `an instance of ${ctorName}` : 'an object';
}

/**
 * Errors from the native addon carry `code` already and pass through unchanged; anything else
 * (an addon that rejected the job's form) is a bug between lib/ and binding/: ERR_SSIM_INTERNAL.
 */
export function fromNative(err: unknown): unknown {
  if (err instanceof Error && typeof (err as { code?: unknown }).code !== 'string') {
    (err as SsimError).code = 'ERR_SSIM_INTERNAL';
  }
  return err;
}
