/**
 * The live tracker's own module worker (client/tracking/faceTracker.worker.ts,
 * bundled as face-tracker-worker.js) driven frame by frame for `voxface
 * prepare`: FaceLandmarker runs there while the page segments and composites,
 * so the two models use two cores. Results come back in submission order (the
 * worker handles one message at a time).
 */
import type { FromTrackerWorker, ToTrackerWorker, TrackedFace, TrackerDelegate } from '../tracking/FaceTrackerTypes';

const WORKER_URL = new URL('./face-tracker-worker.js', import.meta.url);

interface Pending { resolve: (face: TrackedFace) => void; reject: (error: Error) => void }

export class LandmarkerWorker {
  readonly delegate: TrackerDelegate;
  readonly #worker: Worker;
  readonly #pending: Pending[] = [];
  #failure: Error | undefined;

  private constructor(worker: Worker, delegate: TrackerDelegate) {
    this.#worker = worker;
    this.delegate = delegate;
    worker.onmessage = (event: MessageEvent<FromTrackerWorker>) => {
      const message = event.data;
      const next = this.#pending.shift();
      if (message.type === 'result') next?.resolve(message.face);
      else if (message.type === 'error') next?.reject(new Error(`landmarker worker: ${message.message}`));
    };
    worker.onerror = (event) => this.#fail(new Error(`landmarker worker: ${event.message || 'failed'}`));
  }

  static async create(wasmBaseUrl: string, modelUrl: string, delegate: TrackerDelegate | 'auto'): Promise<LandmarkerWorker> {
    const worker = new Worker(WORKER_URL, { type: 'module', name: 'voxface-prepare-landmarker' });
    try {
      const ready = await new Promise<TrackerDelegate>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<FromTrackerWorker>) => {
          if (event.data.type === 'ready') resolve(event.data.delegate);
          else if (event.data.type === 'error') reject(new Error(event.data.message));
        };
        worker.onerror = (event) => reject(new Error(event.message || 'landmarker worker failed to load'));
        const init: ToTrackerWorker = { type: 'init', wasmBaseUrl, modelUrl, delegate, withLandmarks: true };
        worker.postMessage(init);
      });
      return new LandmarkerWorker(worker, ready);
    } catch (error) {
      worker.terminate();
      throw error;
    }
  }

  /** Tracks `frame` (transferred: the caller must not use or close it afterwards). */
  track(frame: ImageBitmap): Promise<TrackedFace> {
    if (this.#failure) {
      frame.close();
      return Promise.reject(this.#failure);
    }
    const result = new Promise<TrackedFace>((resolve, reject) => this.#pending.push({ resolve, reject }));
    const message: ToTrackerWorker = {
      type: 'frame', bitmap: frame, captureTimeMs: performance.timeOrigin + performance.now(), frameWidth: frame.width, frameHeight: frame.height,
    };
    this.#worker.postMessage(message, [frame]);
    return result;
  }

  close(): void {
    this.#fail(new Error('landmarker worker closed'));
    this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.splice(0)) pending.reject(error);
  }
}
