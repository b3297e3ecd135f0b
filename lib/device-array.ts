// DeviceArray: a typed array in CUDA device memory, wrapping the addon's DeviceBuffer.

import { resolveDevice, requireCuda } from './backend';
import { expected, fromNative, setDeviceArrayDescriber, ssimError } from './errors';
import { bitsView, DTYPE_CHOICES, isDType, isFloat16Array, isHalfDType } from './half';
import { dtypeBytes, hostLength, newHostArray, requireHostData } from './host-data';
import { getNative, type NativeDeviceBuffer } from './native';
import type { DeviceArrayOptions, DType, HalfDeviceArrayOptions, HalfDType, HostArrayOf, HostData } from './basic-types';
import { installDispose, isOptionsObject } from './util';

const constructionToken = Symbol('DeviceArray');

/**
 * The dtype of a DeviceArray made from `src` (own dtype `own`) with options `opts`: `opts.dtype`
 * absent or `own`, or a half dtype for the bits in a Uint16Array.
 */
function fromDType(src: unknown, own: DType, opts: unknown): DType {
  if (!isOptionsObject<HalfDeviceArrayOptions>(opts)) return own;
  const declared = opts.dtype;
  if (declared === undefined || declared === own) return own;
  if (!isDType(declared)) throw expected('ERR_SSIM_DTYPE', DTYPE_CHOICES, 'opts.dtype', declared);
  if (isHalfDType(declared) && own === 'uint16') return declared;
  const half = own === 'uint16' ? ", 'float16' or 'bfloat16' (the bits in a Uint16Array)" : '';
  throw expected('ERR_SSIM_DTYPE', `'${own}' (the dtype of src)${half}`, 'opts.dtype', declared);
}

function deviceOption(opts: unknown, name: string): number {
  if (opts === undefined) return resolveDevice(undefined, `${name}.device`, true);
  if (!isOptionsObject<DeviceArrayOptions>(opts)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'object', name, opts);
  return resolveDevice(opts.device, `${name}.device`, true);
}

const MAX_ADDRESS = (1n << 64n) - 1n;

/** fromPointer's address: a non-zero bigint below 2^64, aligned to the dtype's size. */
function addressArg(address: unknown, dtype: DType): bigint {
  if (typeof address !== 'bigint') throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a bigint (a CUDA device address)', 'address', address);
  if (address <= 0n || address > MAX_ADDRESS) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a non-zero bigint below 2^64 (a CUDA device address)', 'address', address, 'range');
  if (address % BigInt(dtypeBytes[dtype]) !== 0n) {
    throw expected('ERR_SSIM_INVALID_ARGUMENT', `an address aligned to ${dtypeBytes[dtype]} bytes (the size of ${dtype})`, 'address', address, 'range');
  }
  return address;
}

function dtypeArg(dtype: unknown): DType {
  if (!isDType(dtype)) throw expected('ERR_SSIM_DTYPE', DTYPE_CHOICES, 'dtype', dtype);
  return dtype;
}

function lengthArg(length: unknown, dtype: DType): number {
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1 || length * dtypeBytes[dtype] > Number.MAX_SAFE_INTEGER) {
    throw expected('ERR_SSIM_INVALID_ARGUMENT', 'positive integer', 'length', length);
  }
  return length;
}

function allocate(device: number, byteLength: number): NativeDeviceBuffer {
  const { DeviceBuffer } = getNative();
  try {
    return new DeviceBuffer(device, byteLength);
  } catch (err) {
    throw fromNative(err);
  }
}

let bufferOf: (array: DeviceArray) => NativeDeviceBuffer | null;
let isInstance: (value: unknown) => value is DeviceArray;
let wrap: <D extends DType>(buffer: NativeDeviceBuffer, dtype: D, length: number) => DeviceArray<D>;

/**
 * A typed array in CUDA device memory: image data or outputs that stay on the GPU.
 * Free it with `dispose()` (or `using`); the garbage collector frees what is not disposed.
 */
export class DeviceArray<D extends DType = DType> {
  /** Element type. */
  readonly dtype: D;
  /** Number of elements. */
  readonly length: number;
  /** Size in bytes. */
  readonly byteLength: number;
  /** CUDA device index. */
  readonly device: number;
  #buffer: NativeDeviceBuffer | null;

  static {
    bufferOf = (array) => array.#buffer;
    isInstance = (value): value is DeviceArray => typeof value === 'object' && value !== null && #buffer in value;
    wrap = (buffer, dtype, length) => new DeviceArray(constructionToken, buffer, dtype, length);
  }

  /** Use {@link DeviceArray.from} or {@link DeviceArray.alloc}. */
  private constructor(token: symbol, buffer: NativeDeviceBuffer, dtype: D, length: number) {
    if (token !== constructionToken) {
      throw ssimError('ERR_SSIM_INVALID_ARGUMENT', 'DeviceArray has no public constructor: use DeviceArray.from() or DeviceArray.alloc()');
    }
    this.dtype = dtype;
    this.length = length;
    this.byteLength = length * dtypeBytes[dtype];
    this.device = buffer.device;
    this.#buffer = buffer;
    // What lib/ and the addon read must not be changed by callers (the private #buffer stays writable).
    Object.freeze(this);
  }

  /**
   * Uploads a host array to a new DeviceArray of the same dtype (Uint8ClampedArray gives uint8, a
   * Float16Array float16). `opts.dtype` 'float16' or 'bfloat16' with a Uint16Array: its bits.
   */
  static from<H extends HalfDType>(src: Uint16Array, opts: HalfDeviceArrayOptions<H>): DeviceArray<H>;
  static from(src: Float32Array, opts?: DeviceArrayOptions): DeviceArray<'float32'>;
  static from(src: Float64Array, opts?: DeviceArrayOptions): DeviceArray<'float64'>;
  static from(src: Uint8Array | Uint8ClampedArray, opts?: DeviceArrayOptions): DeviceArray<'uint8'>;
  static from(src: Uint16Array, opts?: DeviceArrayOptions): DeviceArray<'uint16'>;
  static from(src: HostData, opts?: DeviceArrayOptions): DeviceArray;
  static from(src: HostData, opts?: DeviceArrayOptions | HalfDeviceArrayOptions): DeviceArray {
    const own = requireHostData(src, 'src');
    const length = hostLength(src, 'src');
    if (length === 0) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a non-empty array', 'src', src);
    const dtype = fromDType(src, own, opts);
    requireCuda('DeviceArray.from()');
    const device = deviceOption(opts, 'opts');
    const buffer = allocate(device, length * dtypeBytes[dtype]);
    try {
      buffer.upload(isHalfDType(dtype) ? bitsView(src) : src);
    } catch (err) {
      buffer.free();
      throw fromNative(err);
    }
    return wrap(buffer, dtype, length);
  }

  /** A new DeviceArray of `length` elements of `dtype`, uninitialised. */
  static alloc<T extends DType>(dtype: T, length: number, opts?: DeviceArrayOptions): DeviceArray<T> {
    dtypeArg(dtype);
    lengthArg(length, dtype);
    requireCuda('DeviceArray.alloc()');
    const device = deviceOption(opts, 'opts');
    return wrap(allocate(device, length * dtypeBytes[dtype]), dtype, length);
  }

  /**
   * A view of `length` elements of `dtype` at `address` (a bigint), device memory that another
   * library allocated on `opts.device` (default 0): no copy, and never freed here (`dispose()` drops
   * the view). The memory must stay allocated, and hold `length` elements, until the view is
   * disposed and the calls that use it have finished (docs/API.md, "Memory of other libraries").
   */
  static fromPointer<T extends DType>(address: bigint, dtype: T, length: number, opts?: DeviceArrayOptions): DeviceArray<T> {
    dtypeArg(dtype);
    addressArg(address, dtype);
    lengthArg(length, dtype);
    requireCuda('DeviceArray.fromPointer()');
    const device = deviceOption(opts, 'opts');
    const { DeviceBuffer } = getNative();
    let buffer: NativeDeviceBuffer;
    try {
      buffer = new DeviceBuffer(device, length * dtypeBytes[dtype], address);
    } catch (err) {
      throw fromNative(err);
    }
    return wrap(buffer, dtype, length);
  }

  /** The device address of the data as a bigint, for other libraries' kernels (ERR_SSIM_DISPOSED once disposed). */
  get pointer(): bigint {
    return this.#live('pointer').address;
  }

  /** True after `dispose()`. */
  get disposed(): boolean {
    return this.#buffer === null;
  }

  /**
   * Uploads `src` (same element type and length) into this array; returns this. A float16 or
   * bfloat16 array takes a Uint16Array of bits (float16: or a Float16Array).
   */
  copyFrom(src: HostData): this {
    const buffer = this.#live('copyFrom()');
    const own = requireHostData(src, 'src');
    const half = isHalfDType(this.dtype);
    const fits = own === this.dtype || (half && own === 'uint16');
    if (!fits) {
      const what = half ? `a Uint16Array of ${this.dtype} bits${this.dtype === 'float16' ? ' or a Float16Array' : ''}` : `${this.dtype} data`;
      throw expected('ERR_SSIM_DTYPE', `${what} (the dtype of this DeviceArray)`, 'src', src);
    }
    const length = hostLength(src, 'src');
    if (length !== this.length) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected ${this.length} elements in src (the length of this DeviceArray) but received ${length}`);
    }
    try {
      buffer.upload(half ? bitsView(src) : src);
    } catch (err) {
      throw fromNative(err);
    }
    return this;
  }

  /** Downloads the array into a new host array of its dtype (waits for queued work on the device). */
  toHost(): HostArrayOf<D> {
    const buffer = this.#live('toHost()');
    const dst = newHostArray(this.dtype, this.length);
    try {
      buffer.download(dst);
    } catch (err) {
      throw fromNative(err);
    }
    return dst as HostArrayOf<D>;
  }

  /** Frees the device memory now (after queued work that uses it). Idempotent. */
  dispose(): void {
    const buffer = this.#buffer;
    if (buffer === null) return;
    this.#buffer = null;
    buffer.free();
  }

  #live(method: string): NativeDeviceBuffer {
    if (this.#buffer === null) throw ssimError('ERR_SSIM_DISPOSED', `Cannot call ${method} on a disposed DeviceArray`);
    return this.#buffer;
  }
}

// `[Symbol.dispose]()`, defined at run time so that a runtime without Symbol.dispose gets Node's fallback key.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface DeviceArray<D extends DType = DType> extends Disposable {}
installDispose(DeviceArray.prototype);

/**
 * A DeviceArray made by this module (a brand check: a Proxy of one, or an object made from its
 * prototype, is not one, and asking runs none of the caller's code).
 */
export function isDeviceArray(value: unknown): value is DeviceArray {
  return isInstance(value);
}

// How error messages name a DeviceArray: `DeviceArray(float32, 12 elements, device 0)`.
setDeviceArrayDescriber((value) =>
  isInstance(value) ? `${value.disposed ? 'a disposed ' : ''}DeviceArray(${value.dtype}, ${value.length} elements, device ${value.device})` : undefined);

/** The addon buffer of a DeviceArray, null once disposed. */
export function deviceBufferOf(array: DeviceArray): NativeDeviceBuffer | null {
  return bufferOf(array);
}

/** A DeviceArray of `dtype` and `length` on `device` (arguments already validated). */
export function allocDeviceArray<T extends DType>(dtype: T, length: number, device: number): DeviceArray<T> {
  return wrap(allocate(device, length * dtypeBytes[dtype]), dtype, length);
}
