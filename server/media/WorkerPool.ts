/**
 * The mediasoup workers: one per core by default. New rooms go to the worker that
 * hosts the fewest. A worker that dies is logged and replaced; whoever placed rooms
 * on it hears `workerDied` and closes them.
 */
import type { types } from 'mediasoup';
import { TypedEmitter } from '../../shared/TypedEmitter';
import { Logger } from '../Logger';
import { loadMediasoup } from './loadMediasoup';

const logger = new Logger('WorkerPool');

export interface WorkerPoolOptions {
  numWorkers: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel: types.WorkerLogLevel;
}

export interface WorkerPoolEvents {
  [key: string]: unknown;
  /** A worker died; the rooms it hosted are gone with it. */
  workerDied: { worker: types.Worker; error: Error };
  /** A replacement started in the dead worker's slot. */
  workerReplaced: { slot: number; worker: types.Worker };
}

export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: (types.Worker | undefined)[];
  readonly #load = new Map<types.Worker, number>();
  #closed = false;
  #deaths = 0;

  private constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    this.#slots = new Array(options.numWorkers).fill(undefined);
  }

  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.numWorkers) || options.numWorkers < 1) {
      throw new TypeError('numWorkers must be a positive integer');
    }
    const pool = new WorkerPool(options);
    try {
      await Promise.all(pool.#slots.map((_, slot) => pool.#start(slot)));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get workers(): types.Worker[] {
    return this.#slots.filter((w): w is types.Worker => w !== undefined);
  }

  get deaths(): number {
    return this.#deaths;
  }

  /** The live worker hosting the fewest rooms; call `release` when the room closes. */
  acquire(): types.Worker {
    if (this.#closed) throw new Error('WorkerPool closed');
    let best: types.Worker | undefined;
    for (const worker of this.workers) {
      if (!best || (this.#load.get(worker) ?? 0) < (this.#load.get(best) ?? 0)) best = worker;
    }
    if (!best) throw new Error('no live mediasoup worker');
    this.#load.set(best, (this.#load.get(best) ?? 0) + 1);
    return best;
  }

  release(worker: types.Worker): void {
    const load = this.#load.get(worker);
    if (load !== undefined) this.#load.set(worker, Math.max(0, load - 1));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.workers) worker.close();
    this.#slots.fill(undefined);
    this.#load.clear();
    this.removeAllListeners();
  }

  async #start(slot: number): Promise<void> {
    const mediasoup = await loadMediasoup();
    const worker = await mediasoup.createWorker({
      logLevel: this.#options.logLevel,
      rtcMinPort: this.#options.rtcMinPort,
      rtcMaxPort: this.#options.rtcMaxPort,
      appData: { slot },
    });
    if (this.#closed) {
      worker.close();
      return;
    }
    this.#slots[slot] = worker;
    this.#load.set(worker, 0);
    worker.on('died', (error: Error) => this.#onDied(slot, worker, error));
    logger.debug('worker %d started (pid %d)', slot, worker.pid);
  }

  #onDied(slot: number, worker: types.Worker, error: Error): void {
    if (this.#closed) return;
    this.#deaths += 1;
    logger.error(`mediasoup worker ${slot} (pid ${worker.pid}) died: ${error.message}; replacing it`);
    this.#slots[slot] = undefined;
    this.#load.delete(worker);
    this.emit('workerDied', { worker, error });
    this.#start(slot).then(
      () => {
        const replacement = this.#slots[slot];
        if (replacement) this.emit('workerReplaced', { slot, worker: replacement });
      },
      (startError: unknown) => logger.error(`could not replace worker ${slot}: ${String(startError)}`),
    );
  }
}
