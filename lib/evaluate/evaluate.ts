// evaluate(): the pipeline. List the pairs (shard, skip), decode them concurrently (bounded),
// group decoded pairs of the same size and type, and hand each idle lane the largest ready group
// as one batched SSIM call; results are yielded as batches complete, per-pair errors included.

import { constants as bufferConstants } from 'node:buffer';
import * as os from 'node:os';
import { nativeInfo } from '../backend';
import { expected, optionError } from '../errors';
import { parseBackend } from '../parse/backend';
import { parseMetricOptions } from '../parse/options';
import { Channel } from './channel';
import { decodeFile, DecodeError, DEFAULT_MAX_FILE_SIZE, widen, type DecodedImage } from './decode';
import { LocalLane, WorkerLane, type Batch, type Lane, type MetricOptions } from './lanes';
import { checkShard, explicitPairs, folderPairs, requireFolder, selectPairs } from './pairs';
import { nonFinite, summarize } from './summary';
import type { ColorMode, Evaluation, EvaluateOptions, FolderSpec, PairInfo, PairResult, PairSpec, ShardSpec, Summary } from './types';

/**
 * Most elements (width * height * channels * pairs) in one batched call. Batching saves a launch
 * and a round trip per pair, which matters for small images only; stacking large images into one
 * buffer costs more than it saves (on the H200 machine, stacking 16 1080p RGB pairs took 9 ms per
 * pair against 2 ms per pair for the SSIM call itself: bench/NOTES.md), so an image of 4 Mi
 * elements or more goes alone, without a copy.
 */
const MAX_BATCH_ELEMENTS = 1 << 22;

/** The largest Buffer (the most maxFileSize can be). */
const MAX_LENGTH = bufferConstants.MAX_LENGTH;

/** The decoded array itself when it owns its whole buffer (it can be handed over), else a copy. */
function whole(a: Uint8Array | Uint16Array): Uint8Array | Uint16Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

interface Settings {
  metric: MetricOptions;
  color: ColorMode;
  devices: 'all' | number[] | undefined;
  shard: ShardSpec | undefined;
  skip: Set<string> | undefined;
  concurrency: number;
  batchSize: number;
  maps: boolean;
  maxFileSize: number;
  signal: AbortSignal | undefined;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw optionError('positive integer', name, value, true);
  if (!Number.isInteger(value) || value < 1) throw optionError('positive integer', name, value, false);
  return value;
}

/** The option maxFileSize: a positive integer of bytes, at most what one Buffer can hold. */
function maxFileSize(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_FILE_SIZE;
  if (typeof value !== 'number') throw optionError(`integer in [1, ${MAX_LENGTH}]`, 'options.maxFileSize', value, true);
  if (!Number.isInteger(value) || value < 1 || value > MAX_LENGTH) throw optionError(`integer in [1, ${MAX_LENGTH}]`, 'options.maxFileSize', value, false);
  return value;
}

function settings(o: EvaluateOptions): Settings {
  if (typeof o !== 'object' || o === null) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'an options object', 'options', o);
  const metric: MetricOptions = {
    windowSize: o.windowSize,
    sigma: o.sigma,
    k1: o.k1,
    k2: o.k2,
    padding: o.padding,
    backend: o.backend,
    device: o.device,
  };
  parseMetricOptions(metric); // checked exactly as ssim() checks them
  metric.backend = parseBackend(metric, null).backend; // resolved once: 'auto' and CUDA_SSIM_BACKEND read here
  const color = o.color ?? 'rgb';
  if (color !== 'rgb' && color !== 'luma') throw optionError("one of 'rgb', 'luma'", 'options.color', color, typeof color !== 'string');
  const devices = o.devices;
  if (devices !== undefined && devices !== 'all' &&
      !(Array.isArray(devices) && devices.length > 0 && devices.every((d) => Number.isInteger(d) && d >= 0))) {
    throw optionError("'all' or a non-empty array of device indices", 'options.devices', devices, !Array.isArray(devices) && typeof devices !== 'string');
  }
  if (o.maps !== undefined && typeof o.maps !== 'boolean') throw optionError('boolean', 'options.maps', o.maps, true);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw optionError('an AbortSignal', 'options.signal', o.signal, true);
  let skip: Set<string> | undefined;
  if (o.skip !== undefined) {
    if (typeof o.skip !== 'object' || o.skip === null || !(Symbol.iterator in o.skip)) throw optionError('an iterable of pair ids', 'options.skip', o.skip, true);
    skip = new Set(o.skip);
  }
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    metric,
    color,
    devices,
    shard: checkShard(o.shard, 'options.shard'),
    skip,
    concurrency: positiveInt(o.concurrency, 'options.concurrency', Math.max(4, 2 * cpus)),
    batchSize: positiveInt(o.batchSize, 'options.batchSize', 16),
    maps: o.maps === true,
    maxFileSize: maxFileSize(o.maxFileSize),
    signal: o.signal,
  };
}

/** The lanes of a run: one per device with `devices` (CUDA), else one in-process lane. */
function makeLanes(s: Settings): Lane[] {
  const { metric, maps, devices } = s;
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

interface Ready {
  info: PairInfo;
  ref: DecodedImage;
  test: DecodedImage;
}

function errorResult(info: PairInfo, error: NonNullable<PairResult['error']>): PairResult {
  return { id: info.id, reference: info.reference, test: info.test, status: 'error', ssim: null, dssim: null, width: null, height: null, error };
}

class Run implements Evaluation {
  readonly #settings: Settings;
  readonly #listing: () => Promise<PairInfo[]>;
  #pairs: Promise<PairInfo[]> | null = null;
  #channel: Channel<PairResult> | null = null;
  #collected: PairResult[] = [];
  #done: Promise<Summary> | null = null;
  #resolveDone!: (s: Summary) => void;
  #rejectDone!: (e: unknown) => void;
  #iterated = false;
  #stopped = false;

  constructor(s: Settings, listing: () => Promise<PairInfo[]>) {
    this.#settings = s;
    this.#listing = listing;
  }

  pairs(): Promise<PairInfo[]> {
    if (this.#pairs === null) {
      this.#pairs = this.#listing().then((all) => selectPairs(all, this.#settings.shard, this.#settings.skip));
    }
    return this.#pairs;
  }

  #start(): Channel<PairResult> {
    if (this.#channel === null) {
      this.#channel = new Channel<PairResult>(() => {
        this.#stopped = true;
      });
      this.#done = new Promise<Summary>((resolve, reject) => {
        this.#resolveDone = resolve;
        this.#rejectDone = reject;
      });
      this.#done.catch(() => {});
      void this.#pipeline(this.#channel);
    }
    return this.#channel;
  }

  [Symbol.asyncIterator](): AsyncIterator<PairResult> {
    if (this.#iterated) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'one iteration of an evaluation', 'evaluate()', 'a second one');
    this.#iterated = true;
    return this.#start();
  }

  async summary(): Promise<Summary> {
    if (!this.#iterated) {
      this.#iterated = true;
      const channel = this.#start();
      for (;;) {
        const r = await channel.next();
        if (r.done) break;
      }
    } else {
      this.#start();
    }
    return this.#done as Promise<Summary>;
  }

  async #pipeline(out: Channel<PairResult>): Promise<void> {
    const s = this.#settings;
    let lanes: Lane[] = [];
    let interrupted = false;
    const emit = (r: PairResult): void => {
      const { map: _map, ...slim } = r;
      this.#collected.push(slim);
      out.push(r);
    };
    try {
      const pairs = await this.pairs();
      lanes = makeLanes(s);
      await new Promise<void>((resolve) => {
        const idle = [...lanes];
        const groups = new Map<string, Ready[]>();
        let queued = 0;
        let decoding = 0;
        let computing = 0;
        let next = 0;
        const maxQueued = Math.max(s.batchSize * lanes.length * 2, s.concurrency);
        const stopped = (): boolean => this.#stopped || (s.signal?.aborted ?? false);

        const finishIfDone = (): void => {
          if (decoding === 0 && computing === 0 && (queued === 0 || stopped()) && (next >= pairs.length || stopped())) {
            // an abort at any point of the run marks it interrupted: pairs being decoded when it
            // came are dropped, so "every pair started" does not mean "every pair done"
            interrupted = stopped();
            resolve();
          }
        };

        const dispatch = (): void => {
          while (idle.length && queued > 0 && !stopped()) {
            let key = '';
            let best: Ready[] = [];
            for (const [k, g] of groups) if (g.length > best.length) [key, best] = [k, g];
            const first = best[0];
            const perPair = first.ref.width * first.ref.height * first.ref.channels;
            const take = Math.max(1, Math.min(best.length, s.batchSize, Math.floor(MAX_BATCH_ELEMENTS / perPair)));
            const items = best.splice(0, take);
            if (best.length === 0) groups.delete(key);
            queued -= items.length;
            const lane = idle.shift() as Lane;
            computing++;
            void compute(lane, items).finally(() => {
              computing--;
              idle.push(lane);
              pump();
            });
          }
        };

        const compute = async (lane: Lane, items: Ready[]): Promise<void> => {
          const { width, height, channels } = items[0].ref;
          const per = width * height * channels;
          const sixteen = items[0].ref.data instanceof Uint16Array;
          let x: Uint8Array | Uint16Array;
          let y: Uint8Array | Uint16Array;
          if (items.length === 1) {
            x = whole(items[0].test.data);
            y = whole(items[0].ref.data);
          } else {
            x = sixteen ? new Uint16Array(per * items.length) : new Uint8Array(per * items.length);
            y = sixteen ? new Uint16Array(per * items.length) : new Uint8Array(per * items.length);
            items.forEach((it, i) => {
              x.set(it.test.data, i * per);
              y.set(it.ref.data, i * per);
            });
          }
          const batch: Batch = { width, height, channels, count: items.length, x, y };
          try {
            const { values, maps } = await lane.run(batch);
            const r = s.metric.padding === 'valid' ? ((s.metric.windowSize ?? 11) - 1) / 2 : 0;
            const mw = width - 2 * r;
            const mh = height - 2 * r;
            items.forEach((it, i) => {
              const v = values[i];
              if (typeof v !== 'number' || !Number.isFinite(v)) {
                // never trust the kernel: a value that is not a finite number is no SSIM
                emit(errorResult(it.info, nonFinite(it.info.test, it.info.reference, v)));
                return;
              }
              const res: PairResult = {
                id: it.info.id, reference: it.info.reference, test: it.info.test, status: 'ok',
                ssim: v, dssim: 1 - v, width, height,
              };
              if (maps) res.map = { data: maps.slice(i * mw * mh, (i + 1) * mw * mh), width: mw, height: mh };
              emit(res);
            });
          } catch (err) {
            const e = err as { message?: string; code?: string };
            for (const it of items) {
              emit(errorResult(it.info, { code: 'compute', file: it.info.test, reason: `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}` }));
            }
          }
        };

        const decode = async (info: PairInfo): Promise<void> => {
          let ref: DecodedImage;
          let test: DecodedImage;
          try {
            [ref, test] = await Promise.all([decodeFile(info.reference as string, s.color, s.maxFileSize), decodeFile(info.test as string, s.color, s.maxFileSize)]);
          } catch (err) {
            emit(errorResult(info, err instanceof DecodeError ? err.pairError : { code: 'decode', file: info.test, reason: String(err) }));
            return;
          }
          if (ref.width !== test.width || ref.height !== test.height) {
            emit(errorResult(info, {
              code: 'size-mismatch', file: info.test,
              reason: `${info.test} is ${test.width}x${test.height}, but its reference ${info.reference} is ${ref.width}x${ref.height}`,
            }));
            return;
          }
          if (stopped()) return;
          if (ref.data instanceof Uint16Array && test.data instanceof Uint8Array) test = { ...test, data: widen(test.data) };
          if (test.data instanceof Uint16Array && ref.data instanceof Uint8Array) ref = { ...ref, data: widen(ref.data) };
          const key = `${ref.width}x${ref.height}x${ref.channels}:${ref.data instanceof Uint16Array ? 16 : 8}`;
          const g = groups.get(key);
          if (g) g.push({ info, ref, test });
          else groups.set(key, [{ info, ref, test }]);
          queued++;
        };

        const pump = (): void => {
          while (!stopped() && next < pairs.length && decoding < s.concurrency && queued + decoding < maxQueued) {
            const info = pairs[next++];
            if (info.error) {
              emit(errorResult(info, info.error));
              continue;
            }
            decoding++;
            void decode(info).finally(() => {
              decoding--;
              pump();
            });
          }
          dispatch();
          finishIfDone();
        };
        s.signal?.addEventListener('abort', () => pump(), { once: true });
        pump();
      });
      out.end();
      this.#resolveDone(summarize(this.#collected, interrupted));
    } catch (err) {
      out.fail(err);
      this.#rejectDone(err);
    } finally {
      await Promise.all(lanes.map((l) => l.close()));
    }
  }
}

function isFolderSpec(v: unknown): v is FolderSpec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) &&
    typeof (v as FolderSpec).reference === 'string' && typeof (v as FolderSpec).test === 'string';
}

/**
 * Evaluates pairs of image files: `pairs` is an array of `{ reference, test, id? }` (or
 * `[reference, test]`), or `{ reference: dir, test: dir }` to match two folders by relative path
 * (extension-insensitive). Returns an async iterable of results, as they complete, and `summary()`.
 * Options are checked at once (errors with codes as the core API's); a missing folder too.
 */
export function evaluate(pairs: readonly (PairSpec | readonly [string, string])[] | FolderSpec, options: EvaluateOptions = {}): Evaluation {
  const s = settings(options);
  if (Array.isArray(pairs)) {
    const list = explicitPairs(pairs);
    return new Run(s, async () => list);
  }
  if (isFolderSpec(pairs)) {
    requireFolder(pairs.reference, 'reference');
    requireFolder(pairs.test, 'test');
    return new Run(s, () => folderPairs(pairs));
  }
  throw expected('ERR_SSIM_INVALID_ARGUMENT', 'an array of pairs or { reference: folder, test: folder }', 'pairs', pairs);
}
