/**
 * A one-line progress bar on stderr (stdout carries the result JSON only).
 * On a terminal it redraws in place; elsewhere (CI logs, pipes) it prints a
 * line per phase every 25% so logs stay short.
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #width = 30;
  #phase = '';
  #phaseStarted = 0;
  #lastDraw = 0;
  #lastQuarter = -1;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
  }

  update(phase: string, done: number, total: number): void {
    const now = performance.now();
    if (phase !== this.#phase) {
      if (this.#phase && this.#stream.isTTY) this.#stream.write('\n');
      this.#phase = phase;
      this.#phaseStarted = now;
      this.#lastQuarter = -1;
    }
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const elapsed = (now - this.#phaseStarted) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    const filled = Math.round(fraction * this.#width);
    const line = `${phase.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(this.#width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${done}/${total} ${rate.toFixed(1)}/s ETA ${eta.toFixed(0)}s`;
    if (this.#stream.isTTY) {
      if (now - this.#lastDraw < 80 && done < total) return;
      this.#lastDraw = now;
      this.#stream.write(`\r${line}\x1b[K`);
    } else {
      const quarter = Math.floor(fraction * 4);
      if (quarter === this.#lastQuarter) return;
      this.#lastQuarter = quarter;
      this.#stream.write(`${line}\n`);
    }
  }

  end(): void {
    if (this.#phase && this.#stream.isTTY) this.#stream.write('\n');
    this.#phase = '';
  }
}
