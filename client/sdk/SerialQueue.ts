/** Runs async tasks one at a time in submission order; a failing task does not stop the next. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  push<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => task());
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
