// A one-line progress bar with rate and ETA, for terminals only (stderr is a TTY).

export class Progress {
  #done = 0;
  #last = 0;
  readonly #start = Date.now();
  constructor(private readonly total: number, private readonly stream: NodeJS.WriteStream) {}

  tick(): void {
    this.#done++;
    const now = Date.now();
    if (now - this.#last >= 100 || this.#done === this.total) {
      this.#last = now;
      this.render(now);
    }
  }

  render(now = Date.now()): void {
    const width = 30;
    const f = this.total ? this.#done / this.total : 1;
    const filled = Math.round(f * width);
    const secs = (now - this.#start) / 1000;
    const rate = secs > 0 ? this.#done / secs : 0;
    const eta = rate > 0 ? (this.total - this.#done) / rate : NaN;
    const etaText = Number.isFinite(eta) ? `${Math.floor(eta / 60)}m${String(Math.round(eta % 60)).padStart(2, '0')}s` : '--';
    this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.total} ${rate.toFixed(1)} pairs/s ETA ${etaText}\x1b[K`);
  }

  end(): void {
    this.stream.write('\n');
  }
}
