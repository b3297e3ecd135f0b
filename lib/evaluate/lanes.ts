// Where batches are computed: a lane is one computation at a time. The in-process lane uses the
// promise API (the addon's libuv worker); with `devices`, one worker thread per GPU computes
// with the synchronous API (a dedicated thread per device, leaving libuv's pool to the decoder).

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { nativeInfo } from '../backend';
import { asyncFunction } from '../compute';
import { optionError } from '../errors';
import { ssimMapAsync } from '../map';
import type { AsyncValueFunction, BatchedImage, HostImage, SsimOptions } from '../types';

/** Same-size images stacked: x = test images, y = reference images, hwc. */
export interface Batch {
  width: number;
  height: number;
  channels: number;
  count: number;
  x: Uint8Array | Uint16Array;
  y: Uint8Array | Uint16Array;
}

export interface BatchOutput {
  values: Float32Array;
  /** count maps one after the other, or null. */
  maps: Float32Array | null;
}

export interface Lane {
  readonly name: string;
  run(batch: Batch): Promise<BatchOutput>;
  close(): Promise<void>;
}

/** The metric options passed to every call. */
export type MetricOptions = Pick<SsimOptions, 'convention' | 'window' | 'windowSize' | 'sigma' | 'covariance' | 'k1' | 'k2' | 'padding' | 'downsample' | 'backend' | 'device'> & {
  /** 'ssim' (default) or 'msssim': which function computes the values (maps are SSIM maps either way). */
  metric?: 'ssim' | 'msssim';
};

const ssimAsync = asyncFunction<AsyncValueFunction>('ssim');
const msssimAsync = asyncFunction<AsyncValueFunction>('msssim');

/** The options of the value calls (without `metric`). */
export function callOptions(opts: MetricOptions): SsimOptions {
  const { metric: _metric, ...rest } = opts;
  return rest;
}

function images(b: Batch): [BatchedImage & HostImage, BatchedImage & HostImage] {
  const shape = { width: b.width, height: b.height, channels: b.channels, batch: b.count };
  return [{ ...shape, data: b.x }, { ...shape, data: b.y }];
}

/** Computes in this thread's addon, off the JavaScript thread. */
export class LocalLane implements Lane {
  readonly name: string;
  constructor(private readonly opts: MetricOptions, private readonly maps: boolean) {
    this.name = `${opts.backend ?? 'auto'}:${opts.device ?? 0}`;
  }
  async run(batch: Batch): Promise<BatchOutput> {
    const [x, y] = images(batch);
    const call = callOptions(this.opts);
    const values = await (this.opts.metric === 'msssim' ? msssimAsync : ssimAsync)(x, y, call);
    const maps = this.maps ? await ssimMapAsync(x, y, call) : null;
    return { values, maps };
  }
  async close(): Promise<void> {}
}

interface Reply {
  id: number;
  values?: Float32Array;
  maps?: Float32Array | null;
  error?: { message: string; code?: string };
}

/** Computes in a worker thread (lib/evaluate/worker.ts) with its own copy of the addon. */
export class WorkerLane implements Lane {
  readonly name: string;
  #worker: Worker;
  #next = 0;
  #pending = new Map<number, { resolve: (o: BatchOutput) => void; reject: (e: Error) => void }>();
  #failure: Error | null = null;

  constructor(opts: MetricOptions, maps: boolean) {
    this.name = `worker ${opts.backend ?? 'auto'}:${opts.device ?? 0}`;
    this.#worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: { opts, maps } });
    this.#worker.on('message', (m: Reply) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve({ values: m.values as Float32Array, maps: m.maps ?? null });
    });
    const fail = (err: Error): void => {
      this.#failure = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => {
      if (this.#pending.size) fail(new Error(`the worker of ${this.name} exited (code ${code})`));
    });
  }

  run(batch: Batch): Promise<BatchOutput> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise<BatchOutput>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, batch }, [batch.x.buffer as ArrayBuffer, batch.y.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** The lanes of a run: one per device with `devices` (CUDA), else one in-process lane. */
export function makeLanes(metric: MetricOptions, maps: boolean, devices: 'all' | number[] | undefined): Lane[] {
  if (devices === undefined) return [new LocalLane(metric, maps)];
  if (metric.backend === 'cpu') {
    // The CPU path already uses every core; an explicit list gives one CPU worker per entry (tests).
    if (devices === 'all') return [new LocalLane(metric, maps)];
    return devices.map(() => new WorkerLane({ ...metric, device: undefined }, maps));
  }
  const indices = devices === 'all' ? nativeInfo().devices.map((d) => d.index) : devices;
  const known = new Set(nativeInfo().devices.map((d) => d.index));
  for (const d of indices) if (!known.has(d)) throw optionError(`device indices among ${[...known].join(', ') || '(none)'}`, 'options.devices', devices, false);
  return indices.map((device) => new WorkerLane({ ...metric, device }, maps));
}
