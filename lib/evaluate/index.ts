// `require('cuda-ssim/evaluate')`: SSIM of many pairs of image files (folders or lists), decoded
// with sharp, batched by size, on one GPU, several (devices) or the CPU; shards and merging.
// The names documented in docs/API.md and the README, nothing else (tests reach the helpers
// through dist/evaluate/<module>.js).

export { evaluate } from './evaluate';
export { merge, readJsonl, type MergedResults } from './merge';
export { summarize, isEvaluated } from './summary';
export { decodeFile, readImageFile, DEFAULT_MAX_FILE_SIZE, type DecodedImage } from './decode';
export { heatmapPng } from './heatmap';
export type {
  ColorMode,
  EvaluateOptions,
  Evaluation,
  FolderSpec,
  PairError,
  PairErrorCode,
  PairInfo,
  PairResult,
  PairSpec,
  ShardSpec,
  SsimMapImage,
  Summary,
  WorstPair,
} from './types';
