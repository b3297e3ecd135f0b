// `require('cuda-ssim')`: SSIM / DSSIM and their gradients on CUDA GPUs, with a CPU fallback.
// The promise versions of the 24 functions (12 SSIM, 12 MS-SSIM) are in `cuda-ssim/promises`.

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
  msssim,
  msdssim,
  msssimGradient,
  msdssimGradient,
  msssimWithGradient,
  msdssimWithGradient,
  msssimInto,
  msdssimInto,
  msssimGradientInto,
  msdssimGradientInto,
  msssimWithGradientInto,
  msdssimWithGradientInto,
} from './api';
export { ssimMap, ssimMapInto } from './map';
export { DeviceArray } from './device-array';
export { Workspace } from './workspace';
export { backendInfo, deviceCounters, synchronize } from './backend';
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
  GradientArray,
  GradientDType,
  GradientFunction,
  GradientOf,
  GradientIntoFunction,
  HalfDeviceArrayOptions,
  HalfDType,
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
