// Turns the arguments of one of the 12 functions into a checked NativeJob. Everything the addon
// would reject (and more) is caught here with an error that names the argument.
//
// resolveCall composes the parsers of lib/parse, each of one argument or concern, in this order:
// opts (an object), x, y (matched against x), the metric options, the window against x's size,
// backend and device, the workspace, the stream, the outputs. The order is part of the contract: the first
// bad argument is the one reported.
//
// The success path stays lean: besides the job, a few small records (x's data and shape, the
// metric parameters, the placement, the outputs), no native call but the computation, no
// backendInfo() (cached), no environment read.

import type { NativeJob, NativeMapJob } from './native';
import { parseBackend } from './parse/backend';
import { parseImage, parseMatchingImage } from './parse/image';
import { checkWindowFits, mapSize, parseMetricOptions, parseOptionsObject } from './parse/options';
import { checkDisjoint, parseOutput, parseOutputs, type CallOutputs } from './parse/outputs';
import { parseStream } from './parse/stream';
import { parseWorkspace } from './parse/workspace';

/** What one of the 12 functions computes. */
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
}

const NO_OUTPUTS: CallOutputs = Object.freeze({ out: null, grad: null });

/** True when a value call returns a Float32Array rather than a number: `batch` given on x or y. */
export function isBatched(x: unknown, y: unknown): boolean {
  return (x as { batch?: unknown }).batch !== undefined || (y as { batch?: unknown }).batch !== undefined;
}

/**
 * Validates a call of `spec` and resolves it into a job. `out` / `grad` are checked when the spec
 * takes them (`into`); otherwise the job's outputs are left null for the caller to allocate.
 */
export function resolveCall(spec: CallSpec, x: unknown, y: unknown, opts: unknown, out: unknown, grad: unknown): NativeJob {
  const o = parseOptionsObject(opts);
  const xi = parseImage(x, 'x');
  const yData = parseMatchingImage(y, 'y', xi);
  const m = parseMetricOptions(o, xi.dtype);
  checkWindowFits(xi.width, xi.height, m, 'x');
  const at = parseBackend(o, xi.array);
  const ws = parseWorkspace(o.workspace, at, xi.batch, xi.length, spec.gradient ? spec.name : null);
  const stream = parseStream(o.stream, at);
  const outputs = spec.into ? parseOutputs(out, grad, spec, xi, yData, at.device) : NO_OUTPUTS;
  const scale = spec.dssim ? (m.divideByTwo ? -0.5 : -1) : 1;
  return {
    backend: at.backend,
    device: at.device,
    x: xi.data,
    y: yData,
    dtype: xi.dtype,
    batch: xi.batch,
    channels: xi.channels,
    height: xi.height,
    width: xi.width,
    layout: xi.layout,
    windowSize: m.windowSize,
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
    workspace: ws.workspace,
    workspaceImages: ws.images,
    workspaceElements: ws.elements,
    stream,
  };
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
    job.map = out;
  }
  return job;
}
