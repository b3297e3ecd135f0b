// The native addon (binding/), loaded lazily through node-gyp-build from the package root.
// Its interface is docs/ARCHITECTURE.md, "Native module".

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromNative, ssimError } from './errors';
import { callBegan, callEnded } from './loop-awake';
import type { DeviceCounters, DType, Layout } from './basic-types';
import { DTYPES } from './half';
import { MAX_SCALES } from './parse/scales';

/** Why CUDA cannot be used (NativeBackendInfo.reasonCode); null where it can. */
export type CudaReasonCode =
  'no-cuda-build' | 'no-driver' | 'driver-too-old' | 'no-device' | 'no-kernel-image' | 'cuda-error';

/** What the addon reports about the machine (docs/ARCHITECTURE.md). */
export interface NativeBackendInfo {
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  reason: string | null;
  reasonCode: CudaReasonCode | null;
  runtimeVersion: number | null;
  driverVersion: number | null;
  /** The NVIDIA driver as libcuda.so.1 answers, also in a CPU-only build. */
  driver: { found: boolean; version: number | null; deviceCount: number; error: string | null };
  /** The lowest driver CUDA version (cuDriverGetVersion) this binary runs on; null without CUDA. */
  requiredDriverVersion: number | null;
  devices: {
    index: number;
    name: string;
    major: number;
    minor: number;
    totalMemory: number;
    multiProcessorCount: number;
    /** This binary has code the device can run; `reason` says why not. */
    usable: boolean;
    reason: string | null;
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
  /** The device address (0n once freed). */
  readonly address: bigint;
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
  /** 'uniform': taps 1 / windowSize (sigma unused); absent or 'gaussian': Gaussian taps of sigma. */
  window?: 'gaussian' | 'uniform';
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
  /** float32, or half-precision bits (a Uint16Array, or a device buffer) when gradDtype is a half dtype. */
  grad: Float32Array | Uint16Array | NativeDeviceBuffer | null;
  /** The gradient's element type: 'float32', or x's half dtype (gradientDtype 'input'). */
  gradDtype: DType;
  /** x.data is a Float16Array (an allocating call returns its gradient in one). Not read by the addon. */
  float16Array: boolean;
  workspace: NativeDeviceBuffer | null;
  workspaceImages: number;
  workspaceElements: number;
  /** MS-SSIM jobs only (computeMsssim): one weight per scale, finest first. */
  weights?: number[];
  /** opts.stream: a caller's cudaStream_t, or null for the device's own stream. */
  stream: bigint | null;
}

/** A map job: a compute job without out/grad, with `map` (batch * map pixels, float32) as its output. */
export interface NativeMapJob extends NativeJob {
  map: Float32Array | NativeDeviceBuffer | null;
}

/**
 * How the addon takes a job (binding/job_args.h): its numbers and choices in `fields`, its memory
 * and stream as arguments, and the job object itself, which a promise call holds until it settles.
 */
export type NativeJobCall<R> = (fields: Float64Array, x: NativeJob['x'], y: NativeJob['y'], out: NativeJob['out'] | NativeMapJob['map'],
  grad: NativeJob['grad'], workspace: NativeJob['workspace'], stream: bigint | null, job: NativeJob) => R;

export interface NativeBinding {
  backendInfo(): NativeBackendInfo;
  counters(): NativeCounters;
  workspaceBytes(images: number, elements: number, gradient: boolean): number;
  /** With `address`: a view of another library's device memory, never freed by the addon. */
  DeviceBuffer: new (device: number, byteLength: number, address?: bigint) => NativeDeviceBuffer;
  compute: NativeJobCall<void>;
  computeAsync: NativeJobCall<Promise<void>>;
  /** MS-SSIM (cuda/common/msssim.h): job.weights set. */
  computeMsssim: NativeJobCall<void>;
  computeMsssimAsync: NativeJobCall<Promise<void>>;
  /** Device bytes of an MS-SSIM workspace for one call shape (0 without CUDA). */
  msssimWorkspaceBytes(batch: number, channels: number, height: number, width: number, layout: string, scales: number,
    gradient: boolean): number;
  /** The per-pixel SSIM map (channel-averaged) into job.map; device maps stay stream-ordered. */
  computeMap: NativeJobCall<void>;
  computeMapAsync: NativeJobCall<Promise<void>>;
  /** Waits for every call queued on the device's stream; throws ERR_SSIM_CUDA for a failed one. */
  synchronize(device: number): void;
  /** The handle of the stream the addon enqueues on for `device`. */
  defaultStream(device: number): bigint;
}

const packageRoot = path.join(__dirname, '..');

/** Environment variable that picks a prebuilt binary by its variant name (manifest.json). */
export const PREBUILT_ENV = 'CUDA_SSIM_PREBUILT';

/** Which binary was loaded and why (backendInfo().binary). */
export interface LoadedBinary {
  /** The .node file. */
  path: string;
  /** 'main' or 'cuda11.8' for the package's prebuilt binaries, 'source' for a local build. */
  variant: string;
  prebuilt: boolean;
  /** Why another binary than the first choice was loaded, else null. */
  note: string | null;
}

interface ManifestEntry { variant: string; file: string; requiredDriverVersion: number }

let binding: NativeBinding | null = null;
let loaded: LoadedBinary | null = null;
let loadFailure: unknown = null;
let attempted = false;

const prebuildDir = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);

function readManifest(): ManifestEntry[] {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(prebuildDir, 'manifest.json'), 'utf8')) as { binaries?: ManifestEntry[] };
    return Array.isArray(m.binaries) ? m.binaries : [];
  } catch {
    return [];
  }
}

function requireBinding(file: string): NativeBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as Partial<NativeBinding> | null;
  if (mod === null || typeof mod !== 'object' || typeof mod.compute !== 'function' ||
      typeof mod.computeAsync !== 'function' || typeof mod.DeviceBuffer !== 'function' ||
      typeof mod.backendInfo !== 'function') {
    throw new Error(`${file} does not export compute, computeAsync, DeviceBuffer and backendInfo (a stale build?)`);
  }
  return mod as NativeBinding;
}

function variantOf(file: string, manifest: ManifestEntry[]): ManifestEntry | undefined {
  return manifest.find((e) => path.join(prebuildDir, e.file) === file);
}

// A local build (build/Release, made by a source install or a developer) comes first, then the
// package's main prebuilt binary, as node-gyp-build orders them. Where the main binary's CUDA
// runtime needs a newer driver than the machine has, the prebuilt variant of the highest CUDA
// version that the driver can run is loaded instead. CUDA_SSIM_PREBUILT=<variant> forces one.
function choose(): { binding: NativeBinding; loaded: LoadedBinary } {
  const manifest = readManifest();
  const forced = process.env[PREBUILT_ENV];
  if (forced !== undefined && forced !== '') {
    const entry = manifest.find((e) => e.variant === forced);
    if (entry === undefined) {
      throw new Error(`${PREBUILT_ENV}=${forced}, but this package has prebuilt variants ` +
        `${manifest.map((e) => `'${e.variant}'`).join(', ') || '(none for this platform)'}`);
    }
    const file = path.join(prebuildDir, entry.file);
    return { binding: requireBinding(file), loaded: { path: file, variant: entry.variant, prebuilt: true, note: `${PREBUILT_ENV}=${forced}` } };
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const file = (require('node-gyp-build') as { path(dir: string): string }).path(packageRoot);
  const first = requireBinding(file);
  const entry = variantOf(file, manifest);
  const loadedFirst: LoadedBinary = { path: file, variant: entry?.variant ?? 'source', prebuilt: entry !== undefined, note: null };
  if (entry === undefined) return { binding: first, loaded: loadedFirst };
  const info = first.backendInfo();
  const driver = info.driver?.version ?? null;
  if (driver === null || info.requiredDriverVersion === null || driver >= info.requiredDriverVersion) {
    return { binding: first, loaded: loadedFirst };
  }
  const fallback = manifest
    .filter((e) => e.file !== entry.file && e.requiredDriverVersion <= driver)
    .sort((a, b) => b.requiredDriverVersion - a.requiredDriverVersion)[0];
  if (fallback === undefined) return { binding: first, loaded: loadedFirst };
  const fallbackFile = path.join(prebuildDir, fallback.file);
  const note = `the driver offers CUDA ${cudaVersionText(driver)}, the '${entry.variant}' binary needs ` +
    `${cudaVersionText(info.requiredDriverVersion)}: loaded the '${fallback.variant}' binary`;
  try {
    return { binding: requireBinding(fallbackFile), loaded: { path: fallbackFile, variant: fallback.variant, prebuilt: true, note } };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { binding: first, loaded: { ...loadedFirst, note: `the '${fallback.variant}' binary did not load: ${why}` } };
  }
}

/** '13.0' for 13000. */
export function cudaVersionText(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

function load(): NativeBinding {
  if (!attempted) {
    attempted = true;
    try {
      ({ binding, loaded } = choose());
    } catch (err) {
      loadFailure = err;
    }
  }
  if (binding !== null) return binding;
  const reason = loadFailure instanceof Error ? loadFailure.message : String(loadFailure);
  const glibc = /GLIBC_[0-9.]+' not found/.test(reason)
    ? ' The prebuilt binaries need glibc 2.28 or later (RHEL 8, Ubuntu 20.04, Debian 10); on older systems build from source.'
    : '';
  throw ssimError(
    'ERR_SSIM_NATIVE_LOAD',
    `cuda-ssim: the native addon could not be loaded (package root ${packageRoot}).${glibc} ` +
      'Run `npm rebuild cuda-ssim` to build it from source (a C++17 compiler and CMake >= 3.18 are needed; nvcc for CUDA); ' +
      "npm 11 skips a dependency's install script, which builds it, unless the project allows it (`npm install-scripts approve cuda-ssim`). " +
      `Cause: ${reason}`,
    undefined,
    loadFailure,
  );
}

/** The binary that getNative() loaded (null before the first load). */
export function loadedBinary(): LoadedBinary | null {
  return loaded;
}

/** The addon; the first call loads it. Throws ERR_SSIM_NATIVE_LOAD (every time) if it cannot be loaded. */
export function getNative(): NativeBinding {
  return binding !== null ? binding : load();
}

/** The slots of a job's `fields` (binding/job_args.h CUDA_SSIM_JOB_FIELDS, same order). */
const JOB_FIELDS = ['backend', 'device', 'dtype', 'batch', 'channels', 'height', 'width', 'layout', 'windowSize', 'window',
  'sigma', 'c1', 'c2', 'inputScale', 'gradFactor', 'valid', 'valueOffset', 'valueScale', 'gradDtype',
  'workspaceImages', 'workspaceElements', 'scales', 'weights'] as const;
const F = Object.fromEntries(JOB_FIELDS.map((name, i) => [name, i])) as { readonly [K in (typeof JOB_FIELDS)[number]]: number };
/** The choices' lists (binding/job_args.h, same order; dtypes: half.ts's DTYPES): a choice travels as its index. */
const BACKENDS = ['cpu', 'cuda'] as const;
const LAYOUTS = ['hwc', 'chw'] as const;
const WINDOWS = ['gaussian', 'uniform'] as const;
/** One array for every call: the addon reads it before the call returns (promise calls too). */
const jobFields = new Float64Array(F.weights + MAX_SCALES);

/** A job as the addon's arguments (NativeJobCall), its numbers written into the shared `fields`. */
export function nativeJobArgs(job: NativeJob | NativeMapJob): Parameters<NativeJobCall<void>> {
  const f = jobFields;
  f[F.backend] = BACKENDS.indexOf(job.backend);
  f[F.device] = job.device;
  f[F.dtype] = DTYPES.indexOf(job.dtype);
  f[F.batch] = job.batch;
  f[F.channels] = job.channels;
  f[F.height] = job.height;
  f[F.width] = job.width;
  f[F.layout] = LAYOUTS.indexOf(job.layout);
  f[F.windowSize] = job.windowSize;
  f[F.window] = WINDOWS.indexOf(job.window ?? 'gaussian');
  f[F.sigma] = job.sigma;
  f[F.c1] = job.c1;
  f[F.c2] = job.c2;
  f[F.inputScale] = job.inputScale;
  f[F.gradFactor] = job.gradFactor;
  f[F.valid] = job.valid ? 1 : 0;
  f[F.valueOffset] = job.valueOffset;
  f[F.valueScale] = job.valueScale;
  f[F.gradDtype] = DTYPES.indexOf(job.gradDtype ?? 'float32');
  f[F.workspaceImages] = job.workspaceImages;
  f[F.workspaceElements] = job.workspaceElements;
  const weights = job.weights ?? [];
  f[F.scales] = weights.length;
  for (let i = 0; i < weights.length && i < MAX_SCALES; i++) f[F.weights + i] = weights[i];
  const out = 'map' in job ? job.map : job.out;
  return [f, job.x, job.y, out, job.grad ?? null, job.workspace ?? null, job.stream ?? null, job];
}

/** Runs a job entry of the addon on this thread; its errors become the library's coded errors. */
export function runJob(entry: 'compute' | 'computeMsssim', job: NativeJob): void;
export function runJob(entry: 'computeMap', job: NativeMapJob): void;
export function runJob(entry: 'compute' | 'computeMsssim' | 'computeMap', job: NativeJob): void {
  try {
    getNative()[entry](...nativeJobArgs(job));
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * The promise form of runJob: the addon computes on a libuv worker (CPU), or queues the call on
 * the device's stream and settles it when the device is done (CUDA; for device-array calls
 * loop-awake.ts keeps this thread's event loop polling meanwhile).
 */
export function runJobAsync(entry: 'computeAsync' | 'computeMsssimAsync', job: NativeJob): Promise<void>;
export function runJobAsync(entry: 'computeMapAsync', job: NativeMapJob): Promise<void>;
export async function runJobAsync(entry: 'computeAsync' | 'computeMsssimAsync' | 'computeMapAsync', job: NativeJob): Promise<void> {
  // Device-array calls only: a host-array call's time is mostly the bus's (and `evaluate`'s
  // decoders need every core).
  const cuda = job.backend === 'cuda' && !ArrayBuffer.isView(job.x);
  if (cuda) callBegan();
  try {
    await getNative()[entry](...nativeJobArgs(job));
  } catch (err) {
    throw fromNative(err);
  } finally {
    if (cuda) callEnded();
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
