// The scheduler of a run: prepares items (decodes pairs) a bounded number at a time, keeps a
// bounded number of prepared items waiting in a queue (the batcher), and gives every idle lane
// the queue's next batch. It knows nothing of images or SSIM: preparing and computing are the
// caller's functions, so it can be driven (and tested) with any of them.

/** Where prepared items wait until a lane takes them (batcher.ts's Batcher). */
export interface Queue<R> {
  /** Items waiting. */
  readonly size: number;
  add(item: R): void;
  /** The next batch (at least one item while size > 0). */
  take(): R[];
}

/** What a scheduler runs. `prepare` and `compute` must not reject: they report their own failures. */
export interface Work<P, R, L> {
  /** The items, prepared in this order. */
  items: readonly P[];
  /** Where batches are computed, one at a time each. */
  lanes: readonly L[];
  queue: Queue<R>;
  /** Most items being prepared at once. */
  concurrency: number;
  /** Most items prepared (waiting) or being prepared at once: no item starts beyond that. */
  maxQueued: number;
  /** True once nothing more may start (an abort): waiting items are dropped. */
  stopped(): boolean;
  /**
   * Prepares an item: resolves to what to queue, or undefined for nothing (the item's result is
   * out already). Returns undefined when there is nothing to wait for: then it takes no slot.
   */
  prepare(item: P): Promise<R | undefined> | undefined;
  /** Computes one batch on a lane. */
  compute(lane: L, batch: R[]): Promise<void>;
}

/** Runs a Work: `run()` resolves once everything started has finished. */
export class Scheduler<P, R, L> {
  readonly #work: Work<P, R, L>;
  readonly #idle: L[];
  #next = 0;
  #preparing = 0;
  #computing = 0;
  #interrupted = false;
  #finish: (() => void) | null = null;

  constructor(work: Work<P, R, L>) {
    this.#work = work;
    this.#idle = [...work.lanes];
  }

  /** Starts the run; resolves once nothing is being prepared or computed and nothing is left to start. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.#finish = resolve;
    });
    this.wake();
    return done;
  }

  /**
   * The run was stopped (as of the last time it was found done): items being prepared then were
   * dropped, so "every item started" does not mean "every item done".
   */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  /** Starts what can start now and ends the run if nothing is left (call it when `stopped()` turns true). */
  wake(): void {
    const w = this.#work;
    while (!w.stopped() && this.#next < w.items.length && this.#preparing < w.concurrency && w.queue.size + this.#preparing < w.maxQueued) {
      const prepared = w.prepare(w.items[this.#next++]);
      if (prepared === undefined) continue;
      this.#preparing++;
      void prepared
        .then((item) => {
          if (item !== undefined) w.queue.add(item);
        })
        .finally(() => {
          this.#preparing--;
          this.wake();
        });
    }
    this.#dispatch();
    this.#finishIfDone();
  }

  #dispatch(): void {
    const w = this.#work;
    while (this.#idle.length && w.queue.size > 0 && !w.stopped()) {
      const batch = w.queue.take();
      const lane = this.#idle.shift() as L;
      this.#computing++;
      void w.compute(lane, batch).finally(() => {
        this.#computing--;
        this.#idle.push(lane);
        this.wake();
      });
    }
  }

  #finishIfDone(): void {
    const w = this.#work;
    if (this.#preparing === 0 && this.#computing === 0 && (w.queue.size === 0 || w.stopped()) && (this.#next >= w.items.length || w.stopped())) {
      this.#interrupted = w.stopped();
      this.#finish?.();
    }
  }
}
