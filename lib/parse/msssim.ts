// The MS-SSIM options (weights), the size check of MS-SSIM calls and their workspace (the
// multi-scale functions: docs/API.md, "MS-SSIM").

import { optionError, ssimError } from '../errors';
import { getNative } from '../native';
import type { DType, Layout, SsimOptions } from '../types';
import { arrayCheck, typedArrayLength, typedArrayTag, type Unchecked } from '../util';
import { workspaceBufferOf } from '../workspace';
import { parseGradientDtype } from './gradient-dtype';
import { usableWorkspace, type WorkspaceParams } from './workspace';
import type { Placement } from './backend';
import type { MetricParams } from './options';
import { MAX_SCALES } from './scales';

/** Wang, Simoncelli & Bovik 2003 (and pytorch-msssim): 5 scales. */
const DEFAULT_MSSSIM_WEIGHTS: readonly number[] = Object.freeze([0.0448, 0.2856, 0.3001, 0.2363, 0.1333]);

/** opts.weights: an array (or typed array) of 1 to 16 finite numbers > 0, one per scale, finest first. */
export function parseWeights(value: unknown): readonly number[] {
  if (value === undefined) return DEFAULT_MSSSIM_WEIGHTS;
  // intrinsic checks: a revoked Proxy or a typed array's own `length` cannot throw or lie here
  const tag = typedArrayTag.call(value);
  if (tag === undefined && arrayCheck(value) !== true) throw optionError(`array of 1 to ${MAX_SCALES} numbers > 0`, 'opts.weights', value, true);
  const list = value as ArrayLike<unknown>;
  const n = tag === undefined ? list.length : typedArrayLength.call(value);
  if (n < 1 || n > MAX_SCALES) throw optionError(`array of 1 to ${MAX_SCALES} numbers > 0`, 'opts.weights', value, false);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = list[i];
    if (typeof w !== 'number') throw optionError('finite number > 0', `opts.weights[${i}]`, w, true);
    // float32: the weights reach the kernels as float32
    if (!(w > 0 && Math.fround(w) > 0 && Math.fround(w) < Infinity)) throw optionError('finite number > 0', `opts.weights[${i}]`, w, false);
    out.push(w);
  }
  return out;
}

/**
 * The MS-SSIM-only options of an MS-SSIM call on x of `dtype` (`m`: its metric options), in the call's
 * order: opts.weights, opts.gradientDtype (float32 only), then padding (no 'reflect'). One place
 * for the calls (resolveCall) and for cuda-ssim/tfjs's msssimLoss, which checks them when made.
 */
export function parseMsssimOptions(o: Unchecked<SsimOptions>, m: MetricParams, dtype: DType): { weights: readonly number[]; gradDtype: DType } {
  const weights = parseWeights(o.weights);
  const gradDtype = parseGradientDtype(o.gradientDtype, dtype);
  // MS-SSIM gradients are float32: its native composition has no half-precision store
  if (gradDtype !== 'float32') throw optionError("'float32' (MS-SSIM gradients are float32)", 'opts.gradientDtype', o.gradientDtype, false);
  // MS-SSIM pads every scale itself: a reflect-padded copy of x would only pad the finest
  if (m.reflect) throw optionError("'same' or 'valid' (MS-SSIM pads every scale; 'reflect' is for SSIM)", 'opts.padding', 'reflect', false);
  return { weights, gradDtype };
}

/** The smallest side of an image with `scales` scales and padding 'valid': (windowSize - 1) * 2^(scales - 1) + 1. */
function msssimMinSide(windowSize: number, scales: number): number {
  return (windowSize - 1) * 2 ** (scales - 1) + 1;
}

/**
 * MS-SSIM runs on batch * channels planes (at most 2^31 - 1: ERR_SSIM_SHAPE); with padding 'valid', the
 * coarsest scale must hold a window: ERR_SSIM_TOO_SMALL naming what lifts the limit.
 */
export function checkScalesFit(width: number, height: number, metric: MetricParams, scales: number, name: string,
  planes = 1): void {
  if (planes > 0x7fffffff) {
    throw ssimError('ERR_SSIM_SHAPE', `Expected at most ${0x7fffffff} planes (batch * channels) in ${name} for MS-SSIM but received ${planes}`);
  }
  if (!metric.valid) return;
  const side = msssimMinSide(metric.windowSize, scales);
  if (width < side || height < side) {
    throw ssimError('ERR_SSIM_TOO_SMALL', `Expected at least ${side} x ${side} pixels for ${name} (MS-SSIM with ${scales} scales, ` +
      `windowSize ${metric.windowSize} and padding 'valid': (windowSize - 1) * 2^(scales - 1) + 1) but received ${width} x ${height}; ` +
      `fewer scales (a shorter opts.weights), a smaller opts.windowSize or padding 'same' (any size) lift the limit`);
  }
}

// MS-SSIM sizes its workspace by bytes, not images and elements: those stay 0 in the job
const NO_WORKSPACE: WorkspaceParams = Object.freeze({ workspace: null, images: 0, elements: 0 });

interface CallShape {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly layout: Layout;
}

/**
 * opts.workspace of an MS-SSIM call: a live Workspace of the call's backend and device whose
 * device memory holds what this call needs (Workspace.for(shape, { msssim: true }) sizes it).
 */
export function parseMsssimWorkspace(ws: unknown, at: Placement, shape: CallShape, scales: number,
  gradientFor: string | null): WorkspaceParams {
  const w = usableWorkspace(ws, at, gradientFor);
  if (w === undefined || at.backend !== 'cuda') return NO_WORKSPACE;
  const need = getNative().msssimWorkspaceBytes(shape.batch, shape.channels, shape.height, shape.width, shape.layout, scales, gradientFor !== null);
  if (w.byteLength < need) {
    throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace of at least ${need} bytes for opts.workspace (MS-SSIM of ${shape.batch} x ${shape.channels} x ` +
      `${shape.height} x ${shape.width} ${shape.layout}, ${scales} scales) but received one of ${w.byteLength} bytes: make it with ` +
      `Workspace.for({ width, height, channels, batch, layout }, { msssim: ${scales === 5 ? 'true' : scales} })`);
  }
  return { workspace: workspaceBufferOf(w), images: 0, elements: 0 };
}
