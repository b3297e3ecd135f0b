// The `convention` presets: what each well-known SSIM implementation does by default, as settings
// of this library (README, "Matching other libraries"; docs/API.md, "Conventions"). The one table
// of them; lib/parse/options.ts applies it, explicit options override any entry.

import { optionError } from './errors';

/** The presets of the option `convention`. */
export type Convention = 'default' | 'skimage' | 'skimage-gaussian' | 'matlab' | 'torchmetrics' | 'pytorch-msssim' | 'fused-ssim';

/** The window's weights: normalised Gaussian (`sigma`) or uniform (1 / windowSize per tap). */
export type WindowKind = 'gaussian' | 'uniform';

/** `'population'`: moments are window averages; `'sample'`: variances and covariance times N / (N - 1), N = windowSize^2. */
export type Covariance = 'population' | 'sample';

/**
 * The data range L of float data: a number, `'required'` (the caller must give `dataRange`:
 * scikit-image raises without it) or `'data'` (max(max x - min x, max y - min y) over the whole
 * call, as torchmetrics with data_range=None). Integer data use their dtype's range (255, 65535)
 * in every preset but `'data'`.
 */
export type FloatDataRange = number | 'required' | 'data';

/** One preset: everything that differs between implementations. */
export interface ConventionSettings {
  readonly window: WindowKind;
  readonly windowSize: 7 | 9 | 11;
  readonly sigma: number;
  readonly covariance: Covariance;
  readonly padding: 'same' | 'valid' | 'reflect';
  readonly dataRange: FloatDataRange;
  /** 1 (none), a factor, or `'auto'`: MATLAB ssim.m's f = max(1, round(min(H, W) / 256)). */
  readonly downsample: number | 'auto';
  /** RGB -> one channel with MATLAB rgb2gray's weights (images of 1 or 3 channels). */
  readonly grayscale: boolean;
}

const BASE: ConventionSettings = Object.freeze({
  window: 'gaussian', windowSize: 11, sigma: 1.5, covariance: 'population', padding: 'same', dataRange: 1, downsample: 1, grayscale: false,
});

/**
 * The presets. 'valid' reproduces both a filter without padding (MATLAB filter2 'valid',
 * pytorch-msssim's conv) and a padded filter whose map is then cropped by the radius (scikit-image
 * crops (win - 1) // 2 of its reflect-padded map): the padding never reaches the pixels kept.
 */
export const CONVENTIONS: Readonly<Record<Convention, ConventionSettings>> = Object.freeze({
  // this library's defaults (FastCUDASSIM.jl-like)
  default: BASE,
  // skimage.metrics.structural_similarity(x, y, data_range=...): 7x7 uniform, N / (N - 1), crop 3
  skimage: Object.freeze({ ...BASE, window: 'uniform', windowSize: 7, covariance: 'sample', padding: 'valid', dataRange: 'required' }),
  // ... gaussian_weights=True, sigma=1.5, use_sample_covariance=False (truncate 3.5: window 11), crop 5
  'skimage-gaussian': Object.freeze({ ...BASE, padding: 'valid', dataRange: 'required' }),
  // Wang's ssim_index.m (filter2 'valid', L = 255) with ssim.m's automatic downsampling, rgb2gray
  matlab: Object.freeze({ ...BASE, padding: 'valid', dataRange: 255, downsample: 'auto', grayscale: true }),
  // torchmetrics.functional.structural_similarity_index_measure defaults (data_range=None); its
  // map is that of the reflect-padded image, not cropped (torchmetrics 1.x crops only its
  // contrast-sensitivity term)
  torchmetrics: Object.freeze({ ...BASE, padding: 'reflect', dataRange: 'data' }),
  // pytorch_msssim.ssim defaults (data_range=255); also tf.image.ssim(max_val=255)
  'pytorch-msssim': Object.freeze({ ...BASE, padding: 'valid', dataRange: 255 }),
  // fused_ssim (padding "same", C1 = 0.01^2, C2 = 0.03^2: data in [0, 1])
  'fused-ssim': BASE,
});

/** The preset names, in the table's order. */
export const CONVENTION_NAMES = Object.freeze(Object.keys(CONVENTIONS) as Convention[]);

/** opts.convention (`name`: how to name it in an error): the preset's settings (default: 'default'). */
export function parseConvention(value: unknown, name = 'opts.convention'): { convention: Convention; settings: ConventionSettings } {
  if (value === undefined) return { convention: 'default', settings: BASE };
  if (typeof value !== 'string' || !Object.hasOwn(CONVENTIONS, value)) {
    throw optionError(`one of ${CONVENTION_NAMES.map((n) => `'${n}'`).join(', ')}`, name, value, typeof value !== 'string');
  }
  return { convention: value as Convention, settings: CONVENTIONS[value as Convention] };
}

/** MATLAB ssim.m's automatic factor: max(1, round(min(height, width) / 256)) (round: half away from zero). */
export function autoDownsample(width: number, height: number): number {
  return Math.max(1, Math.round(Math.min(width, height) / 256));
}

/** The downsampling factor of `setting` for an image of width x height. */
export function downsampleFactor(setting: number | 'auto', width: number, height: number): number {
  return setting === 'auto' ? autoDownsample(width, height) : setting;
}
