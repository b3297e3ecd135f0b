// Small runtime helpers shared by several modules.

// Brand checks of node:util: no getter or Proxy trap of the caller runs, and nothing is thrown
// (a try/catch around an intrinsic getter cost ~6 us per call in the throw).
import { types as utilTypes } from 'node:util';

/** The %TypedArray%.prototype[Symbol.toStringTag] getter: 'Float32Array' etc., undefined for non-typed-arrays (any realm). */
export const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

// The %TypedArray%.prototype getters themselves: an own property or a subclass getter named
// `length`, `buffer`, `byteOffset` or `byteLength` on the caller's array cannot change what they read.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter<T>(proto: object, key: string): (this: unknown) => T {
  return Object.getOwnPropertyDescriptor(proto, key)!.get as (this: unknown) => T;
}

/** Element count of a typed array (0 once detached). */
export const typedArrayLength = intrinsicGetter<number>(typedArrayProto, 'length');
/** The ArrayBuffer or SharedArrayBuffer under a typed array. */
export const typedArrayBuffer = intrinsicGetter<ArrayBufferLike>(typedArrayProto, 'buffer');
/** Byte offset of a typed array in its buffer (0 once detached). */
export const typedArrayByteOffset = intrinsicGetter<number>(typedArrayProto, 'byteOffset');
/** Byte length of a typed array (0 once detached). */
export const typedArrayByteLength = intrinsicGetter<number>(typedArrayProto, 'byteLength');

const resizableGetter = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get as ((this: unknown) => boolean) | undefined;
const growableGetter = typeof SharedArrayBuffer === 'function'
  ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'growable')?.get as ((this: unknown) => boolean) | undefined
  : undefined;

/** True for an ArrayBuffer (of any realm, detached or not). */
export function isArrayBuffer(value: unknown): boolean {
  return utilTypes.isArrayBuffer(value);
}

/** True for a SharedArrayBuffer (of any realm). */
export function isSharedArrayBuffer(buffer: unknown): boolean {
  return utilTypes.isSharedArrayBuffer(buffer);
}

/** The typed array's buffer can change size (a resizable ArrayBuffer or a growable SharedArrayBuffer). */
export function hasResizableBuffer(view: unknown): boolean {
  const buffer = typedArrayBuffer.call(view);
  if (isSharedArrayBuffer(buffer)) return growableGetter !== undefined && growableGetter.call(buffer);
  return resizableGetter !== undefined && resizableGetter.call(buffer);
}

/** The typed array's ArrayBuffer was detached (transferred): it has no memory left. */
export function isDetachedView(view: unknown): boolean {
  if (typedArrayByteLength.call(view) !== 0) return false;
  const buffer = typedArrayBuffer.call(view);
  if (isSharedArrayBuffer(buffer)) return false;
  try {
    // a zero-length view of a live buffer can always be made; of a detached one, never
    new Uint8Array(buffer as ArrayBuffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** Array.isArray, except that a revoked Proxy (where it throws) gives 'revoked'. */
export function arrayCheck(value: unknown): boolean | 'revoked' {
  try {
    return Array.isArray(value);
  } catch {
    return 'revoked';
  }
}

/** `Symbol.dispose`, or Node's own fallback key where the runtime lacks it. */
export const disposeSymbol: typeof Symbol.dispose =
  (Symbol as { dispose?: typeof Symbol.dispose }).dispose ?? (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);

/** Defines `[Symbol.dispose]()` on a class prototype as a call of its `dispose()`. */
export function installDispose(proto: { dispose(): void }): void {
  Object.defineProperty(proto, disposeSymbol, {
    value: function dispose(this: { dispose(): void }): void {
      this.dispose();
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/** A caller's object before validation: the fields of T, each of any type. */
export type Unchecked<T> = { readonly [K in keyof T]?: unknown };

/** An object that can hold options (not null, not an array, not a primitive). */
export function isOptionsObject<T = Record<string, unknown>>(value: unknown): value is Unchecked<T> {
  return typeof value === 'object' && value !== null && arrayCheck(value) === false;
}
