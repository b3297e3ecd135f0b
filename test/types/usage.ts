// Types as a TypeScript user sees them. Never run: test/types.test.js compiles this file strictly
// (strict, skipLibCheck: false, noEmit, node16 module resolution) against the built declarations,
// imported by the package's own names through its "exports" (a node_modules/cuda-ssim link).
// `exact<T>()(value)` fails to compile unless value's type is exactly T; each line after a
// `@ts-expect-error` is a wrong usage that must fail (an unused directive is an error itself).

import {
  DeviceArray,
  Workspace,
  backendInfo,
  deviceCounters,
  dssim,
  dssimGradient,
  dssimWithGradient,
  errorCodes,
  isSsimError,
  msdssimWithGradient,
  msssim,
  msssimGradientInto,
  ssim,
  ssimGradient,
  ssimGradientInto,
  ssimInto,
  ssimMap,
  ssimMapInto,
  ssimWithGradient,
  ssimWithGradientInto,
  synchronize,
  defaultStream,
  version,
  type BackendInfo,
  type GradientArray,
  type HostImage,
  type ImageBatch,
  type SsimError,
  type SsimOptions,
  type ValueAndGradient,
} from 'cuda-ssim';
import * as P from 'cuda-ssim/promises';
import {
  DEFAULT_MAX_FILE_SIZE,
  decodeFile,
  evaluate,
  heatmapPng,
  isEvaluated,
  merge,
  readImageFile,
  readJsonl,
  summarize,
  type DecodedImage,
  type EvaluateOptions,
  type MergedResults,
  type PairResult,
  type Summary,
} from 'cuda-ssim/evaluate';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
declare function exact<T>(): <V>(value: V, ...sameType: Equal<V, T> extends true ? [] : [`not exactly the expected type`]) => void;

type DeviceF32 = DeviceArray<'float32'>;

const a = { data: new Float32Array(48), width: 4, height: 4, channels: 3 };
const b = { data: new Float32Array(48), width: 4, height: 4, channels: 3 };
const batched = { ...a, batch: 1 };
const bytes = { data: new Uint8ClampedArray(64), width: 4, height: 4 }; // ImageData-like
const declared: ImageBatch = a; // batch?: number: either result is possible
const host: HostImage = a;
const dev = { data: DeviceArray.from(a.data), width: 4, height: 4, channels: 3 };
const devBatched = { ...dev, batch: 1 };
const opts: SsimOptions = { windowSize: 7, padding: 'valid', backend: 'cpu', workspace: Workspace.for({ width: 4, height: 4, channels: 3 }) };

// values: a number without batch, a Float32Array with batch on x or y
exact<number>()(ssim(a, b));
exact<number>()(ssim(a, b, opts));
exact<number>()(dssim(bytes, bytes, { divideByTwo: true }));
exact<number>()(ssim({ data: new Uint8Array(12), width: 2, height: 2 }, { data: new Uint8Array(12), width: 2, height: 2 }));
exact<Float32Array>()(ssim(batched, b));
exact<Float32Array>()(ssim(a, batched));
exact<Float32Array>()(dssim({ ...a, batch: 2 }, { ...b, batch: 2 }));
exact<number | Float32Array>()(ssim(declared, declared));
exact<number>()(ssim(dev, dev));

// gradients: x's memory
exact<Float32Array>()(ssimGradient(a, b));
exact<Float32Array>()(dssimGradient(host, declared));
exact<DeviceF32>()(ssimGradient(dev, dev));
exact<Float32Array | DeviceF32>()(ssimGradient(declared, declared));

// value and gradient
exact<ValueAndGradient<number, Float32Array>>()(ssimWithGradient(a, b));
exact<ValueAndGradient<Float32Array, Float32Array>>()(dssimWithGradient(batched, batched));
exact<ValueAndGradient<Float32Array, Float32Array>>()(ssimWithGradient(a, batched));
exact<ValueAndGradient<number, DeviceF32>>()(ssimWithGradient(dev, dev));
exact<ValueAndGradient<Float32Array, DeviceF32>>()(ssimWithGradient(devBatched, devBatched));
exact<ValueAndGradient<number | Float32Array, Float32Array>>()(ssimWithGradient(host, declared));
exact<ValueAndGradient<number | Float32Array, Float32Array | DeviceF32>>()(ssimWithGradient(declared, declared));
const { value, gradient } = ssimWithGradient(a, b);
exact<number>()(value * 2);
exact<number>()(gradient[0]);

// in place: the outputs given, of their own types (a new Float32Array is a Float32Array<ArrayBuffer>)
const out = new Float32Array(1);
const grad = DeviceArray.alloc('float32', 48);
exact<typeof out>()(ssimInto(out, a, b));
exact<DeviceF32>()(ssimGradientInto(grad, dev, dev));
exact<ValueAndGradient<typeof out, DeviceF32>>()(ssimWithGradientInto(out, grad, dev, dev));
exact<Float32Array>()(ssimMap(a, b));
exact<DeviceF32>()(ssimMap(dev, dev));
exact<typeof out>()(ssimMapInto(new Float32Array(16), a, b));

// half precision: Uint16Array bits with an image dtype; gradients in float32, or in the input's
// dtype with gradientDtype 'input' (then any gradient array: x's dtype decides at run time)
const h16 = { data: new Uint16Array(48), width: 4, height: 4, channels: 3, dtype: 'float16' as const };
const bf = DeviceArray.from(new Uint16Array(48), { dtype: 'bfloat16' });
exact<DeviceArray<'bfloat16'>>()(bf);
exact<Uint16Array>()(bf.toHost());
exact<DeviceArray<'float16'>>()(DeviceArray.alloc('float16', 48));
exact<number>()(ssim(h16, h16));
exact<Float32Array>()(ssimGradient(h16, h16));
exact<GradientArray>()(ssimGradient(h16, h16, { gradientDtype: 'input' }));
exact<ValueAndGradient<number | Float32Array, GradientArray>>()(ssimWithGradient(h16, h16, { gradientDtype: 'input', windowSize: 7 }));
exact<DeviceF32>()(ssimGradient({ ...dev, data: bf, dtype: 'bfloat16' }, { ...dev, data: bf }));
const bits = new Uint16Array(48);
exact<typeof bits>()(ssimGradientInto(bits, h16, h16, { gradientDtype: 'input' }));

// promises
async function promises(): Promise<void> {
  exact<GradientArray>()(await P.ssimGradient(h16, h16, { gradientDtype: 'input' }));
  exact<number>()(await P.ssim(a, b));
  exact<Float32Array>()(await P.dssim(batched, b));
  exact<Float32Array>()(await P.ssim(a, batched));
  exact<number | Float32Array>()(await P.ssim(declared, declared));
  exact<Float32Array>()(await P.ssimGradient(a, b));
  exact<DeviceF32>()(await P.dssimGradient(dev, dev));
  exact<ValueAndGradient<number, Float32Array>>()(await P.ssimWithGradient(a, b));
  exact<ValueAndGradient<Float32Array, DeviceF32>>()(await P.dssimWithGradient(devBatched, dev));
  exact<typeof out>()(await P.ssimInto(out, a, b));
  exact<ValueAndGradient<typeof out, typeof out>>()(await P.dssimWithGradientInto(out, new Float32Array(48), a, b));
  exact<Float32Array>()(await P.ssimMap(a, b));
  exact<DeviceF32>()(await P.ssimMapInto(DeviceArray.alloc('float32', 16), dev, dev));
  // @ts-expect-error a promise is no number
  const n: number = P.ssim(a, b);
  void n;
}
void promises;

// memory, introspection, errors
exact<DeviceArray<'uint8'>>()(DeviceArray.from(bytes.data));
exact<Float64Array>()(DeviceArray.from(new Float64Array(4)).toHost());
exact<Uint16Array>()(DeviceArray.alloc('uint16', 4, { device: 0 }).toHost());
exact<BackendInfo>()(backendInfo());
exact<string>()(backendInfo().cuda.devices[0].computeCapability);
exact<number>()(deviceCounters().peakBytesInUse);
exact<void>()(synchronize(0));
// other libraries' memory and streams
exact<DeviceArray<'float32'>>()(DeviceArray.fromPointer(0x7f0000000000n, 'float32', 48, { device: 0 }));
exact<bigint>()(DeviceArray.alloc('uint8', 4).pointer);
exact<bigint>()(defaultStream(0));
exact<number>()(ssim(a, a, { stream: defaultStream() }));
exact<string>()(version);
exact<'ERR_SSIM_SHAPE'>()(errorCodes.ERR_SSIM_SHAPE);
function onError(err: unknown): string {
  if (isSsimError(err, 'ERR_SSIM_SHAPE')) {
    exact<SsimError>()(err);
    return err.code;
  }
  return '';
}
void onError;
{
  using disposed = DeviceArray.alloc('float32', 4);
  exact<boolean>()(disposed.disposed);
}

// cuda-ssim/evaluate
async function evaluation(): Promise<void> {
  const options: EvaluateOptions = { color: 'luma', devices: 'all', shard: { index: 0, count: 2 }, signal: new AbortController().signal };
  const run = evaluate({ reference: 'refs/', test: 'renders/' }, options);
  for await (const r of run) {
    exact<PairResult>()(r);
    if (r.status === 'error' && r.error) exact<string>()(r.error.reason);
  }
  exact<Summary>()(await run.summary());
  exact<Summary>()(await evaluate([['a.png', 'b.png'], { reference: 'c.png', test: 'd.png', id: 'c' }]).summary());
  exact<MergedResults>()(merge(['shard-0.jsonl', readJsonl('shard-1.jsonl')]));
  exact<Summary>()(summarize(readJsonl('rows.jsonl')));
  exact<boolean>()(isEvaluated(readJsonl('rows.jsonl')[0]));
  exact<DecodedImage>()(await decodeFile('a.png', 'rgb', DEFAULT_MAX_FILE_SIZE));
  exact<Buffer>()(await readImageFile('a.png'));
  exact<Buffer>()(await heatmapPng({ data: new Float32Array(4), width: 2, height: 2 }));
  // @ts-expect-error color is 'rgb' or 'luma'
  evaluate([], { color: 'cmyk' });
}
void evaluation;

// wrong usages
// @ts-expect-error y is required
ssim(a);
// @ts-expect-error windowSize is 7, 9 or 11
ssim(a, b, { windowSize: 8 });
// @ts-expect-error padding is 'same' or 'valid'
ssim(a, b, { padding: 'full' });
// @ts-expect-error backend is 'auto', 'cuda' or 'cpu'
dssim(a, b, { backend: 'gpu' });
// MS-SSIM: the same shapes, the SSIM options plus weights
exact<number>()(msssim(a, b, { weights: [0.5, 0.5], padding: 'valid' }));
exact<Float32Array>()(msssim(batched, b, { weights: new Float64Array([1]) }));
exact<ValueAndGradient<number, Float32Array>>()(msdssimWithGradient(a, b, { divideByTwo: true }));
exact<Promise<number>>()(P.msssim(a, b));
const msWs = Workspace.for({ width: 2, height: 2, layout: 'chw' }, { msssim: true });
void msWs;
msssimGradientInto(new Float32Array(12), a, b, { weights: [1, 2, 3] });
// @ts-expect-error weights are numbers
msssim(a, b, { weights: ['0.5'] });
// @ts-expect-error Int16Array is no image data
ssim({ data: new Int16Array(16), width: 4, height: 4 }, b);
// @ts-expect-error dtype is a DType
ssim({ ...a, dtype: 'float8' }, b);
// @ts-expect-error gradientDtype is 'float32' or 'input'
ssimGradient(h16, h16, { gradientDtype: 'float16' });
// @ts-expect-error opts.dtype (half bits) is for a Uint16Array
DeviceArray.from(new Float32Array(4), { dtype: 'float16' });
// @ts-expect-error layout is 'hwc' or 'chw'
ssim({ ...a, layout: 'nhwc' }, b);
// @ts-expect-error without batch the value is a number
const notArray: Float32Array = ssim(a, b);
// @ts-expect-error with batch the values are a Float32Array
const notNumber: number = ssim(batched, b);
// @ts-expect-error a host gradient is no DeviceArray
const notDevice: DeviceF32 = ssimGradient(a, b);
// @ts-expect-error outputs are float32
ssimInto(new Float64Array(1), a, b);
// @ts-expect-error DeviceArray has no public constructor
new DeviceArray();
void [notArray, notNumber, notDevice];
