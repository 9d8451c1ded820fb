/**
 * The page server/retrack/Retracker.ts drives in headless Chromium to re-track
 * images (rendered avatar frames, the original video frames) with MediaPipe's
 * FaceLandmarker, the model calls and `voxface prepare` track with.
 *
 * IMAGE mode, not the VIDEO mode of the live tracker: every image is detected
 * on its own, so an image's landmarks do not depend on which image came before
 * (render and original frames arrive interleaved, and the same image must give
 * the same landmarks wherever it sits in a sequence).
 *
 * Images come as raw RGBA bytes from the driver's local server (no encoding
 * on either side) and are fetched while earlier ones are being tracked.
 */
import { FaceLandmarker, FilesetResolver } from '@mediapipe/tasks-vision';
import { blockMediaPipeTelemetry } from '../tracking/noTelemetry';
import {
  RETRACK_LANDMARK_COUNT, type RetrackImageRequest, type RetrackInit, type RetrackPageApi, type RetrackResult,
} from '../../shared/retrack/retrackProtocol';

let landmarker: FaceLandmarker | undefined;
const statusElement = document.getElementById('status');

function setStatus(text: string): void {
  if (statusElement) statusElement.textContent = text;
}

async function loadImage(request: RetrackImageRequest): Promise<ImageData> {
  const response = await fetch(request.url);
  if (!response.ok) throw new Error(`${request.url}: HTTP ${response.status}`);
  const bytes = new Uint8ClampedArray(await response.arrayBuffer());
  if (bytes.length !== request.width * request.height * 4) {
    throw new Error(`${request.url}: ${bytes.length} bytes, expected ${request.width}x${request.height} RGBA`);
  }
  return new ImageData(bytes, request.width, request.height);
}

const api: RetrackPageApi = {
  async init(options: RetrackInit): Promise<string> {
    setStatus('starting MediaPipe');
    blockMediaPipeTelemetry();
    const fileset = await FilesetResolver.forVisionTasks(options.wasmBaseUrl);
    landmarker?.close();
    landmarker = await FaceLandmarker.createFromOptions(fileset, {
      baseOptions: { modelAssetPath: options.faceModelUrl, delegate: options.delegate },
      runningMode: 'IMAGE',
      numFaces: 1,
    });
    setStatus('ready');
    return options.delegate;
  },

  async track(images: RetrackImageRequest[]): Promise<RetrackResult[]> {
    const current = landmarker;
    if (!current) throw new Error('not initialised');
    // Every fetch starts now; each image is tracked as soon as it and those before it are done.
    const loads = images.map((request) => loadImage(request));
    for (const load of loads) load.catch(() => undefined);
    const results: RetrackResult[] = [];
    for (const load of loads) {
      const image = await load;
      const started = performance.now();
      const points = current.detect(image).faceLandmarks?.[0];
      const trackerMs = performance.now() - started;
      let landmarks: number[] | null = null;
      if (points && points.length === RETRACK_LANDMARK_COUNT) {
        landmarks = new Array<number>(points.length * 3);
        points.forEach((p, i) => { landmarks![i * 3] = p.x; landmarks![i * 3 + 1] = p.y; landmarks![i * 3 + 2] = p.z; });
      }
      results.push({ landmarks, trackerMs });
    }
    return results;
  },

  close(): void {
    landmarker?.close();
    landmarker = undefined;
  },
};

(window as unknown as { voxfaceRetrack: RetrackPageApi }).voxfaceRetrack = api;
