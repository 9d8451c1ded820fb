/**
 * The page `voxface prepare` drives in headless Chromium. It pulls decoded
 * frames (JPEG) from the local server, runs the capture code, and posts each
 * result back as soon as it is ready, so the Node side can write files and
 * draw the progress bar while the next frames are being tracked.
 *
 * The capture pass is a pipeline, so that the machine's cores compute rather
 * than wait: several frames are fetched and decoded ahead (createImageBitmap
 * decodes off the main thread); FaceLandmarker runs in the live tracker's
 * module worker (a fresh one: the capture pass tracks from frame 0) while
 * this thread crops and segments the same frame and composites the previous
 * one; JPEG encoding runs off the main thread and several POSTs may be in
 * flight. Each step's code is FrameCapture's, so the samples are the same.
 */
import { FrameCapture } from './FrameCapture';
import { LandmarkerWorker } from './landmarkerWorkerClient';
import { drawPlate, encodePlateSample } from './plateCapture';
import { CROP_SIZE } from '../../shared/dataset/format';
import type { TrackedFace } from '../tracking/FaceTrackerTypes';
import {
  encodeCaptureBody, type CapturePassRequest, type CaptureHeader, type PrepareApi, type PrepareInit, type TrackSample,
} from '../../shared/dataset/prepareProtocol';

/** Frames fetched and decoded ahead of the one being processed. */
const PREFETCH_DEPTH = 4;
/** Result POSTs in flight at once (back-pressure beyond that). */
const MAX_POSTS_IN_FLIGHT = 4;

let capture: FrameCapture | undefined;
let initOptions: PrepareInit | undefined;
/** The capture pass's landmarker, started with the page so that it is ready when the first pass ends. */
let captureTracker: Promise<LandmarkerWorker> | undefined;
const statusElement = document.getElementById('status');

function setStatus(text: string): void {
  if (statusElement) statusElement.textContent = text;
}

async function loadFrame(index: number): Promise<ImageBitmap> {
  const response = await fetch(`/frames/${index}.jpg`);
  if (!response.ok) throw new Error(`frame ${index}: HTTP ${response.status}`);
  return createImageBitmap(await response.blob());
}

async function post(path: string, body: BodyInit): Promise<void> {
  const response = await fetch(path, { method: 'POST', body });
  if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status} ${await response.text()}`);
}

/** Frames of `indices` in order, each requested PREFETCH_DEPTH frames before it is needed. */
class FrameQueue {
  readonly #indices: readonly number[];
  readonly #loads = new Map<number, Promise<ImageBitmap>>();
  #requested = 0;

  constructor(indices: readonly number[]) {
    this.#indices = indices;
  }

  /** The frame at position `k` of the indices (each position once). */
  take(k: number): Promise<ImageBitmap> {
    while (this.#requested < this.#indices.length && this.#requested <= k + PREFETCH_DEPTH) {
      const load = loadFrame(this.#indices[this.#requested]!);
      // An unconsumed rejected prefetch would surface as an unhandled rejection; take() reports it instead.
      load.catch(() => undefined);
      this.#loads.set(this.#requested, load);
      this.#requested += 1;
    }
    const load = this.#loads.get(k);
    if (!load) throw new Error(`frame position ${k} taken twice or out of range`);
    this.#loads.delete(k);
    return load;
  }

  /** Closes frames loaded but never taken (after a failure). */
  close(): void {
    for (const load of this.#loads.values()) load.then((frame) => frame.close(), () => undefined);
    this.#loads.clear();
  }
}

/** POSTs that may overlap, at most MAX_POSTS_IN_FLIGHT at once; the first failure is reported. */
class PostQueue {
  readonly #inFlight = new Set<Promise<void>>();

  async add(send: () => Promise<void>): Promise<void> {
    while (this.#inFlight.size >= MAX_POSTS_IN_FLIGHT) await Promise.race(this.#inFlight);
    const sending = send();
    sending.catch(() => undefined);
    this.#inFlight.add(sending);
    sending.then(() => this.#inFlight.delete(sending), () => undefined);
  }

  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }
}

function tileOf(raw: ImageData, size: number): Uint8Array {
  const canvas = new OffscreenCanvas(size, size);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('2D canvas unavailable');
  const source = new OffscreenCanvas(raw.width, raw.height);
  source.getContext('2d')!.putImageData(raw, 0, 0);
  context.drawImage(source, 0, 0, size, size);
  return new Uint8Array(context.getImageData(0, 0, size, size).data.buffer);
}

/** zlib (RFC 1950) deflate, off the main thread; masks are mostly flat and shrink about twentyfold. */
async function deflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function encodeJpeg(image: ImageData): Promise<Uint8Array> {
  // A canvas per frame: encodings overlap, and a shared canvas could change under one.
  const canvas = new OffscreenCanvas(CROP_SIZE, CROP_SIZE);
  // CPU-backed: a GPU canvas (SwiftShader here) would upload the pixels only to read them back to encode.
  canvas.getContext('2d', { willReadFrequently: true })!.putImageData(image, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  return new Uint8Array(await blob.arrayBuffer());
}

const api: PrepareApi = {
  async init(options: PrepareInit): Promise<string> {
    setStatus('starting MediaPipe');
    initOptions = options;
    // Both landmarkers (first pass here, capture pass in the worker) start at once.
    captureTracker = LandmarkerWorker.create(options.wasmBaseUrl, options.faceModelUrl, 'auto');
    captureTracker.catch(() => undefined);
    capture = await FrameCapture.create({ ...options, delegate: 'auto' });
    await captureTracker;
    setStatus('ready');
    return capture.delegate;
  },

  /** First pass over a subsample: where the face is. Each result goes to POST /track. */
  async trackPass(indices: number[]): Promise<void> {
    if (!capture) throw new Error('not initialised');
    const current = capture;
    const frames = new FrameQueue(indices);
    const posts = new PostQueue();
    try {
      for (let k = 0; k < indices.length; k += 1) {
        const frame = await frames.take(k);
        let face: TrackedFace;
        try {
          face = current.track(frame);
        } finally {
          frame.close();
        }
        let box: TrackSample['box'] = null;
        if (face.facePresent && face.landmarks) {
          box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
          for (let i = 0; i + 2 < face.landmarks.length; i += 3) {
            const x = face.landmarks[i]!; const y = face.landmarks[i + 1]!;
            box.minX = Math.min(box.minX, x); box.maxX = Math.max(box.maxX, x);
            box.minY = Math.min(box.minY, y); box.maxY = Math.max(box.maxY, y);
          }
        }
        const sample: TrackSample = { index: indices[k]!, found: box !== null, box };
        await posts.add(() => post('/track', JSON.stringify(sample)));
      }
      await posts.drain();
    } finally {
      frames.close();
    }
  },

  /** Second pass over every frame with the fixed crop. Each result goes to POST /capture. */
  async capturePass(request: CapturePassRequest): Promise<void> {
    if (!capture || !initOptions) throw new Error('not initialised');
    const current = capture;
    const { crop } = request;
    // A fresh landmarker: the first pass jumped through the clip, the capture pass tracks from frame 0.
    const tracker = await (captureTracker ?? LandmarkerWorker.create(initOptions.wasmBaseUrl, initOptions.faceModelUrl, current.delegate));
    captureTracker = undefined;
    const sheet = new Set(request.sheetFrames);
    const plateFrames = new Set(request.plates.frames);
    const indices = Array.from({ length: request.frameCount }, (_, i) => i);
    const frames = new FrameQueue(indices);
    const posts = new PostQueue();

    interface Stage { index: number; started: number; image: ImageData; raw: ImageData | null; plate: ImageData | null; face: Promise<TrackedFace> }
    // Crop the frame here, then hand the frame itself to the landmarker worker.
    const submit = async (index: number): Promise<Stage> => {
      const frame = await frames.take(index);
      const started = performance.now();
      let image: ImageData;
      let plate: ImageData | null = null;
      try {
        image = current.cropImage(frame, crop);
        // The whole frame for the plates, drawn now: the tracker worker takes the frame itself.
        if (plateFrames.has(index)) plate = drawPlate(frame, request.plates.width, request.plates.height);
      } catch (error) {
        frame.close();
        throw error;
      }
      const raw = sheet.has(index) ? new ImageData(new Uint8ClampedArray(image.data), CROP_SIZE, CROP_SIZE) : null;
      const face = tracker.track(frame);
      face.catch(() => undefined);
      return { index, started, image, raw, plate, face };
    };

    // Where this thread waited, for VOXFACE_DEBUG_TIMING (printed by the Node side).
    const waits = { frame: 0, face: 0, post: 0, segment: 0, finish: 0 };
    const timed = async <T>(what: keyof typeof waits, run: () => Promise<T> | T): Promise<T> => {
      const t0 = performance.now();
      try { return await run(); } finally { waits[what] += performance.now() - t0; }
    };
    const passStarted = performance.now();
    try {
      let next: Stage | undefined = indices.length ? await timed('frame', () => submit(0)) : undefined;
      while (next) {
        const stage: Stage = next;
        // Segment this frame while the worker tracks it (frames without a face discard the mask).
        const person = await timed('segment', () => current.segment(stage.image));
        // Keep the worker busy: the next frame is queued before this one's result is awaited.
        next = stage.index + 1 < indices.length ? await timed('frame', () => submit(stage.index + 1)) : undefined;
        const face = await timed('face', () => stage.face);
        const sample = await timed('finish', () => current.finish(face, stage.image, stage.raw, person, crop));
        const tile = sample.raw ? tileOf(sample.raw, request.tileSize) : new Uint8Array(0);
        const header: CaptureHeader = {
          index: stage.index,
          faceFound: sample.face.facePresent,
          blendshapes: Array.from(sample.face.blendshapes),
          transform: sample.face.transform ? Array.from(sample.face.transform) : null,
          landmarks: sample.face.landmarks ? Array.from(sample.face.landmarks) : null,
          trackerMs: sample.face.trackerMs,
          segmenterMs: sample.face.facePresent && sample.face.landmarks ? person.ms : 0,
          pageMs: performance.now() - stage.started, // before JPEG encoding, which overlaps the next frames
        };
        // JPEG encoding runs off the main thread: start it and post when it is done.
        const encoded = Promise.all([encodeJpeg(sample.image), deflate(sample.mask as Uint8Array<ArrayBuffer>)]);
        encoded.catch(() => undefined);
        await timed('post', () => posts.add(async () => {
          const [jpeg, deflatedMask] = await encoded;
          await post('/capture', encodeCaptureBody(header, jpeg, deflatedMask, tile));
        }));
        if (stage.plate && sample.face.facePresent && sample.face.landmarks) {
          const plate = stage.plate;
          const landmarks = sample.face.landmarks;
          const person = await timed('segment', () => current.segment(plate));
          const body = encodePlateSample(stage.index, plate, person.mask, landmarks);
          body.catch(() => undefined);
          await timed('post', () => posts.add(async () => post('/plate', await body)));
        }
        if (stage.index % 30 === 0) setStatus(`frame ${stage.index + 1} / ${request.frameCount}`);
      }
      await posts.drain();
      const per = (ms: number) => (ms / Math.max(1, indices.length)).toFixed(1);
      console.log(`capture pass per frame ms: total ${per(performance.now() - passStarted)}, ${Object.entries(waits).map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
    } finally {
      frames.close();
      tracker.close();
    }
    setStatus('done');
  },

  close(): void {
    capture?.close();
    capture = undefined;
    captureTracker?.then((tracker) => tracker.close(), () => undefined);
    captureTracker = undefined;
  },
};

(window as unknown as { voxfacePrepare: PrepareApi }).voxfacePrepare = api;
