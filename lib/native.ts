// The native addon (binding/), loaded lazily through node-gyp-build from the package root.
// Its interface is docs/ARCHITECTURE.md, "Native module".

import * as path from 'node:path';
import { fromNative, ssimError } from './errors';
import type { DeviceCounters, DType, Layout } from './types';

/** What the addon reports about the machine (docs/ARCHITECTURE.md). */
export interface NativeBackendInfo {
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  reason: string | null;
  runtimeVersion: number | null;
  driverVersion: number | null;
  devices: {
    index: number;
    name: string;
    major: number;
    minor: number;
    totalMemory: number;
    multiProcessorCount: number;
  }[];
  cpuThreads: number;
}

/** The addon's device call counters, as `deviceCounters()` returns them. */
export type NativeCounters = DeviceCounters;

/** A block of device memory owned by a JS object; the addon's finalizer frees what free() did not. */
export interface NativeDeviceBuffer {
  readonly byteLength: number;
  readonly device: number;
  readonly freed: boolean;
  upload(src: ArrayBufferView): void;
  download(dst: ArrayBufferView): void;
  zero(): void;
  free(): void;
}

/** One call, as lib/ resolved it; binding/ checks the sizes again. */
export interface NativeJob {
  backend: 'cpu' | 'cuda';
  device: number;
  x: ArrayBufferView | NativeDeviceBuffer;
  y: ArrayBufferView | NativeDeviceBuffer;
  dtype: DType;
  batch: number;
  channels: number;
  height: number;
  width: number;
  layout: Layout;
  windowSize: 7 | 9 | 11;
  sigma: number;
  c1: number;
  c2: number;
  inputScale: number;
  /** Extra factor on the gradient: 1 / dataRange for float data (normalised by inputScale), 1 for integer data. */
  gradFactor: number;
  valid: boolean;
  valueOffset: number;
  valueScale: number;
  out: Float32Array | NativeDeviceBuffer | null;
  grad: Float32Array | NativeDeviceBuffer | null;
  workspace: NativeDeviceBuffer | null;
  workspaceImages: number;
  workspaceElements: number;
}

/** A map job: a compute job without out/grad, with `map` (batch * map pixels, float32) as its output. */
export interface NativeMapJob extends NativeJob {
  map: Float32Array | NativeDeviceBuffer | null;
}

export interface NativeBinding {
  backendInfo(): NativeBackendInfo;
  counters(): NativeCounters;
  workspaceBytes(images: number, elements: number, gradient: boolean): number;
  DeviceBuffer: new (device: number, byteLength: number) => NativeDeviceBuffer;
  compute(job: NativeJob): void;
  computeAsync(job: NativeJob): Promise<void>;
  /** The per-pixel SSIM map (channel-averaged) into job.map; device maps stay stream-ordered. */
  computeMap(job: NativeMapJob): void;
  computeMapAsync(job: NativeMapJob): Promise<void>;
  /** Waits for every call queued on the device's stream; throws ERR_SSIM_CUDA for a failed one. */
  synchronize(device: number): void;
  /** Benchmark support: measured device-to-device copy rate and fp32 FMA rate of a device. */
  measureCeilings(device: number): { copyBytesPerSecond: number; fp32FlopsPerSecond: number };
  /** Restarts the peak of device bytes in use (counters().peakBytesInUse) from the current use. */
  resetPeakBytes(): void;
}

const packageRoot = path.join(__dirname, '..');

let binding: NativeBinding | null = null;
let loadFailure: unknown = null;
let attempted = false;

function load(): NativeBinding {
  if (!attempted) {
    attempted = true;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
      const loaded = nodeGypBuild(packageRoot) as Partial<NativeBinding> | null;
      if (loaded === null || typeof loaded !== 'object' || typeof loaded.compute !== 'function' ||
          typeof loaded.computeAsync !== 'function' || typeof loaded.DeviceBuffer !== 'function') {
        throw new Error('the loaded module does not export compute, computeAsync and DeviceBuffer (a stale build?)');
      }
      binding = loaded as NativeBinding;
    } catch (err) {
      loadFailure = err;
    }
  }
  if (binding !== null) return binding;
  const reason = loadFailure instanceof Error ? loadFailure.message : String(loadFailure);
  throw ssimError(
    'ERR_SSIM_NATIVE_LOAD',
    `cuda-ssim: the native addon could not be loaded (package root ${packageRoot}). ` +
      'Run `npm rebuild cuda-ssim` to build it (a C++17 compiler and CMake are needed; nvcc for CUDA). ' +
      `Cause: ${reason}`,
    undefined,
    loadFailure,
  );
}

/** The addon; the first call loads it. Throws ERR_SSIM_NATIVE_LOAD (every time) if it cannot be loaded. */
export function getNative(): NativeBinding {
  return binding !== null ? binding : load();
}

/** Runs a job entry of the addon on this thread; its errors become the library's coded errors. */
export function runJob(entry: 'compute', job: NativeJob): void;
export function runJob(entry: 'computeMap', job: NativeMapJob): void;
export function runJob(entry: 'compute' | 'computeMap', job: NativeJob): void {
  try {
    (getNative()[entry] as (j: NativeJob) => void)(job);
  } catch (err) {
    throw fromNative(err);
  }
}

/** The promise form of runJob: the addon computes on a libuv worker. */
export function runJobAsync(entry: 'computeAsync', job: NativeJob): Promise<void>;
export function runJobAsync(entry: 'computeMapAsync', job: NativeMapJob): Promise<void>;
export async function runJobAsync(entry: 'computeAsync' | 'computeMapAsync', job: NativeJob): Promise<void> {
  try {
    await (getNative()[entry] as (j: NativeJob) => Promise<void>)(job);
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * Replaces the addon (tests of lib/ without a build); `null` goes back to loading the real one.
 * @internal
 */
export function setNativeBindingForTesting(replacement: NativeBinding | null): void {
  binding = replacement;
  attempted = replacement !== null;
  loadFailure = null;
}
