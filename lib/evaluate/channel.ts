// A single-consumer async queue: the pipeline pushes results, the iterator pulls them.

export class Channel<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  #ended = false;
  #error: unknown = undefined;
  #failed = false;

  constructor(private readonly onReturn: () => void = () => {}) {}

  push(item: T): void {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w.resolve({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting && this.#items.length === 0) {
      const w = this.#waiting;
      this.#waiting = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    this.#failed = true;
    this.#error = err;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w.reject(err);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length) return Promise.resolve({ value: this.#items.shift() as T, done: false });
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.onReturn();
    this.#items = [];
    this.#ended = true;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
