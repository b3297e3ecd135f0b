// `require('cuda-ssim/evaluate')`: SSIM of many pairs of image files (folders or lists), decoded
// with sharp, batched by size, on one GPU, several (devices) or the CPU; shards and merging.

export { evaluate } from './evaluate';
export { merge, readJsonl, jsonLine, resultRecord, type MergedResults } from './merge';
export { summarize, quantile, isEvaluated } from './summary';
export { decodeFile, readImageFile, DEFAULT_MAX_FILE_SIZE, LUMA_WEIGHTS, type DecodedImage } from './decode';
export { heatmapPng, heatmapPixels, heatColor } from './heatmap';
export { stableHash, inShard, IMAGE_EXTENSIONS } from './pairs';
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
