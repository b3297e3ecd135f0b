// Public types of `cuda-ssim/evaluate` (README, "Batch evaluation").

import type { BackendRequest, Convention, Covariance, Padding, WindowKind, WindowSize } from '../types';

/** How colour images are compared. */
export type ColorMode = 'rgb' | 'luma';

/** One pair of image files. `id` names the pair in results (default: the test path as given). */
export interface PairSpec {
  reference: string;
  test: string;
  id?: string;
}

/** Two folders whose images are matched by relative path, extension-insensitive. */
export interface FolderSpec {
  reference: string;
  test: string;
}

/** A deterministic share of the pairs: those whose id hashes to `index` modulo `count`. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** The metric of an evaluation: SSIM (default) or MS-SSIM (5 scales, the default weights). */
export type EvaluateMetric = 'ssim' | 'msssim';

export interface EvaluateOptions {
  /** 'ssim' (default) or 'msssim': named in every result (`metric`) and the summary. */
  metric?: EvaluateMetric;
  /** The preset of the metric options (SsimOptions.convention); 'matlab' also makes `color` default to 'luma'. */
  convention?: Convention;
  window?: WindowKind;
  windowSize?: WindowSize;
  sigma?: number;
  k1?: number;
  k2?: number;
  padding?: Padding;
  covariance?: Covariance;
  /** SsimOptions.downsample (a factor or 'auto'). */
  downsample?: number | 'auto';
  /** 'rgb' (default): SSIM per channel, averaged; 'luma': BT.601 luma (MATLAB rgb2gray weights, rounded). */
  color?: ColorMode;
  /** Default: CUDA_SSIM_BACKEND, else 'auto'. */
  backend?: BackendRequest;
  /** CUDA device index for the in-process computation (default 0). */
  device?: number;
  /** One worker thread per GPU: 'all' or a list of device indices. */
  devices?: 'all' | number[];
  /** Only this share of the pairs (for job arrays). */
  shard?: ShardSpec;
  /** Ids of pairs to leave out (e.g. already in a JSONL file: resume). */
  skip?: Iterable<string>;
  /** Files decoded at once (default: 2 x CPU cores, at least 4). */
  concurrency?: number;
  /** Most pairs in one batched SSIM call (default 16); an image of 4 Mi elements or more (1080p RGB) goes alone. */
  batchSize?: number;
  /**
   * Largest image file read, in bytes (default 512 MiB): a larger file is the pair's error
   * 'too-large', checked before reading. Only regular files are read ('not-a-file' otherwise).
   */
  maxFileSize?: number;
  /** Attach each pair's SSIM map (channel-averaged) to its result as `map` (default false). */
  maps?: boolean;
  /**
   * Stops starting new pairs; pairs being computed still finish and are yielded, pairs being
   * decoded are dropped. An abort at any time before the run ends sets `interrupted` in the summary.
   */
  signal?: AbortSignal;
}

/** Why a pair could not be evaluated. */
export type PairErrorCode =
  | 'missing-reference'
  | 'missing-test'
  | 'ambiguous'
  | 'unreadable'
  | 'not-a-file'
  | 'too-large'
  | 'decode'
  | 'size-mismatch'
  | 'compute'
  | 'non-finite';

export interface PairError {
  code: PairErrorCode;
  /** The file concerned (for a size mismatch: the test file). */
  file: string | null;
  reason: string;
}

/** A per-pixel SSIM map, channel-averaged, row-major. */
export interface SsimMapImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** One line of results (the JSONL / JSON schema, `map` aside). */
export interface PairResult {
  id: string;
  reference: string | null;
  test: string | null;
  status: 'ok' | 'error';
  /**
   * The metric of `ssim` and `dssim`: 'ssim' or 'msssim' (then `ssim` holds the MS-SSIM and `dssim`
   * 1 - MS-SSIM). Set by evaluate(); rows written before it existed read as 'ssim'.
   */
  metric?: EvaluateMetric;
  /** Mean SSIM (float32 rounded), or MS-SSIM with metric 'msssim'; null for an error. */
  ssim: number | null;
  /** 1 - ssim, null for an error. */
  dssim: number | null;
  width: number | null;
  height: number | null;
  /** Only for errors. */
  error?: PairError;
  /** Only with the option `maps`. */
  map?: SsimMapImage;
  /** The convention of the metric options (ok rows). */
  convention?: Convention;
}

/** A pair's entry in the summary's worst list. */
export interface WorstPair {
  id: string;
  reference: string | null;
  test: string | null;
  ssim: number;
}

export interface Summary {
  /** The metric of the values ('mixed' when merged rows of both metrics: their statistics mean nothing). */
  metric: EvaluateMetric | 'mixed';
  /** Pairs evaluated (status ok). */
  count: number;
  /** Pairs that could not be evaluated (status error). */
  failures: number;
  /** count + failures. */
  total: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  median: number | null;
  /** 5th percentile (linear interpolation between order statistics). */
  p5: number | null;
  /** The lowest-SSIM pairs, lowest first (at most 10). */
  worst: WorstPair[];
  /** The run was stopped: the signal was aborted (or the iteration left early) before it ended. */
  interrupted: boolean;
  /** The convention of the evaluated pairs ('mixed' when rows of several are merged; null for none). */
  convention: Convention | 'mixed' | null;
}

/** What `evaluate` returns: the results as they complete, and the summary at the end. */
export interface Evaluation extends AsyncIterable<PairResult> {
  /** The pairs this run will evaluate (after shard and skip), sorted by id. */
  pairs(): Promise<PairInfo[]>;
  /** Resolves when every pair is done (iterating the results itself if nobody does). */
  summary(): Promise<Summary>;
}

/** A pair as listed (before decoding). */
export interface PairInfo {
  id: string;
  reference: string | null;
  test: string | null;
  /** Set when the pair is known bad from listing alone (missing counterpart, ambiguous name). */
  error?: PairError;
}
