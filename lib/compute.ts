// The one core behind the 24 functions (12 SSIM, 12 MS-SSIM) and their promise versions: a table of what each
// computes, validation into a job (validate.ts), output allocation, the native call, the result.

import { allocDeviceArray, deviceBufferOf, type DeviceArray } from './device-array';
import { isHalfDType } from './half';
import { requireFinite } from './finite';
import { runJob, runJobAsync, type NativeJob } from './native';
import { preprocessTranspose } from './preprocess';
import { isBatched, resolveCall, type CallSpec, type ResolvedJob } from './validate';

function spec(name: string, dssim: boolean, value: boolean, gradient: boolean, into: boolean, multiScale = false): CallSpec {
  return Object.freeze({ name, dssim, value, gradient, into, multiScale });
}

/** The 24 functions (12 SSIM, 12 MS-SSIM): name -> what it computes and whether it takes its outputs. */
export const specs = {
  ssim: spec('ssim', false, true, false, false),
  dssim: spec('dssim', true, true, false, false),
  ssimGradient: spec('ssimGradient', false, false, true, false),
  dssimGradient: spec('dssimGradient', true, false, true, false),
  ssimWithGradient: spec('ssimWithGradient', false, true, true, false),
  dssimWithGradient: spec('dssimWithGradient', true, true, true, false),
  ssimInto: spec('ssimInto', false, true, false, true),
  dssimInto: spec('dssimInto', true, true, false, true),
  ssimGradientInto: spec('ssimGradientInto', false, false, true, true),
  dssimGradientInto: spec('dssimGradientInto', true, false, true, true),
  ssimWithGradientInto: spec('ssimWithGradientInto', false, true, true, true),
  dssimWithGradientInto: spec('dssimWithGradientInto', true, true, true, true),
  // MS-SSIM (docs/API.md, "MS-SSIM"): msdssim = 1 - MS-SSIM, as dssim = 1 - SSIM.
  msssim: spec('msssim', false, true, false, false, true),
  msdssim: spec('msdssim', true, true, false, false, true),
  msssimGradient: spec('msssimGradient', false, false, true, false, true),
  msdssimGradient: spec('msdssimGradient', true, false, true, false, true),
  msssimWithGradient: spec('msssimWithGradient', false, true, true, false, true),
  msdssimWithGradient: spec('msdssimWithGradient', true, true, true, false, true),
  msssimInto: spec('msssimInto', false, true, false, true, true),
  msdssimInto: spec('msdssimInto', true, true, false, true, true),
  msssimGradientInto: spec('msssimGradientInto', false, false, true, true, true),
  msdssimGradientInto: spec('msdssimGradientInto', true, false, true, true, true),
  msssimWithGradientInto: spec('msssimWithGradientInto', false, true, true, true, true),
  msdssimWithGradientInto: spec('msdssimWithGradientInto', true, true, true, true, true),
} as const;

export type FunctionName = keyof typeof specs;

/** Outputs an allocating call made (and gives back on success). */
interface Allocated {
  out: Float32Array | null;
  grad: Float32Array | Uint16Array | DeviceArray | null;
}

/** A host gradient of `n` elements of the job's gradDtype (half bits: a Uint16Array, or a Float16Array for Float16Array data). */
function hostGradient(job: NativeJob, n: number): { view: Float32Array | Uint16Array; result: Float32Array | Uint16Array } {
  if (!isHalfDType(job.gradDtype)) {
    const a = new Float32Array(n);
    return { view: a, result: a };
  }
  const Float16 = (globalThis as { Float16Array?: new (n: number) => Uint16Array }).Float16Array;
  if (job.float16Array && Float16 !== undefined) {
    const f = new Float16(n);
    return { view: new Uint16Array(f.buffer, 0, n), result: f };
  }
  const bits = new Uint16Array(n);
  return { view: bits, result: bits };
}

/** Allocates the outputs of an allocating call and puts them into the job. */
function allocate(s: CallSpec, job: NativeJob): Allocated {
  let out: Float32Array | null = null;
  let grad: Float32Array | Uint16Array | DeviceArray | null = null;
  if (s.value) job.out = out = new Float32Array(job.batch); // values always come back to the host
  if (s.gradient) {
    const n = job.batch * job.channels * job.height * job.width;
    if (ArrayBuffer.isView(job.x)) {
      const host = hostGradient(job, n);
      job.grad = host.view;
      grad = host.result;
    } else {
      const array = allocDeviceArray(job.gradDtype, n, job.device); // device x: the gradient stays on the device
      job.grad = deviceBufferOf(array);
      grad = array;
    }
  }
  return { out, grad };
}

/**
 * ERR_SSIM_NONFINITE (lib/finite.ts) for a call's host outputs: its values, else its gradient; a
 * half-precision gradient always (its rounding may overflow where the value did not).
 */
function checkFinite(job: NativeJob): void {
  const grad = job.out === null || isHalfDType(job.gradDtype) ? job.grad : null;
  requireFinite(job.x, job.y, job.dtype, ['value', job.out], ['gradient', grad, job.gradDtype]);
}

/**
 * A preprocessed job (options downsample, grayscale): the gradient with respect to x, from the
 * job's gradient with respect to the preprocessed x, written into the caller's output or a new
 * array (returned); else job.grad itself.
 */
function mappedGradient(job: ResolvedJob): unknown {
  const p = job.preprocessed;
  if (p === undefined || job.grad === null) return job.grad;
  const { shape } = p;
  const dst = p.target ?? new Float32Array(shape.batch * shape.channels * shape.height * shape.width);
  preprocessTranspose(job.grad as Float32Array, shape, p.pre, dst);
  return dst;
}

function release(allocated: Allocated): void {
  if (allocated.grad !== null && !ArrayBuffer.isView(allocated.grad)) allocated.grad.dispose();
}

function allocatedResult(s: CallSpec, allocated: Allocated, batched: boolean): unknown {
  const value = s.value ? (batched ? allocated.out : allocated.out![0]) : undefined;
  if (!s.gradient) return value;
  return s.value ? { value, gradient: allocated.grad } : allocated.grad;
}

function intoResult(s: CallSpec, out: unknown, grad: unknown): unknown {
  if (!s.gradient) return out;
  return s.value ? { value: out, gradient: grad } : grad;
}

/**
 * The steps after the native run of `job`, shared by the sync and promise runners: outputs checked
 * finite (an allocating call's device gradient released if not), the gradient mapped back through
 * the preprocessing, then the call's result. `allocated`: null for an `into` call.
 */
function finish(s: CallSpec, job: ResolvedJob, out: unknown, grad: unknown, allocated: Allocated | null, batched: boolean): unknown {
  try {
    checkFinite(job);
  } catch (err) {
    if (allocated !== null) release(allocated);
    throw err;
  }
  const mapped = mappedGradient(job); // an into call's: written into the caller's gradient
  if (allocated === null) return intoResult(s, out, grad);
  if (job.preprocessed !== undefined && allocated.grad !== null) allocated.grad = mapped as Float32Array;
  return allocatedResult(s, allocated, batched);
}

function runSync(s: CallSpec, out: unknown, grad: unknown, x: unknown, y: unknown, opts: unknown): unknown {
  const job = resolveCall(s, x, y, opts, out, grad);
  const batched = !s.into && isBatched(x, y);
  const allocated = s.into ? null : allocate(s, job);
  try {
    runJob(s.multiScale === true ? 'computeMsssim' : 'compute', job);
  } catch (err) {
    if (allocated !== null) release(allocated);
    throw err;
  }
  return finish(s, job, out, grad, allocated, batched);
}

// An async function: validation errors reject the promise instead of throwing.
async function runAsync(s: CallSpec, out: unknown, grad: unknown, x: unknown, y: unknown, opts: unknown): Promise<unknown> {
  const job = resolveCall(s, x, y, opts, out, grad);
  const batched = !s.into && isBatched(x, y); // read before awaiting: the caller may change x meanwhile
  const allocated = s.into ? null : allocate(s, job);
  try {
    await runJobAsync(s.multiScale === true ? 'computeMsssimAsync' : 'computeAsync', job);
  } catch (err) {
    if (allocated !== null) release(allocated);
    throw err;
  }
  return finish(s, job, out, grad, allocated, batched);
}

type Runner = (s: CallSpec, out: unknown, grad: unknown, x: unknown, y: unknown, opts: unknown) => unknown;

/** A public function for `s` with its own parameter list, named after it. */
function define(s: CallSpec, run: Runner): (...args: never[]) => unknown {
  let fn: (...args: never[]) => unknown;
  if (!s.into) fn = (x: unknown, y: unknown, opts?: unknown) => run(s, undefined, undefined, x, y, opts);
  else if (s.value && s.gradient) fn = (out: unknown, grad: unknown, x: unknown, y: unknown, opts?: unknown) => run(s, out, grad, x, y, opts);
  else if (s.value) fn = (out: unknown, x: unknown, y: unknown, opts?: unknown) => run(s, out, undefined, x, y, opts);
  else fn = (grad: unknown, x: unknown, y: unknown, opts?: unknown) => run(s, undefined, grad, x, y, opts);
  Object.defineProperty(fn, 'name', { value: s.name });
  return fn;
}

/** The synchronous function `name` (api.ts gives it its public type). */
export function syncFunction<F>(name: FunctionName): F {
  return define(specs[name], runSync) as F;
}

/** The promise-returning function `name` (promises.ts gives it its public type). */
export function asyncFunction<F>(name: FunctionName): F {
  return define(specs[name], runAsync) as F;
}
