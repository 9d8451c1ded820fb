/**
 * The page `voxface prepare` drives in headless Chromium. It pulls decoded
 * frames (JPEG) from the local server, runs FrameCapture, and posts each
 * result back as soon as it is ready, so the Node side can write files and
 * draw the progress bar while the next frame is being tracked.
 *
 * Fetching and decoding frame i+1 overlaps tracking frame i (createImageBitmap
 * decodes off the main thread), and at most one POST is in flight.
 */
import { FrameCapture } from './FrameCapture';
import { CROP_SIZE } from '../../shared/dataset/format';
import {
  encodeCaptureBody, type CapturePassRequest, type CaptureHeader, type PrepareInit, type TrackSample,
} from './prepareProtocol';

let capture: FrameCapture | undefined;
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

/** Iterates frames with the next one already loading. */
async function forEachFrame(indices: readonly number[], each: (frame: ImageBitmap, index: number) => Promise<void>): Promise<void> {
  let next = indices.length ? loadFrame(indices[0]!) : undefined;
  for (let i = 0; i < indices.length; i += 1) {
    const frame = await next!;
    next = i + 1 < indices.length ? loadFrame(indices[i + 1]!) : undefined;
    // An unconsumed rejected prefetch would surface as an unhandled rejection; the await above reports it instead.
    next?.catch(() => undefined);
    try {
      await each(frame, indices[i]!);
    } finally {
      frame.close();
    }
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

async function encodeJpeg(image: ImageData): Promise<Uint8Array> {
  // A canvas per frame: encodings overlap, and a shared canvas could change under one.
  const canvas = new OffscreenCanvas(CROP_SIZE, CROP_SIZE);
  // CPU-backed: a GPU canvas (SwiftShader here) would upload the pixels only to read them back to encode.
  canvas.getContext('2d', { willReadFrequently: true })!.putImageData(image, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  return new Uint8Array(await blob.arrayBuffer());
}

const api = {
  async init(options: PrepareInit): Promise<string> {
    setStatus('starting MediaPipe');
    capture = await FrameCapture.create({ ...options, delegate: 'auto' });
    setStatus('ready');
    return capture.delegate;
  },

  /** First pass over a subsample: where the face is. Each result goes to POST /track. */
  async trackPass(indices: number[]): Promise<void> {
    if (!capture) throw new Error('not initialised');
    const current = capture;
    await forEachFrame(indices, async (frame, index) => {
      const face = current.track(frame);
      let box: TrackSample['box'] = null;
      if (face.facePresent && face.landmarks) {
        box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
        for (let i = 0; i + 2 < face.landmarks.length; i += 3) {
          const x = face.landmarks[i]!; const y = face.landmarks[i + 1]!;
          box.minX = Math.min(box.minX, x); box.maxX = Math.max(box.maxX, x);
          box.minY = Math.min(box.minY, y); box.maxY = Math.max(box.maxY, y);
        }
      }
      const sample: TrackSample = { index, found: box !== null, box };
      await post('/track', JSON.stringify(sample));
    });
  },

  /** Second pass over every frame with the fixed crop. Each result goes to POST /capture. */
  async capturePass(request: CapturePassRequest): Promise<void> {
    if (!capture) throw new Error('not initialised');
    const current = capture;
    // The first pass jumped through the clip; start tracking afresh at frame 0.
    await current.restartTracking();
    const sheet = new Set(request.sheetFrames);
    const indices = Array.from({ length: request.frameCount }, (_, i) => i);
    let inFlight: Promise<void> = Promise.resolve();
    await forEachFrame(indices, async (frame, index) => {
      const frameStarted = performance.now();
      const sample = current.capture(frame, request.crop, sheet.has(index));
      const tile = sample.raw ? tileOf(sample.raw, request.tileSize) : new Uint8Array(0);
      const header: CaptureHeader = {
        index,
        faceFound: sample.face.facePresent,
        blendshapes: Array.from(sample.face.blendshapes),
        transform: sample.face.transform ? Array.from(sample.face.transform) : null,
        landmarks: sample.face.landmarks ? Array.from(sample.face.landmarks) : null,
        trackerMs: sample.face.trackerMs,
        segmenterMs: sample.segmenterMs,
        pageMs: performance.now() - frameStarted, // before JPEG encoding, which overlaps the next frame
      };
      // JPEG encoding runs off the main thread: start it, let the next frame's
      // tracking begin, and post once both it and the previous post are done.
      const encoded = encodeJpeg(sample.image);
      const previous = inFlight;
      inFlight = (async () => {
        const jpeg = await encoded;
        await previous;
        await post('/capture', encodeCaptureBody(header, jpeg, sample.mask, tile));
      })();
      inFlight.catch(() => undefined);
      // Never more than two frames behind: back-pressure instead of unbounded memory.
      await previous;
      if (index % 30 === 0) setStatus(`frame ${index + 1} / ${request.frameCount}`);
    });
    await inFlight;
    setStatus('done');
  },

  close(): void {
    capture?.close();
    capture = undefined;
  },
};

export type PrepareApi = typeof api;
(window as unknown as { voxfacePrepare: PrepareApi }).voxfacePrepare = api;
