// Turns the arguments of one of the 24 functions (SSIM, MS-SSIM) into a checked NativeJob. Everything the addon
// would reject (and more) is caught here with an error that names the argument.
//
// resolveCall composes the parsers of lib/parse, each of one argument or concern, in this order:
// opts (an object), x, y (matched against x), the metric options, opts.gradientDtype, the window against x's size,
// backend and device, the workspace, the stream, the outputs. The order is part of the contract: the first
// bad argument is the one reported.
//
// The success path stays lean: besides the job, a few small records (x's data and shape, the
// metric parameters, the placement, the outputs), no native call but the computation, no
// backendInfo() (cached), no environment read.

import { optionError, ssimError } from './errors';
import type { DType, HalfDType } from './basic-types';
import { downsampleFactor } from './conventions';
import { decodeHalf, isHalfDType } from './half';
import type { NativeDeviceBuffer, NativeJob, NativeMapJob } from './native';
import { parseBackend } from './parse/backend';
import { parseGradientDtype } from './parse/gradient-dtype';
import { parseImage, parseMatchingImage } from './parse/image';
import { checkReflectFits, checkWindowFits, mapSize, parseMetricOptions, parseOptionsObject, withDataRange, type MetricParams } from './parse/options';
import { preprocess, preprocessedShape, type PlainShape, type Preprocessing } from './preprocess';
import { checkDisjoint, parseOutput, parseOutputs, type CallOutputs } from './parse/outputs';
import { parseStream } from './parse/stream';
import { parseWorkspace } from './parse/workspace';
import { checkScalesFit, parseMsssimOptions, parseMsssimWorkspace } from './parse/msssim';

/** What one of the 24 functions computes. */
export interface CallSpec {
  /** The function's name: ssim, dssimGradientInto, ... */
  readonly name: string;
  /** value = 1 - SSIM (or (1 - SSIM) / 2 with divideByTwo). */
  readonly dssim: boolean;
  /** Computes values (out). */
  readonly value: boolean;
  /** Computes the gradient (grad). */
  readonly gradient: boolean;
  /** Outputs are given by the caller. */
  readonly into: boolean;
  /** MS-SSIM (the msssim / msdssim functions): opts.weights, the addon's computeMsssim. */
  readonly multiScale?: boolean;
}

const NO_OUTPUTS: CallOutputs = Object.freeze({ out: null, grad: null });

/**
 * A job whose x and y are preprocessed copies (options downsample, grayscale: lib/preprocess.ts):
 * its gradient (job.grad, of the copies' shape) must be mapped back to x's shape (into `target`,
 * the caller's output, or a new array) by preprocessTranspose.
 */
interface PreprocessedJob {
  readonly shape: PlainShape;
  readonly pre: Preprocessing;
  readonly target: Float32Array | null;
}

/** A resolved call: the native job and, when x and y were preprocessed, how to map the gradient back. */
export type ResolvedJob = NativeJob & { preprocessed?: PreprocessedJob };

/** max - min of a host array (NaN ignored; 0 for no finite element). */
function spread(a: ArrayLike<number>): number {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi >= lo ? hi - lo : 0;
}

/** True when a value call returns a Float32Array rather than a number: `batch` given on x or y. */
export function isBatched(x: unknown, y: unknown): boolean {
  return (x as { batch?: unknown }).batch !== undefined || (y as { batch?: unknown }).batch !== undefined;
}

/**
 * Validates a call of `spec` and resolves it into a job. `out` / `grad` are checked when the spec
 * takes them (`into`); otherwise the job's outputs are left null for the caller to allocate.
 */
export function resolveCall(spec: CallSpec, x: unknown, y: unknown, opts: unknown, out: unknown, grad: unknown): ResolvedJob {
  const o = parseOptionsObject(opts);
  const xi = parseImage(x, 'x');
  const yData = parseMatchingImage(y, 'y', xi);
  let m = parseMetricOptions(o, xi.dtype);
  let weights: readonly number[] | null = null;
  let gradDtype: DType;
  if (spec.multiScale === true) ({ weights, gradDtype } = parseMsssimOptions(o, m, xi.dtype));
  else gradDtype = parseGradientDtype(o.gradientDtype, xi.dtype);
  if (m.grayscale && xi.channels !== 1 && xi.channels !== 3) {
    throw optionError(`false for x of ${xi.channels} channels (grayscale takes 1 or 3)`, 'opts.grayscale', true, false);
  }
  const factor = downsampleFactor(m.downsample, xi.width, xi.height);
  const where = factor === 1 ? 'x' : `x after downsampling by ${factor}`;
  checkReflectFits(Math.ceil(xi.width / factor), Math.ceil(xi.height / factor), m, where);
  // P is the identity (no shape or preprocessing record needed): no downsampling, reflect padding or RGB -> gray
  const gray = m.grayscale && xi.channels === 3;
  const reflect = m.reflect ? (m.windowSize - 1) / 2 : 0;
  const identity = factor === 1 && reflect === 0 && !gray;
  if (!ArrayBuffer.isView(xi.data) && (!identity || m.dataRangeFromData)) throw deviceInputsError(m, factor, reflect, gray);
  if (!identity && gradDtype !== 'float32') {
    throw optionError("'float32' (the gradient through downsample, grayscale or reflect padding is float32)", 'opts.gradientDtype', o.gradientDtype, false);
  }
  // half-precision bits decoded once per array, for the data range and the preprocessing alike
  const half = isHalfDType(xi.dtype) && (m.dataRangeFromData || !identity);
  // read only for host data (device inputs that need values threw above)
  let xValues = xi.data as unknown as ArrayLike<number>, yValues = yData as unknown as ArrayLike<number>;
  if (half) {
    xValues = decodeHalf(xi.data as ArrayBufferView, xi.dtype as HalfDType);
    yValues = decodeHalf(yData as ArrayBufferView, xi.dtype as HalfDType);
  }
  if (m.dataRangeFromData) m = withDataRange(m, xi.dtype, Math.max(spread(xValues), spread(yValues)));
  let xData = xi.data, yIn = yData, dtype = xi.dtype;
  let batch = xi.batch, channels = xi.channels, height = xi.height, width = xi.width;
  let shape: PlainShape | null = null, pre: Preprocessing | null = null;
  if (!identity) {
    shape = { batch, channels, height, width, chw: xi.layout === 'chw' };
    pre = { grayscale: m.grayscale, factor, reflect };
    ({ batch, channels, height, width } = preprocessedShape(shape, pre));
    xData = preprocess(xValues, shape, pre);
    yIn = preprocess(yValues, shape, pre);
    dtype = 'float64';
  }
  if (weights === null) checkWindowFits(width, height, m, where);
  else checkScalesFit(width, height, m, weights.length, where, batch * channels);
  const at = parseBackend(o, xi.array);
  const length = batch * channels * height * width;
  const layout = identity ? xi.layout : 'hwc';
  const gradientFor = spec.gradient ? spec.name : null;
  const ws = weights === null
    ? parseWorkspace(o.workspace, at, xi.batch, length, gradientFor)
    : parseMsssimWorkspace(o.workspace, at, { batch, channels, height, width, layout }, weights.length, gradientFor);
  const stream = parseStream(o.stream, at);
  const outputs = spec.into ? parseOutputs(out, grad, spec, xi, yData, at.device, gradDtype) : NO_OUTPUTS;
  const scale = spec.dssim ? (m.divideByTwo ? -0.5 : -1) : 1;
  const job: ResolvedJob = {
    backend: at.backend,
    device: at.device,
    x: xData,
    y: yIn,
    dtype,
    batch,
    channels,
    height,
    width,
    layout,
    windowSize: m.windowSize,
    window: m.window,
    sigma: m.sigma,
    c1: m.c1,
    c2: m.c2,
    inputScale: m.inputScale,
    gradFactor: m.gradFactor,
    valid: m.valid,
    valueOffset: spec.dssim ? -scale : 0,
    valueScale: scale,
    out: outputs.out,
    grad: outputs.grad,
    gradDtype,
    float16Array: xi.float16Array,
    workspace: ws.workspace,
    workspaceImages: ws.images,
    workspaceElements: ws.elements,
    stream,
  };
  if (weights !== null) job.weights = [...weights];
  if (shape !== null && pre !== null) {
    const target = outputs.grad as Float32Array | null;
    if (target !== null) job.grad = new Float32Array(length);
    job.preprocessed = { shape, pre, target };
  }
  return job;
}

/**
 * ERR_SSIM_OPTION for device inputs of a call that needs host data: the preprocessing steps that
 * are on (`reflect` pixels of padding, downsampling by `factor`, grayscale of 3 channels: `gray`) and/or the
 * data range from the data, each with what lifts it.
 */
function deviceInputsError(m: MetricParams, factor: number, reflect: number, gray: boolean): Error {
  const steps: string[] = [], fixes: string[] = [];
  if (reflect !== 0) {
    steps.push("padding 'reflect'");
    fixes.push("padding 'same' or 'valid'");
  }
  if (factor !== 1) {
    steps.push(`downsample (factor ${factor})`);
    fixes.push('downsample: 1');
  }
  if (gray) {
    steps.push('grayscale');
    fixes.push('grayscale: false');
  }
  if (m.dataRangeFromData) {
    steps.push('the data range from the data');
    fixes.push('opts.dataRange');
  }
  return ssimError('ERR_SSIM_OPTION', `Expected host inputs for ${listOf(steps)} (convention '${m.convention}'), but x.data is device memory: ` +
    `give ${listOf(fixes)}, or host data`, 'range');
}

/** 'a', 'a and b', 'a, b and c'. */
function listOf(items: readonly string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** ssimMap / ssimMapInto: computes neither values nor gradients, only the map. */
const MAP_SPEC: CallSpec = Object.freeze({ name: 'ssimMap', dssim: false, value: false, gradient: false, into: false });

/** The map of a job: `width` x `height` pixels per image, `length` in all (see mapSize). */
export function mapShape(job: NativeJob): { width: number; height: number; length: number } {
  const { width, height } = mapSize(job, { windowSize: job.windowSize, padding: job.valid ? 'valid' : 'same' });
  return { width, height, length: job.batch * width * height };
}

/**
 * Validates a call of ssimMap (`into` false: the caller allocates the map) or ssimMapInto (`map`
 * checked: a Float32Array, or a float32 DeviceArray for device inputs, of batch * map pixels).
 */
export function resolveMapCall(x: unknown, y: unknown, opts: unknown, map: unknown, into: boolean): NativeMapJob {
  const job = resolveCall(MAP_SPEC, x, y, opts, undefined, undefined) as NativeMapJob;
  job.workspace = null; // the map path keeps no workspace
  job.map = null;
  if (into) {
    const shape = mapShape(job);
    const out = parseOutput(map, 'map', shape.length, `batch * ${shape.height} * ${shape.width} map pixels`, !ArrayBuffer.isView(job.x), job.device);
    checkDisjoint(out, 'map', job.x, 'x.data');
    checkDisjoint(out, 'map', job.y, 'y.data');
    job.map = out as Float32Array | NativeDeviceBuffer; // float32: parseOutput's default dtype
  }
  return job;
}
