// Small runtime helpers shared by several modules.

/** The %TypedArray%.prototype[Symbol.toStringTag] getter: 'Float32Array' etc., undefined for non-typed-arrays (any realm). */
export const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

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
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
