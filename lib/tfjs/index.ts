// `require('cuda-ssim/tfjs')`: SSIM as a TensorFlow.js metric and DSSIM as a loss whose gradient
// comes from cuda-ssim's kernels (tf.customGrad), for NHWC image tensors on any tfjs backend.

import type { Tensor, Rank } from '@tensorflow/tfjs-core';
import { syncFunction } from '../compute';
import { expected, ssimError } from '../errors';
import { parseMsssimOptions } from '../parse/msssim';
import { parseMetricOptions, parseOptionsObject } from '../parse/options';
import type { SsimOptions, ValueFunction, WithGradientFunction } from '../types';
import { tensorflow } from './load';

const ssimValues = syncFunction<ValueFunction>('ssim');
const dssimWithGradient = syncFunction<WithGradientFunction>('dssimWithGradient');
const msdssimWithGradient = syncFunction<WithGradientFunction>('msdssimWithGradient');

/** Options of the tfjs functions: every {@link SsimOptions} option (dataRange: the range of the tensors' values, default 1). */
export type TfSsimOptions = SsimOptions;

/** A loss with the Keras signature `(yTrue, yPred) => scalar`, as `model.compile({ loss })` takes it. */
export type TfLoss = (yTrue: Tensor, yPred: Tensor) => Tensor<Rank.R0>;

/** {@link dssimLoss} and `dssimLoss.with(options)`. */
export interface DssimLoss extends TfLoss {
  /** The loss with these options (checked now), e.g. `model.compile({ loss: dssimLoss.with({ windowSize: 7 }) })`. */
  with(options: TfSsimOptions): TfLoss;
}

interface Images {
  batch: number;
  height: number;
  width: number;
  channels: number;
  /** Rank 4: [batch, height, width, channels]; rank 3: [height, width, channels]. */
  batched: boolean;
}

function isTensor(value: unknown): value is Tensor {
  const t = value as { shape?: unknown; dtype?: unknown; dataSync?: unknown } | null;
  return typeof t === 'object' && t !== null && Array.isArray(t.shape) && typeof t.dtype === 'string' && typeof t.dataSync === 'function';
}

/** yTrue and yPred: float32 tensors of one shape, [batch, height, width, channels] or [height, width, channels]. */
function imagesOf(yTrue: unknown, yPred: unknown): Images {
  for (const [t, name] of [[yTrue, 'yTrue'], [yPred, 'yPred']] as const) {
    if (!isTensor(t)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a tf.Tensor', name, t);
    if (t.rank !== 3 && t.rank !== 4) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected a tensor of rank 4 [batch, height, width, channels] or 3 [height, width, channels] for ${name} but received shape [${t.shape.join(', ')}]`);
    }
    if (t.dtype !== 'float32') {
      throw ssimError('ERR_SSIM_DTYPE', `Expected a float32 tensor for ${name} but received a ${t.dtype} one (tf.cast(${name}, 'float32'))`, 'type');
    }
  }
  const a = (yTrue as Tensor).shape;
  const b = (yPred as Tensor).shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw ssimError('ERR_SSIM_SHAPE', `Expected yPred of the shape of yTrue [${a.join(', ')}] but received [${b.join(', ')}]`);
  }
  const batched = a.length === 4;
  const [batch, height, width, channels] = batched ? a : [1, ...a];
  if (batch === 0) throw ssimError('ERR_SSIM_SHAPE', `Expected at least one image in yTrue but received shape [${a.join(', ')}]`);
  return { batch, height, width, channels, batched };
}

/** A tensor's data as an image batch of cuda-ssim (NHWC is its 'hwc' layout). */
function image(t: Tensor, s: Images): { data: Float32Array; width: number; height: number; channels: number; batch: number } {
  return { data: t.dataSync() as Float32Array, width: s.width, height: s.height, channels: s.channels, batch: s.batch };
}

/** Checks an options object now (as the calls would): the object itself and the metric options. */
function checkSsimOptions(options: unknown): void {
  parseMetricOptions(parseOptionsObject(options));
}

/** checkSsimOptions, then the MS-SSIM-only options (weights, padding, gradientDtype) of float32 tensors. */
function checkMsssimOptions(options: unknown): void {
  const o = parseOptionsObject(options);
  parseMsssimOptions(o, parseMetricOptions(o), 'float32');
}

/**
 * SSIM of each image of `yPred` against `yTrue` (NHWC float32 tensors, values in [0, dataRange]):
 * a 1-D tensor of `batch` values for rank-4 tensors, a scalar for rank 3. A metric: it has no
 * gradient (use {@link dssimLoss}).
 */
export function ssim(yTrue: Tensor, yPred: Tensor, options?: TfSsimOptions): Tensor {
  const s = imagesOf(yTrue, yPred);
  const values = ssimValues(image(yPred, s), image(yTrue, s), options) as Float32Array;
  const tf = tensorflow();
  return s.batched ? tf.tensor1d(values, 'float32') : tf.scalar(values[0], 'float32');
}

/** A cuda-ssim function giving each image's loss value and d(loss of each image)/dx on host data. */
type LossWithGradient = (x: HostImages, y: HostImages, options?: TfSsimOptions) => { value: unknown; gradient: unknown };
type HostImages = ReturnType<typeof image>;

/**
 * The Keras-style loss `name` (the batch mean of `compute`'s per-image values) with `options`:
 * a tf.customGrad whose gradient with respect to yPred is `compute`'s gradient (x = yPred,
 * y = yTrue) over the batch, and zero for yTrue. Any per-image loss with a gradient w.r.t. x
 * (DSSIM here; MS-SSIM's the same way) becomes a tfjs loss through this.
 */
function makeLoss(compute: LossWithGradient, name: string, options: TfSsimOptions | undefined): TfLoss {
  const loss = (yTrue: Tensor, yPred: Tensor): Tensor<Rank.R0> => {
    const tf = tensorflow();
    const s = imagesOf(yTrue, yPred);
    const shape = yPred.shape;
    const f = tf.customGrad((...inputs) => {
      const t = inputs[0] as Tensor;
      const p = inputs[1] as Tensor;
      // Our gradient is with respect to x, the first image: yPred.
      const r = compute(image(p, s), image(t, s), options);
      const values = r.value as Float32Array;
      const gradient = r.gradient as Float32Array;
      let sum = 0;
      for (let i = 0; i < s.batch; i++) sum += values[i];
      const inv = 1 / s.batch;
      for (let i = 0; i < gradient.length; i++) gradient[i] *= inv; // d(mean)/d(yPred)
      return {
        value: tf.scalar(sum * inv, 'float32'),
        // Host memory in the closure, not a tensor: tensors made in the forward pass are disposed.
        gradFunc: (dy: Tensor) => [tf.zerosLike(t), tf.mul(dy, tf.tensor(gradient, shape, 'float32'))],
      };
    });
    return f(yTrue, yPred) as Tensor<Rank.R0>;
  };
  Object.defineProperty(loss, 'name', { value: name });
  return loss;
}

/**
 * A loss with options as a third argument and a `.with(options)` factory (options checked by `check`
 * when the loss is made), over `compute`'s per-image values and gradient.
 */
function lossFamily(compute: LossWithGradient, name: string, check: (options: unknown) => void): [DssimLoss, (options?: TfSsimOptions) => TfLoss] {
  const make = (options?: TfSsimOptions): TfLoss => {
    if (options !== undefined) check(options);
    return makeLoss(compute, name, options);
  };
  const plain = makeLoss(compute, name, undefined);
  const loss = Object.assign(
    // third-argument options: the call itself checks them; no check or new loss per step
    (yTrue: Tensor, yPred: Tensor, options?: TfSsimOptions): Tensor<Rank.R0> =>
      (options === undefined ? plain : makeLoss(compute, name, options))(yTrue, yPred),
    { with: make },
  ) as DssimLoss;
  Object.defineProperty(loss, 'name', { value: name });
  return [loss, make];
}

const [dssimFamily, dssimFactory] = lossFamily(dssimWithGradient, 'dssimLoss', checkSsimOptions);
const [msssimFamily, msssimFactory] = lossFamily(msdssimWithGradient, 'msssimLoss', checkMsssimOptions);

/**
 * The mean DSSIM (1 - SSIM, or (1 - SSIM) / 2 with divideByTwo) over the batch of `yPred` against
 * `yTrue`, a scalar tensor, with the Keras loss signature: `model.compile({ loss: dssimLoss })`,
 * `tf.grad`, `optimizer.minimize` work. Its gradient with respect to yPred comes from cuda-ssim
 * (CUDA, or the CPU path); yTrue is a constant: its gradient is zero.
 */
export const dssimLoss: DssimLoss = dssimFamily;

/** The options factory behind `dssimLoss.with(options)`. */
export const makeDssimLoss: (options?: TfSsimOptions) => TfLoss = dssimFactory;

/**
 * The mean of 1 - MS-SSIM (5 scales by default; `weights` changes them) over the batch, as
 * {@link dssimLoss} is for SSIM: a scalar tensor whose gradient with respect to yPred comes from
 * cuda-ssim's MS-SSIM (`msdssimWithGradient`); yTrue's gradient is zero.
 */
export const msssimLoss: DssimLoss = msssimFamily;

/** The options factory behind `msssimLoss.with(options)`. */
export const makeMsssimLoss: (options?: TfSsimOptions) => TfLoss = msssimFactory;
