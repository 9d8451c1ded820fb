/**
 * A FrameRenderer that renders in a worker thread (one per avatar session), so a
 * slow frame never blocks signaling or media control. The thread writes into a
 * SharedArrayBuffer; the frame stays valid until the next render call.
 */
import { Worker } from 'node:worker_threads';
import type { FaceState } from './DrivenFace';
import type { FrameRenderer } from './FrameRendererTypes';
import type { RenderWorkerInit, RenderWorkerReply } from './renderWorkerTypes';

const WORKER_URL = new URL('./renderWorkerEntry.mjs', import.meta.url);

export class WorkerFrameRenderer implements FrameRenderer {
  readonly width: number;
  readonly height: number;
  readonly #worker: Worker;
  readonly #frame: Uint8Array;
  #pending?: { resolve: (frame: Uint8Array) => void; reject: (error: Error) => void };
  #failure?: Error;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(worker: Worker, frame: Uint8Array, width: number, height: number) {
    this.#worker = worker;
    this.#frame = frame;
    this.width = width;
    this.height = height;
    worker.on('message', (message: RenderWorkerReply) => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (message.type === 'frame') pending?.resolve(this.#frame);
      else if (message.type === 'error') pending?.reject(new Error(message.message));
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => { if (!this.#closed) this.#fail(new Error(`render thread exited with code ${code}`)); });
  }

  /** Starts a render thread for the avatar file; rejects with the file's problem if it cannot load. */
  static async open(avatarPath: string, size: { width: number; height: number }, renderScale?: number): Promise<WorkerFrameRenderer> {
    const output = new SharedArrayBuffer(size.width * size.height * 4);
    const workerData: RenderWorkerInit = { avatarPath, width: size.width, height: size.height, output, ...(renderScale ? { renderScale } : {}) };
    const worker = new Worker(WORKER_URL, { workerData, name: 'voxface-render' });
    // Only our own listeners are removed afterwards: Worker uses listener bookkeeping
    // of its own to start message delivery, which removeAllListeners() would break.
    let onMessage!: (reply: RenderWorkerReply) => void;
    let onError!: (error: Error) => void;
    let onExit!: (code: number) => void;
    const ready = await new Promise<RenderWorkerReply>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new Error(`render thread exited with code ${code} while loading`));
      worker.once('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    }).catch((error: unknown) => {
      void worker.terminate();
      throw error;
    }).finally(() => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    });
    if (ready.type === 'error') {
      void worker.terminate();
      throw new Error(ready.message);
    }
    return new WorkerFrameRenderer(worker, new Uint8Array(output), size.width, size.height);
  }

  render(face: Readonly<FaceState>): Promise<Uint8Array> {
    // One render at a time: a call made while one runs waits for it (a session that
    // ended mid-frame may leave one behind for its successor).
    const run = this.#tail.then(() => this.#renderNow(face));
    this.#tail = run.then(() => undefined, () => undefined);
    return run;
  }

  #renderNow(face: Readonly<FaceState>): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error('renderer closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage({ face: { blendshapes: face.blendshapes, rotation: face.rotation, translationCm: face.translationCm } });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Never terminate the thread inside a native kernel call (the addon would abort
    // the whole process): let a running frame finish first, within a bound.
    const pending = this.#pending;
    if (!pending) {
      void this.#worker.terminate();
      return;
    }
    const stop = () => { void this.#worker.terminate(); };
    const timer = setTimeout(stop, 10_000);
    this.#worker.once('message', () => { clearTimeout(timer); stop(); });
    this.#pending = undefined;
    pending.reject(new Error('renderer closed'));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#pending?.reject(error);
    this.#pending = undefined;
  }
}
