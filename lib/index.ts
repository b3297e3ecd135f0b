// `require('cuda-ssim')`: SSIM / DSSIM and their gradients on CUDA GPUs, with a CPU fallback.
// The promise versions of the 12 functions are in `cuda-ssim/promises`.

export {
  ssim,
  dssim,
  ssimGradient,
  dssimGradient,
  ssimWithGradient,
  dssimWithGradient,
  ssimInto,
  dssimInto,
  ssimGradientInto,
  dssimGradientInto,
  ssimWithGradientInto,
  dssimWithGradientInto,
} from './api';
export { ssimMap, ssimMapInto } from './map';
export { DeviceArray } from './device-array';
export { Workspace } from './workspace';
export { backendInfo, defaultStream, deviceCounters, synchronize } from './backend';
export { errorCodes, isSsimError, type SsimError, type SsimErrorCode } from './errors';
export type {
  AsyncGradientFunction,
  AsyncMapFunction,
  AsyncMapIntoFunction,
  AsyncGradientIntoFunction,
  AsyncValueFunction,
  AsyncValueIntoFunction,
  AsyncWithGradientFunction,
  AsyncWithGradientIntoFunction,
  BackendInfo,
  BackendName,
  BackendRequest,
  BatchedImage,
  CudaDeviceInfo,
  DeviceArrayOptions,
  DeviceCounters,
  DeviceImage,
  DType,
  GradientFunction,
  GradientOf,
  GradientIntoFunction,
  HostArrayOf,
  HostData,
  HostImage,
  ImageBatch,
  Layout,
  MapFunction,
  MapIntoFunction,
  OutputArray,
  Padding,
  SingleImage,
  SsimOptions,
  ValueAndGradient,
  ValueFunction,
  ValueIntoFunction,
  WindowSize,
  WithGradientFunction,
  WithGradientIntoFunction,
  WorkspaceOptions,
  WorkspaceShape,
} from './types';

/** The version of this package. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const version: string = (require('../package.json') as { version: string }).version;
