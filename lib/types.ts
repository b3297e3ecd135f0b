// Public types (docs/API.md).

import type { BackendRequest, DType, GradientDType, HostData, Layout, Padding, WindowSize } from './basic-types';
import type { Convention, Covariance, WindowKind } from './conventions';
import type { DeviceArray } from './device-array';
import type { Workspace } from './workspace';

export type { Convention, Covariance, WindowKind } from './conventions';
export type {
  DType,
  HalfDType,
  GradientDType,
  HalfDeviceArrayOptions,
  HostData,
  HostArrayOf,
  Layout,
  Padding,
  BackendRequest,
  BackendName,
  WindowSize,
  DeviceArrayOptions,
  WorkspaceShape,
  WorkspaceOptions,
  CudaDeviceInfo,
  BackendInfo,
  DeviceCounters,
} from './basic-types';

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
  /**
   * The element type of `data`. Default: `data`'s own (a Uint16Array is `'uint16'`, integer data).
   * `'float16'` or `'bfloat16'` with a Uint16Array: the array holds the bits of half-precision
   * floats. Otherwise it must be `data`'s own dtype.
   */
  dtype?: DType;
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
  /**
   * Reproduce another implementation's defaults (README, "Matching other libraries"): sets window,
   * windowSize, sigma, covariance, padding, the data range of float data, downsample and grayscale;
   * each of those given explicitly overrides the preset. Default `'default'` (this library's).
   */
  convention?: Convention;
  /** `'gaussian'` (default; `sigma`) or `'uniform'` (1 / windowSize per tap, scikit-image's default). */
  window?: WindowKind;
  /** Window size: 7, 9 or 11 (default 11). */
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
  /** `'population'` (default) or `'sample'`: variances and covariance times N / (N - 1), N = windowSize^2. */
  covariance?: Covariance;
  /**
   * Host inputs only: average f x f boxes (MATLAB imfilter 'symmetric') and keep every f-th row and
   * column before SSIM; `'auto'`: f = max(1, round(min(width, height) / 256)) (MATLAB ssim.m).
   * The gradient is mapped back to x's pixels. Default 1.
   */
  downsample?: number | 'auto';
  /** Host inputs only: 3-channel images -> one channel with MATLAB rgb2gray's weights (not rounded). Default false. */
  grayscale?: boolean;
  /** dssim functions only: report (1 - SSIM) / 2 (default false). */
  divideByTwo?: boolean;
  /**
   * MS-SSIM functions only (msssim*, msdssim*; ignored by the others): one weight per scale,
   * finest first, 1 to 16 finite numbers > 0 (default [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]).
   */
  weights?: readonly number[] | Float32Array | Float64Array;
  /**
   * Default: the environment variable `CUDA_SSIM_BACKEND`, else `'auto'`. DeviceArray inputs always
   * run on CUDA (the variable does not apply to them; `'cpu'` is an error).
   */
  backend?: BackendRequest;
  /** CUDA device index (default 0, or the device of DeviceArray inputs). */
  device?: number;
  /** Scratch memory reused between calls (see {@link Workspace.for}). */
  workspace?: Workspace;
  /**
   * Gradient calls: `'float32'` (the default), or `'input'`: the gradient in x's dtype for float16
   * and bfloat16 data (the float32 gradient rounded to nearest even; a Uint16Array of bits, a
   * Float16Array for Float16Array data, or a DeviceArray of x's dtype), float32 for float32 data.
   * Other dtypes allow only `'float32'`.
   */
  gradientDtype?: GradientDType;
  /**
   * A CUDA stream (`cudaStream_t` as a bigint; `0n`: the legacy default stream) to enqueue the call
   * on instead of the device's own ({@link defaultStream}). CUDA backend only. A call on DeviceArrays
   * writing into given outputs with a Workspace allocates nothing and never waits for the device
   * (it can be captured into a CUDA graph); calls that move host data wait for that stream.
   */
  stream?: bigint;
}

/** A host or device float32 output array. */
export type OutputArray = Float32Array | DeviceArray;

/** A gradient output: float32, or half-precision bits with `gradientDtype: 'input'`. */
export type GradientArray = Float32Array | Uint16Array | DeviceArray;

/** Options asking for the gradient in x's dtype. */
type InputDTypeOpts = Opts & { gradientDtype: 'input' };

/** Result of the `*WithGradient*` functions. */
export interface ValueAndGradient<V, G> {
  value: V;
  gradient: G;
}

type Opts = SsimOptions;
type DeviceF32 = DeviceArray<'float32'>;

/**
 * The gradient of a call on `x`: a float32 DeviceArray for device data, a Float32Array for host
 * data (both possible when x's type allows both).
 */
export type GradientOf<X extends ImageBatch> = X extends DeviceImage ? DeviceF32 : X extends HostImage ? Float32Array : Float32Array | DeviceF32;

// Values follow `batch`: with `batch` on x or y (even 1), a Float32Array of one value per image;
// without it on both, a number; both possible when a type allows `batch` (`batch?: number`).

/** `ssim` / `dssim`: a number without `batch`, else a Float32Array of `batch` values. */
export interface ValueFunction {
  (x: BatchedImage, y: ImageBatch, opts?: Opts): Float32Array;
  (x: ImageBatch, y: BatchedImage, opts?: Opts): Float32Array;
  (x: SingleImage, y: SingleImage, opts?: Opts): number;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): number | Float32Array;
}

/** `ssimGradient` / `dssimGradient`: d(value of each image)/dx, in x's length and layout. */
export interface GradientFunction {
  (x: ImageBatch, y: ImageBatch, opts: InputDTypeOpts): GradientArray;
  (x: DeviceImage, y: ImageBatch, opts?: Opts): DeviceF32;
  (x: HostImage, y: ImageBatch, opts?: Opts): Float32Array;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Float32Array | DeviceF32;
}

/** `ssimWithGradient` / `dssimWithGradient`: the value as {@link ValueFunction}, the gradient as {@link GradientFunction}. */
export interface WithGradientFunction {
  (x: ImageBatch, y: ImageBatch, opts: InputDTypeOpts): ValueAndGradient<number | Float32Array, GradientArray>;
  <X extends BatchedImage>(x: X, y: ImageBatch, opts?: Opts): ValueAndGradient<Float32Array, GradientOf<X>>;
  <X extends ImageBatch>(x: X, y: BatchedImage, opts?: Opts): ValueAndGradient<Float32Array, GradientOf<X>>;
  <X extends SingleImage>(x: X, y: SingleImage, opts?: Opts): ValueAndGradient<number, GradientOf<X>>;
  <X extends ImageBatch>(x: X, y: ImageBatch, opts?: Opts): ValueAndGradient<number | Float32Array, GradientOf<X>>;
}

/** `ssimInto` / `dssimInto`: writes `batch` values (1 without batch) into `out`, returns `out`. */
export type ValueIntoFunction = <O extends OutputArray>(out: O, x: ImageBatch, y: ImageBatch, opts?: Opts) => O;

/** `ssimGradientInto` / `dssimGradientInto`: writes the gradient into `grad`, returns `grad`. */
export type GradientIntoFunction = <G extends GradientArray>(grad: G, x: ImageBatch, y: ImageBatch, opts?: Opts) => G;

/** `ssimWithGradientInto` / `dssimWithGradientInto`: returns `{ value: out, gradient: grad }`. */
export type WithGradientIntoFunction = <O extends OutputArray, G extends GradientArray>(
  out: O,
  grad: G,
  x: ImageBatch,
  y: ImageBatch,
  opts?: Opts,
) => ValueAndGradient<O, G>;

/** `ssim` / `dssim` of `cuda-ssim/promises`. */
export interface AsyncValueFunction {
  (x: BatchedImage, y: ImageBatch, opts?: Opts): Promise<Float32Array>;
  (x: ImageBatch, y: BatchedImage, opts?: Opts): Promise<Float32Array>;
  (x: SingleImage, y: SingleImage, opts?: Opts): Promise<number>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Promise<number | Float32Array>;
}

/** `ssimGradient` / `dssimGradient` of `cuda-ssim/promises`. */
export interface AsyncGradientFunction {
  (x: ImageBatch, y: ImageBatch, opts: InputDTypeOpts): Promise<GradientArray>;
  (x: DeviceImage, y: ImageBatch, opts?: Opts): Promise<DeviceF32>;
  (x: HostImage, y: ImageBatch, opts?: Opts): Promise<Float32Array>;
  (x: ImageBatch, y: ImageBatch, opts?: Opts): Promise<Float32Array | DeviceF32>;
}

/** `ssimWithGradient` / `dssimWithGradient` of `cuda-ssim/promises`. */
export interface AsyncWithGradientFunction {
  (x: ImageBatch, y: ImageBatch, opts: InputDTypeOpts): Promise<ValueAndGradient<number | Float32Array, GradientArray>>;
  <X extends BatchedImage>(x: X, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<Float32Array, GradientOf<X>>>;
  <X extends ImageBatch>(x: X, y: BatchedImage, opts?: Opts): Promise<ValueAndGradient<Float32Array, GradientOf<X>>>;
  <X extends SingleImage>(x: X, y: SingleImage, opts?: Opts): Promise<ValueAndGradient<number, GradientOf<X>>>;
  <X extends ImageBatch>(x: X, y: ImageBatch, opts?: Opts): Promise<ValueAndGradient<number | Float32Array, GradientOf<X>>>;
}

/** `ssimInto` / `dssimInto` of `cuda-ssim/promises`. */
export type AsyncValueIntoFunction = <O extends OutputArray>(out: O, x: ImageBatch, y: ImageBatch, opts?: Opts) => Promise<O>;

/** `ssimGradientInto` / `dssimGradientInto` of `cuda-ssim/promises`. */
export type AsyncGradientIntoFunction = <G extends GradientArray>(grad: G, x: ImageBatch, y: ImageBatch, opts?: Opts) => Promise<G>;

/** `ssimWithGradientInto` / `dssimWithGradientInto` of `cuda-ssim/promises`. */
export type AsyncWithGradientIntoFunction = <O extends OutputArray, G extends GradientArray>(
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
