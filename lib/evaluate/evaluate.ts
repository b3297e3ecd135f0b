// evaluate(): a run over pairs of image files. The run lists the pairs (shard, skip); the
// scheduler (scheduler.ts) decodes them a bounded number at a time and gives each idle lane the
// batcher's (batcher.ts) next batch of same-size pairs as one SSIM call; results are yielded as
// batches complete, per-pair errors included.

import { expected } from '../errors';
import { Batcher, stack, unstack, type ReadyPair } from './batcher';
import { Channel } from './channel';
import { decodeFile, DecodeError } from './decode';
import { makeLanes, type Lane, type MetricOptions } from './lanes';
import { explicitPairs, folderPairs, requireFolder, selectPairs } from './pairs';
import { Scheduler } from './scheduler';
import { settings, type Settings } from './settings';
import { errorResult, summarize } from './summary';
import type { EvaluateOptions, Evaluation, FolderSpec, PairInfo, PairResult, PairSpec, Summary } from './types';

/**
 * Decodes a pair: both images, of equal sizes, or undefined after emitting the pair's error result
 * (also undefined, with nothing emitted, when the run was stopped meanwhile: the pair is dropped).
 */
async function decodePair(info: PairInfo, s: Settings, emit: (r: PairResult) => void, stopped: () => boolean): Promise<ReadyPair | undefined> {
  let ref;
  let test;
  try {
    [ref, test] = await Promise.all([decodeFile(info.reference as string, s.color, s.maxFileSize), decodeFile(info.test as string, s.color, s.maxFileSize)]);
  } catch (err) {
    emit(errorResult(info, err instanceof DecodeError ? err.pairError : { code: 'decode', file: info.test, reason: String(err) }));
    return undefined;
  }
  if (ref.width !== test.width || ref.height !== test.height) {
    emit(errorResult(info, {
      code: 'size-mismatch', file: info.test,
      reason: `${info.test} is ${test.width}x${test.height}, but its reference ${info.reference} is ${ref.width}x${ref.height}`,
    }));
    return undefined;
  }
  if (stopped()) return undefined;
  return { info, ref, test };
}

/** Computes one batch on a lane and emits a result per pair (a `compute` error for each if the call failed). */
async function computeBatch(lane: Lane, items: ReadyPair[], metric: MetricOptions, emit: (r: PairResult) => void): Promise<void> {
  try {
    // stacking copies the batch's images into one buffer: its failure (out of memory) is the
    // batch's, reported per pair like a failed call, never a rejection of the whole run
    const output = await lane.run(stack(items));
    for (const r of unstack(items, output, metric)) emit(r);
  } catch (err) {
    const e = err as { message?: string; code?: string };
    for (const it of items) {
      emit(errorResult(it.info, { code: 'compute', file: it.info.test, reason: `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}` }));
    }
  }
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
    const metric = s.metric.metric ?? 'ssim';
    const emit = (res: PairResult): void => {
      // the metric right after the status (JSON key order)
      const { id, reference, test, status, ...rest } = res;
      const r: PairResult = { id, reference, test, status, metric, ...rest };
      const { map: _map, ...slim } = r;
      this.#collected.push(slim);
      out.push(r);
    };
    try {
      const pairs = await this.pairs();
      lanes = makeLanes(s.metric, s.maps, s.devices);
      const stopped = (): boolean => this.#stopped || (s.signal?.aborted ?? false);
      const scheduler = new Scheduler({
        items: pairs,
        lanes,
        queue: new Batcher(s.batchSize),
        concurrency: s.concurrency,
        maxQueued: Math.max(s.batchSize * lanes.length * 2, s.concurrency),
        stopped,
        prepare: (info: PairInfo) => {
          if (!info.error) return decodePair(info, s, emit, stopped);
          emit(errorResult(info, info.error)); // a listing error: nothing to decode
          return undefined;
        },
        compute: (lane: Lane, items: ReadyPair[]) => computeBatch(lane, items, s.metric, emit),
      });
      s.signal?.addEventListener('abort', () => scheduler.wake(), { once: true });
      await scheduler.run();
      out.end();
      this.#resolveDone(summarize(this.#collected, scheduler.interrupted));
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
