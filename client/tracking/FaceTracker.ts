/**
 * Tracks the face in a camera track with MediaPipe FaceLandmarker (VIDEO mode,
 * blendshapes and transformation matrices) at up to `maxFps`, in a worker so the
 * page stays responsive. One frame is in flight and at most one waits: while the
 * tracker is busy, a newer camera frame replaces the waiting one (the newest wins),
 * so the worker never idles waiting for the camera.
 *
 *   const tracker = await FaceTracker.create({ wasmBaseUrl, modelUrl });
 *   tracker.on('face', (face) => send(face));
 *   tracker.start(cameraTrack);
 */
import { TypedEmitter } from '../../shared/TypedEmitter';
import { CaptureGrid } from './CaptureGrid';
import type {
  EncoderLoad, FaceTrackerOptions, FromTrackerWorker, ToTrackerWorker, TrackedFace, TrackerDelegate,
} from './FaceTrackerTypes';

export interface FaceTrackerEvents {
  [key: string]: unknown;
  face: TrackedFace;
  error: Error;
}

export interface FaceTrackerStats {
  delegate: TrackerDelegate;
  /** Tracked frames per second over the last second. */
  fps: number;
  framesTracked: number;
  /** Recent per-frame FaceLandmarker times, ms (up to the last 300). */
  recentTrackerMs: number[];
  /** Recent per-frame expression encoder times in the worker, ms (up to the last 300; empty without an encoder). */
  recentEncoderMs: number[];
  /** The rate cap now (setMaxFps). */
  maxFps: number;
}

type PendingFrame = Extract<ToTrackerWorker, { type: 'frame' }>;

const WORKER_URL = new URL('./face-tracker-worker.js', import.meta.url);

export class FaceTracker extends TypedEmitter<FaceTrackerEvents> {
  readonly delegate: TrackerDelegate;
  readonly #worker: Worker;
  readonly #options: Required<FaceTrackerOptions>;
  #stopSource?: () => void;
  #generation = 0;
  #busy = false;
  #pending?: PendingFrame;
  /** Which camera frames are tracked under the rate cap. */
  readonly #grid: CaptureGrid;
  #closed = false;
  readonly #completions: number[] = [];
  readonly #recentTrackerMs: number[] = [];
  #framesTracked = 0;
  #encoderLoad?: { resolve: (loadMs: number) => void; reject: (error: Error) => void };
  readonly #recentEncoderMs: number[] = [];

  private constructor(worker: Worker, delegate: TrackerDelegate, options: Required<FaceTrackerOptions>, grid: CaptureGrid) {
    super();
    this.#worker = worker;
    this.delegate = delegate;
    this.#options = options;
    this.#grid = grid;
    worker.onmessage = (event: MessageEvent<FromTrackerWorker>) => this.#onWorkerMessage(event.data);
    worker.onerror = (event) => this.emit('error', new Error(`face tracker worker failed: ${event.message}`));
  }

  static async create(options: FaceTrackerOptions): Promise<FaceTracker> {
    const full: Required<FaceTrackerOptions> = {
      delegate: 'auto', maxFps: 30, maxInputWidth: 320, withLandmarks: false, ...options,
    };
    const grid = new CaptureGrid(full.maxFps); // a bad maxFps throws before the worker starts
    const worker = new Worker(WORKER_URL, { type: 'module', name: 'voxface-face-tracker' });
    const ready = await new Promise<TrackerDelegate>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FromTrackerWorker>) => {
        if (event.data.type === 'ready') resolve(event.data.delegate);
        else if (event.data.type === 'error') reject(new Error(event.data.message));
      };
      worker.onerror = (event) => reject(new Error(`face tracker worker failed to load: ${event.message}`));
      const init: ToTrackerWorker = {
        type: 'init', wasmBaseUrl: full.wasmBaseUrl, modelUrl: full.modelUrl, delegate: full.delegate, withLandmarks: full.withLandmarks,
      };
      worker.postMessage(init);
    }).catch((error: unknown) => {
      worker.terminate();
      throw error;
    });
    return new FaceTracker(worker, ready, full, grid);
  }

  /** Starts tracking `track`; a second call switches to the new track. */
  start(track: MediaStreamTrack): void {
    if (this.#closed) throw new Error('FaceTracker closed');
    this.stop();
    const generation = ++this.#generation;
    const Processor = (globalThis as { MediaStreamTrackProcessor?: new (init: { track: MediaStreamTrack }) => { readable: ReadableStream<VideoFrame> } }).MediaStreamTrackProcessor;
    if (Processor) {
      // Frames straight from the source at its own rate (a detached <video> is throttled).
      const reader = new Processor({ track }).readable.getReader();
      this.#stopSource = () => { reader.cancel().catch(() => undefined); };
      this.#readFrames(reader, generation).catch((error: Error) => this.emit('error', error));
    } else {
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = new MediaStream([track]);
      video.play().catch((error: Error) => this.emit('error', error));
      let callback = 0;
      const schedule = () => {
        callback = video.requestVideoFrameCallback(() => {
          if (generation !== this.#generation) return;
          if (video.videoWidth) this.#capture(video, video.videoWidth, video.videoHeight).catch((error: Error) => this.emit('error', error));
          schedule();
        });
      };
      schedule();
      this.#stopSource = () => {
        video.cancelVideoFrameCallback(callback);
        video.srcObject = null;
      };
    }
  }

  /**
   * Runs the avatar's expression encoder in the worker from now on (faces then carry
   * `code`); resolves with the load time in ms, rejects when the model does not load
   * (the tracker goes on without it). The ONNX bytes are transferred.
   */
  loadEncoder(load: EncoderLoad): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('FaceTracker closed'));
    this.#encoderLoad?.reject(new Error('another encoder was loaded'));
    return new Promise<number>((resolve, reject) => {
      this.#encoderLoad = { resolve, reject };
      this.#worker.postMessage({ type: 'encoder', ...load } satisfies ToTrackerWorker, [load.onnx]);
    });
  }

  /** Stops running the encoder: faces carry no code from the next frame on. */
  dropEncoder(): void {
    if (!this.#closed) this.#worker.postMessage({ type: 'dropEncoder' } satisfies ToTrackerWorker);
  }

  stop(): void {
    this.#generation += 1;
    this.#stopSource?.();
    this.#stopSource = undefined;
  }

  /**
   * Tracks at most `fps` frames per second from now on. CoefficientStreaming sets the
   * avatar's render rate: a faster tracker spends the sender's CPU (MediaPipe on a 30 fps
   * camera took 0.77 of a core in bench:avatar-call) and uplink on faces nobody renders.
   */
  setMaxFps(fps: number): void {
    this.#grid.maxFps = fps;
  }

  stats(): FaceTrackerStats {
    const now = performance.now();
    while (this.#completions.length && this.#completions[0]! < now - 1000) this.#completions.shift();
    return {
      delegate: this.delegate, fps: this.#completions.length, framesTracked: this.#framesTracked,
      recentTrackerMs: [...this.#recentTrackerMs], recentEncoderMs: [...this.#recentEncoderMs], maxFps: this.#grid.maxFps,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    this.#pending?.bitmap.close();
    this.#pending = undefined;
    this.#worker.terminate();
    this.#encoderLoad?.reject(new Error('FaceTracker closed'));
    this.#encoderLoad = undefined;
    this.removeAllListeners();
  }

  async #readFrames(reader: ReadableStreamDefaultReader<VideoFrame>, generation: number): Promise<void> {
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done || !frame) return;
      try {
        if (generation === this.#generation) await this.#capture(frame, frame.displayWidth, frame.displayHeight);
      } finally {
        frame.close();
      }
    }
  }

  /** Downscales one camera frame into a bitmap and hands it to the worker (or lets it wait). */
  async #capture(source: VideoFrame | HTMLVideoElement, width: number, height: number): Promise<void> {
    const now = performance.now();
    if (!this.#grid.take(now)) return;
    const captureTimeMs = performance.timeOrigin + now;
    const scale = Math.min(1, this.#options.maxInputWidth / width);
    const bitmap = await createImageBitmap(source, {
      resizeWidth: Math.round(width * scale), resizeHeight: Math.round(height * scale), resizeQuality: 'low',
    });
    const frame: PendingFrame = { type: 'frame', bitmap, captureTimeMs, frameWidth: width, frameHeight: height };
    if (this.#closed) {
      bitmap.close();
    } else if (this.#busy) {
      // Keep the worker fed without queueing: the newest captured frame waits, older ones are dropped.
      this.#pending?.bitmap.close();
      this.#pending = frame;
    } else {
      this.#post(frame);
    }
  }

  #post(frame: PendingFrame): void {
    this.#busy = true;
    this.#worker.postMessage(frame satisfies ToTrackerWorker, [frame.bitmap]);
  }

  #next(): void {
    this.#busy = false;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending && !this.#closed) this.#post(pending);
  }

  #onWorkerMessage(message: FromTrackerWorker): void {
    if (message.type === 'result') {
      this.#next();
      this.#framesTracked += 1;
      this.#completions.push(performance.now());
      this.#recentTrackerMs.push(message.face.trackerMs);
      if (this.#recentTrackerMs.length > 300) this.#recentTrackerMs.shift();
      if (message.face.encoderMs !== undefined) {
        this.#recentEncoderMs.push(message.face.encoderMs);
        if (this.#recentEncoderMs.length > 300) this.#recentEncoderMs.shift();
      }
      this.emit('face', message.face);
    } else if (message.type === 'encoder') {
      const load = this.#encoderLoad;
      this.#encoderLoad = undefined;
      if (message.ok) load?.resolve(message.loadMs);
      else load?.reject(new Error(message.message));
    } else if (message.type === 'error') {
      this.#next();
      this.emit('error', new Error(message.message));
    }
  }
}
