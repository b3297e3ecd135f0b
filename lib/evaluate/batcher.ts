// The size-group batcher: decoded pairs wait in groups of one size and sample type, and take()
// hands out the largest group's first pairs as one batch. stack() builds the batched call's
// arrays, unstack() turns its output back into one result per pair. No I/O, no timing: the
// scheduler (scheduler.ts) decides when a batch is taken.

import { widen, type DecodedImage } from './decode';
import { mapSize } from '../parse/options';
import type { Batch, BatchOutput, MetricOptions } from './lanes';
import { errorResult, nonFinite } from './summary';
import type { PairInfo, PairResult } from './types';

/**
 * Most elements (width * height * channels * pairs) in one batched call. Batching saves a launch
 * and a round trip per pair, which matters for small images only; stacking large images into one
 * buffer costs more than it saves (on the H200 machine, stacking 16 1080p RGB pairs took 9 ms per
 * pair against 2 ms per pair for the SSIM call itself: docs/PERFORMANCE.md), so an image of 4 Mi
 * elements or more goes alone, without a copy.
 */
export const MAX_BATCH_ELEMENTS = 1 << 22;

/** A pair decoded, of equal sizes: test is the x of the SSIM call, ref the y. */
export interface ReadyPair {
  info: PairInfo;
  ref: DecodedImage;
  test: DecodedImage;
}

/** Decoded pairs grouped by size and sample type, handed out as batches. */
export class Batcher {
  readonly #groups = new Map<string, ReadyPair[]>();
  #size = 0;

  /** `batchSize`: most pairs in one batch; `maxElements`: most elements of one batch (one pair at least). */
  constructor(
    private readonly batchSize: number,
    private readonly maxElements: number = MAX_BATCH_ELEMENTS,
  ) {}

  /** Pairs waiting. */
  get size(): number {
    return this.#size;
  }

  /** Adds a pair of equal sizes; an 8-bit image against a 16-bit one is widened to 16 bits. */
  add(pair: ReadyPair): void {
    let { ref, test } = pair;
    if (ref.data instanceof Uint16Array && test.data instanceof Uint8Array) test = { ...test, data: widen(test.data) };
    if (test.data instanceof Uint16Array && ref.data instanceof Uint8Array) ref = { ...ref, data: widen(ref.data) };
    const key = `${ref.width}x${ref.height}x${ref.channels}:${ref.data instanceof Uint16Array ? 16 : 8}`;
    const item = { info: pair.info, ref, test };
    const group = this.#groups.get(key);
    if (group) group.push(item);
    else this.#groups.set(key, [item]);
    this.#size++;
  }

  /**
   * The first pairs of the largest group (the first such group on a tie), as many as the batch
   * size and the element limit allow, at least one; empty when no pair waits.
   */
  take(): ReadyPair[] {
    let key = '';
    let best: ReadyPair[] = [];
    for (const [k, g] of this.#groups) if (g.length > best.length) [key, best] = [k, g];
    if (best.length === 0) return [];
    const first = best[0];
    const perPair = first.ref.width * first.ref.height * first.ref.channels;
    const take = Math.max(1, Math.min(best.length, this.batchSize, Math.floor(this.maxElements / perPair)));
    const items = best.splice(0, take);
    if (best.length === 0) this.#groups.delete(key);
    this.#size -= items.length;
    return items;
  }
}

/** The decoded array itself when it owns its whole buffer (it can be handed over), else a copy. */
function whole(a: Uint8Array | Uint16Array): Uint8Array | Uint16Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

/** The pairs of one batch (same size and type) as one call's x (tests) and y (references). */
export function stack(items: readonly ReadyPair[]): Batch {
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
  return { width, height, channels, count: items.length, x, y };
}

/**
 * One result per pair of a computed batch: `ok` with the pair's SSIM (and its map when the lane
 * computed maps, of the metric's map size), or a `non-finite` error for a value that is not a
 * finite number (the kernel is never trusted).
 */
export function unstack(items: readonly ReadyPair[], output: BatchOutput, metric: MetricOptions): PairResult[] {
  const { width, height } = items[0].ref;
  const { values, maps } = output;
  const { width: mw, height: mh } = mapSize({ width, height }, metric);
  return items.map((it, i) => {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return errorResult(it.info, nonFinite(it.info.test, it.info.reference, v));
    const res: PairResult = {
      id: it.info.id, reference: it.info.reference, test: it.info.test, status: 'ok',
      ssim: v, dssim: 1 - v, width, height, convention: metric.convention ?? 'default',
    };
    if (maps) res.map = { data: maps.slice(i * mw * mh, (i + 1) * mw * mh), width: mw, height: mh };
    return res;
  });
}
