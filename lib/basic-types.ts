// Public types that name no class of lib/ (docs/API.md). A leaf: device-array.ts, workspace.ts,
// native.ts and backend.ts take their types from here, while types.ts (which names DeviceArray and
// Workspace) re-exports them, so that no type import closes a circle.

/**
 * Element type of image data. `'float16'` (IEEE binary16) and `'bfloat16'` are half-precision
 * floats, read as float32; on the host they are the bits in a Uint16Array with the image's `dtype`
 * set (or a Float16Array, where the runtime has one).
 */
export type DType = 'float32' | 'float64' | 'uint8' | 'uint16' | 'float16' | 'bfloat16';

/** The half-precision dtypes. */
export type HalfDType = 'float16' | 'bfloat16';

/** The element type of a gradient: float32 (the default), or `'input'`: x's dtype where that is float32, float16 or bfloat16. */
export type GradientDType = 'float32' | 'input';

/** Host arrays accepted as image data (Buffer is a Uint8Array). */
export type HostData = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | Uint16Array;

/** The host array type of a dtype (what `DeviceArray#toHost()` returns; the bits for the half dtypes). */
export type HostArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'uint8'
      ? Uint8Array
      : D extends 'uint16' | 'float16' | 'bfloat16'
        ? Uint16Array
        : never;

/** `'hwc'`: interleaved channels (what decoders and canvas give); `'chw'`: planar. */
export type Layout = 'hwc' | 'chw';

/**
 * `'same'`: zero padding, mean over the whole map; `'valid'`: map cropped by the window radius;
 * `'reflect'` (host inputs): reflect padding (torch's, the edge not repeated), mean over the whole map.
 */
export type Padding = 'same' | 'valid' | 'reflect';

/** Backend request: `'auto'` picks CUDA when it is usable, else the CPU. */
export type BackendRequest = 'auto' | 'cuda' | 'cpu';

/** A backend that runs a call. */
export type BackendName = 'cuda' | 'cpu';

/** Supported Gaussian window sizes. */
export type WindowSize = 7 | 9 | 11;

/** Options of `DeviceArray.from` and `DeviceArray.alloc`. */
export interface DeviceArrayOptions {
  /** CUDA device index (default 0). */
  device?: number;
}

/** Options of `DeviceArray.from` for half-precision bits in a Uint16Array. */
export interface HalfDeviceArrayOptions<H extends HalfDType = HalfDType> extends DeviceArrayOptions {
  /** The Uint16Array holds the bits of this half-precision dtype. */
  dtype: H;
}

/** The largest call a workspace serves: at most `batch` images and `batch*channels*height*width` elements. */
export interface WorkspaceShape {
  width: number;
  height: number;
  /** Default 1: pass the channel count of the calls. */
  channels?: number;
  /** Default 1. */
  batch?: number;
  /**
   * MS-SSIM workspaces only (`msssim` option): the layout of the calls, default `'hwc'` (which
   * also serves `'chw'` calls; a `'chw'` workspace holds less: no planar copy of scale 0).
   */
  layout?: Layout;
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
  /**
   * Room for MS-SSIM calls (msssim*, msdssim*) of this shape, on CUDA: `true` for 5 scales (the
   * default weights) or the number of scales (1 to 16); default false (SSIM calls only). Sized
   * for `shape` exactly: an MS-SSIM call of another height/width may need more (ERR_SSIM_WORKSPACE).
   */
  msssim?: boolean | number;
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
  /** Most device bytes the addon held at once since load (or since the benchmark last reset it). */
  peakBytesInUse: number;
}
