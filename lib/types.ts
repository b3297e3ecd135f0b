// Public types (docs/API.md).

import type { DeviceArray } from './device-array';
import type { Workspace } from './workspace';

/** Element type of image data. */
export type DType = 'float32' | 'float64' | 'uint8' | 'uint16';

/** Host arrays accepted as image data (Buffer is a Uint8Array). */
export type HostData = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | Uint16Array;

/** The host array type of a dtype (what `DeviceArray#toHost()` returns). */
export type HostArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'uint8'
      ? Uint8Array
      : D extends 'uint16'
        ? Uint16Array
        : never;

/** `'hwc'`: interleaved channels (what decoders and canvas give); `'chw'`: planar. */
export type Layout = 'hwc' | 'chw';

/** `'same'`: zero padding, mean over the whole map; `'valid'`: map cropped by the window radius. */
export type Padding = 'same' | 'valid';

/** Backend request: `'auto'` picks CUDA when it is usable, else the CPU. */
export type BackendRequest = 'auto' | 'cuda' | 'cpu';

/** A backend that runs a call. */
export type BackendName = 'cuda' | 'cpu';

/** Supported Gaussian window sizes. */
export type WindowSize = 7 | 9 | 11;

/**
 * One image or a batch of images. `{ data, width, height }` from canvas `ImageData` works as is.
 * x and y must have the same width, height, channels, batch, layout and dtype.
 */
export interface ImageBatch {
  /** The pixels; integer data are divided by 255 (uint8) or 65535 (uint16). */
  data: HostData | DeviceArray;
  /** Positive integer. */
  width: number;
  /** Positive integer. */
  height: number;
  /** Default: `data.length / (width * height * batch)`, which must be a positive integer. */
  channels?: number;
  /** Default 1; when given (even 1), values come back as a Float32Array of one value per image. */
  batch?: number;
  /** Default `'hwc'`. */
  layout?: Layout;
}

/** An image batch with `batch` given: values come back as a Float32Array. */
export type BatchedImage = ImageBatch & { batch: number };
/** An image batch without `batch`: a value comes back as a number. */
export type SingleImage = ImageBatch & { batch?: undefined };
/** Image data in device memory: gradients stay on the device. */
export type DeviceImage = ImageBatch & { data: DeviceArray };
/** Image data in host memory. */
export type HostImage = ImageBatch & { data: HostData };

/** Options of the SSIM functions; `undefined` means the default, unknown keys are ignored. */
export interface SsimOptions {
  /** Gaussian window size: 7, 9 or 11 (default 11). */
  windowSize?: WindowSize;
  /** Gaussian standard deviation, finite and > 0 (default 1.5). */
  sigma?: number;
  /** Finite and > 0 (default 0.01); C1 = (k1 * dataRange)^2. */
  k1?: number;
  /** Finite and > 0 (default 0.03); C2 = (k2 * dataRange)^2. */
  k2?: number;
  /** Dynamic range L of float data, finite and > 0 (default 1); integer data allow only 1. */
  dataRange?: number;
  /** Default `'same'`. */
  padding?: Padding;
  /** dssim functions only: report (1 - SSIM) / 2 (default false). */
  divideByTwo?: boolean;
  /**
   * Default: the environment variable `CUDA_SSIM_BACKEND`, else `'auto'`. DeviceArray inputs always
   * run on CUDA (the variable does not apply to them; `'cpu'` is an error).
   */
  backend?: BackendRequest;
  /** CUDA device index (default 0, or the device of DeviceArray inputs). */
  device?: number;
  /** Scratch memory reused between calls (see {@link Workspace.for}). */
  workspace?: Workspace;
}

/** Options of `DeviceArray.from` and `DeviceArray.alloc`. */
export interface DeviceArrayOptions {
  /** CUDA device index (default 0). */
  device?: number;
}

/** The largest call a workspace serves: at most `batch` images and `batch*channels*height*width` elements. */
export interface WorkspaceShape {
  width: number;
  height: number;
  /** Default 1: pass the channel count of the calls. */
  channels?: number;
  /** Default 1. */
  batch?: number;
}

/** Options of `Workspace.for`. */
export interface WorkspaceOptions {
  /** CUDA device index (default 0). */
  device?: number;
  /** Default: `CUDA_SSIM_BACKEND`, else `'auto'`. */
  backend?: BackendRequest;
  /**
   * Default true: room for gradient calls (12 bytes per element). `false` makes a value-only
   * workspace (16 bytes per image), enough for ssim/dssim(Into) but refused by gradient calls.
   */
  gradient?: boolean;
}

/** One CUDA device, as `backendInfo()` lists it. */
export interface CudaDeviceInfo {
  index: number;
  name: string;
  /** `'major.minor'`, e.g. `'9.0'`. */
  computeCapability: string;
  /** Bytes. */
  totalMemory: number;
  multiProcessorCount: number;
  /** This package's binary has code the device can run; calls on it are refused otherwise. */
  usable: boolean;
  /** Why the device is not usable, else null. */
  reason: string | null;
}

/** What `backendInfo()` reports. */
export interface BackendInfo {
  /** The backend `'auto'` picks. */
  backend: BackendName;
  /** The native binary in use: a prebuilt variant of the package ('main', 'cuda11.8') or a 'source' build. */
  binary: { path: string; variant: string; prebuilt: boolean; note: string | null } | null;
  cuda: {
    /** The addon was built with nvcc. */
    compiled: boolean;
    /** A driver and at least one device answered. */
    available: boolean;
    /** Why CUDA is not available, else null. */
    reason: string | null;
    /**
     * The reason as a code: 'no-cuda-build', 'no-driver', 'driver-too-old', 'no-device',
     * 'no-kernel-image' or 'cuda-error'; null where CUDA is available.
     */
    reasonCode: string | null;
    /** E.g. 13000 for CUDA 13.0. */
    runtimeVersion: number | null;
    /** The CUDA version the driver offers (cuDriverGetVersion), null without a driver. */
    driverVersion: number | null;
    /** The lowest driver CUDA version this binary runs on; null in a CPU-only build. */
    requiredDriverVersion: number | null;
    /** The NVIDIA driver as libcuda.so.1 answers (also in a CPU-only build). */
    driver: { found: boolean; version: number | null; deviceCount: number; error: string | null };
    devices: CudaDeviceInfo[];
  };
  cpu: { threads: number };
}

/** Device-side CUDA calls the addon made since it was loaded. */
export interface DeviceCounters {
  allocations: number;
  frees: number;
  memsets: number;
  copies: number;
  bytesInUse: number;
  /** Most device bytes the addon held at once since load. */
  peakBytesInUse: number;
}

/** A host or device float32 output array. */
export type OutputArray = Float32Array | DeviceArray;

/** Result of the `*WithGradient*` functions. */
export interface ValueAndGradient<V, G> {
  value: V;
  gradient: G;
}

type Opts = SsimOptions;
type DeviceF32 = DeviceArray<'float32'>;

/** `ssim` / `dssim`: a number without `batch`, else a Float32Array of `batch` values. */
export interface ValueFunction {
  (x: BatchedImage, y: ImageBatch, opts?: Opts): Float32Array;
  (x: SingleImage, y: SingleImage, opts?: Opts): number;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): number | Float32Array;
}

/** `ssimGradient` / `dssimGradient`: d(value of each image)/dx, in x's length and layout. */
export interface GradientFunction {
  (x: DeviceImage, y: ImageBatch, opts?: Opts): DeviceF32;
  (x: HostImage, y: ImageBatch, opts?: Opts): Float32Array;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Float32Array | DeviceF32;
}

/** `ssimWithGradient` / `dssimWithGradient`. */
export interface WithGradientFunction {
  (x: BatchedImage & DeviceImage, y: ImageBatch, opts?: Opts): ValueAndGradient<Float32Array, DeviceF32>;
  (x: BatchedImage & HostImage, y: ImageBatch, opts?: Opts): ValueAndGradient<Float32Array, Float32Array>;
  (x: SingleImage & DeviceImage, y: SingleImage, opts?: Opts): ValueAndGradient<number, DeviceF32>;
  (x: SingleImage & HostImage, y: SingleImage, opts?: Opts): ValueAndGradient<number, Float32Array>;
  (x: DeviceImage, y: ImageBatch, opts?: Opts): ValueAndGradient<number | Float32Array, DeviceF32>;
  (x: HostImage, y: ImageBatch, opts?: Opts): ValueAndGradient<number | Float32Array, Float32Array>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): ValueAndGradient<number | Float32Array, Float32Array | DeviceF32>;
}

/** `ssimInto` / `dssimInto`: writes `batch` values (1 without batch) into `out`, returns `out`. */
export type ValueIntoFunction = <O extends OutputArray>(out: O, x: ImageBatch, y: ImageBatch, opts?: Opts) => O;

/** `ssimGradientInto` / `dssimGradientInto`: writes the gradient into `grad`, returns `grad`. */
export type GradientIntoFunction = <G extends OutputArray>(grad: G, x: ImageBatch, y: ImageBatch, opts?: Opts) => G;

/** `ssimWithGradientInto` / `dssimWithGradientInto`: returns `{ value: out, gradient: grad }`. */
export type WithGradientIntoFunction = <O extends OutputArray, G extends OutputArray>(
  out: O,
  grad: G,
  x: ImageBatch,
  y: ImageBatch,
  opts?: Opts,
) => ValueAndGradient<O, G>;

/** `ssim` / `dssim` of `cuda-ssim/promises`. */
export interface AsyncValueFunction {
  (x: BatchedImage, y: ImageBatch, opts?: Opts): Promise<Float32Array>;
  (x: SingleImage, y: SingleImage, opts?: Opts): Promise<number>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Promise<number | Float32Array>;
}

/** `ssimGradient` / `dssimGradient` of `cuda-ssim/promises`. */
export interface AsyncGradientFunction {
  (x: DeviceImage, y: ImageBatch, opts?: Opts): Promise<DeviceF32>;
  (x: HostImage, y: ImageBatch, opts?: Opts): Promise<Float32Array>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Promise<Float32Array | DeviceF32>;
}

/** `ssimWithGradient` / `dssimWithGradient` of `cuda-ssim/promises`. */
export interface AsyncWithGradientFunction {
  (x: BatchedImage & DeviceImage, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<Float32Array, DeviceF32>>;
  (x: BatchedImage & HostImage, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<Float32Array, Float32Array>>;
  (x: SingleImage & DeviceImage, y: SingleImage, opts?: Opts): Promise<ValueAndGradient<number, DeviceF32>>;
  (x: SingleImage & HostImage, y: SingleImage, opts?: Opts): Promise<ValueAndGradient<number, Float32Array>>;
  (x: DeviceImage, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<number | Float32Array, DeviceF32>>;
  (x: HostImage, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<number | Float32Array, Float32Array>>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<number | Float32Array, Float32Array | DeviceF32>>;
}

/** `ssimInto` / `dssimInto` of `cuda-ssim/promises`. */
export type AsyncValueIntoFunction = <O extends OutputArray>(out: O, x: ImageBatch, y: ImageBatch, opts?: Opts) => Promise<O>;

/** `ssimGradientInto` / `dssimGradientInto` of `cuda-ssim/promises`. */
export type AsyncGradientIntoFunction = <G extends OutputArray>(grad: G, x: ImageBatch, y: ImageBatch, opts?: Opts) => Promise<G>;

/** `ssimWithGradientInto` / `dssimWithGradientInto` of `cuda-ssim/promises`. */
export type AsyncWithGradientIntoFunction = <O extends OutputArray, G extends OutputArray>(
  out: O,
  grad: G,
  x: ImageBatch,
  y: ImageBatch,
  opts?: Opts,
) => Promise<ValueAndGradient<O, G>>;

/** `ssimMap`: the per-pixel SSIM map averaged over channels (batch * mapHeight * mapWidth values). */
export interface MapFunction {
  (x: DeviceImage, y: ImageBatch, opts?: Opts): DeviceF32;
  (x: HostImage, y: ImageBatch, opts?: Opts): Float32Array;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Float32Array | DeviceF32;
}

/** `ssimMapInto`: writes the map into `map`, returns `map`. */
export type MapIntoFunction = <M extends OutputArray>(map: M, x: ImageBatch, y: ImageBatch, opts?: Opts) => M;

/** `ssimMap` of `cuda-ssim/promises`. */
export interface AsyncMapFunction {
  (x: DeviceImage, y: ImageBatch, opts?: Opts): Promise<DeviceF32>;
  (x: HostImage, y: ImageBatch, opts?: Opts): Promise<Float32Array>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Promise<Float32Array | DeviceF32>;
}

/** `ssimMapInto` of `cuda-ssim/promises`. */
export type AsyncMapIntoFunction = <M extends OutputArray>(map: M, x: ImageBatch, y: ImageBatch, opts?: Opts) => Promise<M>;
