// Backend resolution (opts.backend, else CUDA_SSIM_BACKEND, else 'auto') and device indices,
// with the addon's backendInfo() asked once and cached.

import { fromNative, optionError, ssimError, type SsimError } from './errors';
import { cudaVersionText, getNative, loadedBinary, type NativeBackendInfo, type NativeBinding } from './native';
import type { BackendInfo, BackendName, BackendRequest, DeviceCounters } from './basic-types';

/** Environment variable that sets the default backend request. */
export const BACKEND_ENV = 'CUDA_SSIM_BACKEND';

const BACKEND_CHOICES = "one of 'auto', 'cuda', 'cpu'";

interface Cache {
  binding: NativeBinding;
  /** The addon's answer, with only the devices it has code for (the ones calls may use). */
  info: NativeBackendInfo;
  /** Every device the driver listed, usable or not (backendInfo()). */
  allDevices: NativeBackendInfo['devices'];
  /** usable[i]: device index i is listed. */
  usable: boolean[];
  indexText: string;
}

let cache: Cache | null = null;

function cached(): Cache {
  const binding = getNative();
  if (cache === null || cache.binding !== binding) {
    const raw = binding.backendInfo();
    const allDevices = raw.devices;
    const info = { ...raw, devices: raw.devices.filter((d) => d.usable !== false) };
    const usable: boolean[] = [];
    for (const d of info.devices) usable[d.index] = true;
    const indices = info.devices.map((d) => d.index);
    const indexText =
      indices.length === 0 ? 'a CUDA device index (none found)'
      : indices.length === 1 ? `CUDA device index ${indices[0]} (1 device)`
      : `a CUDA device index in ${indices.join(', ')} (${indices.length} devices)`;
    cache = { binding, info, allDevices, usable, indexText };
  }
  return cache;
}

/** The addon's backendInfo(), asked once. */
export function nativeInfo(): NativeBackendInfo {
  return cached().info;
}

/** ERR_SSIM_CUDA_UNAVAILABLE for `what`, with the reason the addon gave. */
export function cudaUnavailable(what: string): SsimError {
  const reason = nativeInfo().reason ?? 'no usable CUDA device';
  return ssimError('ERR_SSIM_CUDA_UNAVAILABLE', `${what} needs CUDA, which cannot be used here: ${reason}`);
}

/** Throws ERR_SSIM_CUDA_UNAVAILABLE unless CUDA is usable. */
export function requireCuda(what: string): void {
  if (!nativeInfo().cudaAvailable) throw cudaUnavailable(what);
}

/** The request in `value` (an option, `undefined`: the environment variable, else 'auto'), validated. */
function backendRequest(value: unknown, name: string): BackendRequest {
  if (value === undefined) {
    const env = process.env[BACKEND_ENV];
    if (env === undefined || env === '') return 'auto';
    if (env === 'auto' || env === 'cuda' || env === 'cpu') return env;
    throw optionError(BACKEND_CHOICES, `the environment variable ${BACKEND_ENV}`, env, false);
  }
  if (value === 'auto' || value === 'cuda' || value === 'cpu') return value;
  throw optionError(BACKEND_CHOICES, name, value, typeof value !== 'string');
}

/**
 * The backend of a call or workspace. `deviceArrays`: the inputs are DeviceArrays, which need CUDA:
 * they ignore CUDA_SSIM_BACKEND (a default for host data) and reject `opts.backend` 'cpu'
 * (ERR_SSIM_BACKEND). 'cuda' where CUDA is unusable: ERR_SSIM_CUDA_UNAVAILABLE.
 */
export function resolveBackend(value: unknown, name: string, deviceArrays: boolean): BackendName {
  if (deviceArrays) {
    if (value !== undefined && backendRequest(value, name) === 'cpu') {
      throw ssimError('ERR_SSIM_BACKEND', `Device arrays need the CUDA backend, but ${name} is 'cpu'`);
    }
    return 'cuda';
  }
  const request = backendRequest(value, name);
  if (request === 'cpu') return 'cpu';
  const { info } = cached();
  if (request === 'auto') {
    if (info.cudaAvailable) return 'cuda';
    warnCpuFallback(info);
    return 'cpu';
  }
  if (!info.cudaAvailable) {
    throw cudaUnavailable(`Backend 'cuda' (${value === undefined ? `the environment variable ${BACKEND_ENV}` : name})`);
  }
  return 'cuda';
}

/** Warning codes of `'auto'` ending on the CPU where an NVIDIA GPU is present (README, Troubleshooting). */
export const FALLBACK_WARNINGS = {
  'no-cuda-build': 'CUDA_SSIM_NO_CUDA_BUILD',
  'driver-too-old': 'CUDA_SSIM_DRIVER_TOO_OLD',
  'no-kernel-image': 'CUDA_SSIM_NO_KERNEL_IMAGE',
  other: 'CUDA_SSIM_CUDA_ERROR',
} as const;

let warned = false;

/**
 * One process warning, the first time `'auto'` picks the CPU on a machine whose NVIDIA driver
 * lists a GPU: the user paid for a GPU and should hear why it sits idle. None without a driver
 * or GPU, and none for an explicit 'cpu' (option or CUDA_SSIM_BACKEND=cpu).
 */
function warnCpuFallback(info: NativeBackendInfo): void {
  if (warned || !info.driver?.found || info.driver.deviceCount === 0) return;
  warned = true;
  const code = info.reasonCode !== null && info.reasonCode in FALLBACK_WARNINGS
    ? FALLBACK_WARNINGS[info.reasonCode as keyof typeof FALLBACK_WARNINGS] : FALLBACK_WARNINGS.other;
  const driver = info.driver.version !== null ? `CUDA ${cudaVersionText(info.driver.version)}` : 'unknown version';
  const todo: Record<string, string> = {
    CUDA_SSIM_NO_CUDA_BUILD: 'install a package with the prebuilt CUDA binary (linux-x64, glibc), or rebuild with nvcc on the PATH: `npm rebuild cuda-ssim`',
    CUDA_SSIM_DRIVER_TOO_OLD: 'update the NVIDIA driver (R580 or later runs every binary of this package; R450 or later runs its CUDA 11.8 variant)',
    CUDA_SSIM_NO_KERNEL_IMAGE: 'rebuild from source for this GPU: `CUDAARCHS=native npm rebuild cuda-ssim` with nvcc on the PATH',
    CUDA_SSIM_CUDA_ERROR: 'check `nvidia-smi` and the CUDA error above',
  };
  process.emitWarning(
    `cuda-ssim computes on the CPU although the NVIDIA driver (${driver}) lists ${info.driver.deviceCount} GPU(s): ` +
      `${info.reason ?? 'CUDA is unusable'}. To use the GPU: ${todo[code]}. ` +
      `Set ${BACKEND_ENV}=cpu to choose the CPU and silence this warning.`,
    { type: 'CudaSsimWarning', code },
  );
}

/** A device option: non-negative integer (default 0) and, with `cuda`, a device that exists. */
export function resolveDevice(value: unknown, name: string, cuda: boolean): number {
  let device = 0;
  if (value !== undefined) {
    if (typeof value !== 'number') throw optionError('non-negative integer', name, value, true);
    if (!Number.isInteger(value) || value < 0) throw optionError('non-negative integer', name, value, false);
    device = value;
  }
  if (cuda) {
    const c = cached();
    if (c.usable[device] !== true) throw optionError(c.indexText, name, device, false);
  }
  return device;
}

/** Which backends this machine has, which one `'auto'` picks, and each CUDA device. */
export function backendInfo(): BackendInfo {
  const { info, allDevices } = cached();
  const binary = loadedBinary();
  return {
    backend: info.cudaAvailable ? 'cuda' : 'cpu',
    binary: binary === null ? null : { ...binary },
    cuda: {
      compiled: info.cudaCompiled,
      available: info.cudaAvailable,
      reason: info.reason,
      reasonCode: info.reasonCode ?? null,
      runtimeVersion: info.runtimeVersion,
      driverVersion: info.driverVersion,
      requiredDriverVersion: info.requiredDriverVersion ?? null,
      driver: { ...info.driver },
      devices: allDevices.map((d) => ({
        index: d.index,
        name: d.name,
        computeCapability: `${d.major}.${d.minor}`,
        totalMemory: d.totalMemory,
        multiProcessorCount: d.multiProcessorCount,
        usable: d.usable !== false,
        reason: d.reason ?? null,
      })),
    },
    cpu: { threads: info.cpuThreads },
  };
}

/** Device allocations, frees, memsets and copies the addon made since it was loaded, and bytes in use. */
export function deviceCounters(): DeviceCounters {
  return { ...getNative().counters() };
}

/**
 * Waits until every call queued on a GPU has finished. Calls on device arrays return once their
 * kernels are queued; `toHost()` waits by itself, so this is for timing and error checks.
 * Throws ERR_SSIM_CUDA if queued work failed.
 */
export function synchronize(device = 0): void {
  requireCuda('synchronize()');
  const index = resolveDevice(device, 'device', true);
  getNative().synchronize(index);
}

/**
 * The CUDA stream (a `cudaStream_t` as a bigint) on which calls without `opts.stream` run on
 * `device` (default 0), so that another library can enqueue work in order with them.
 */
export function defaultStream(device = 0): bigint {
  requireCuda('defaultStream()');
  const index = resolveDevice(device, 'device', true);
  try {
    return getNative().defaultStream(index);
  } catch (err) {
    throw fromNative(err);
  }
}
