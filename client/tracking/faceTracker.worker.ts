/**
 * The face tracker's worker: runs FaceLandmarker off the page's main thread, and the
 * avatar's expression encoder on each tracked face when the page loaded one.
 */
import type { FaceLandmarker } from '@mediapipe/tasks-vision';
import type { FromTrackerWorker, ToTrackerWorker } from './FaceTrackerTypes';
import { ExpressionEncoderRunner } from './ExpressionEncoderRunner';
import { createLandmarker, detect } from './landmarkerRunner';

let landmarker: FaceLandmarker | undefined;
let withLandmarks = false;
let lastTimestamp = 0;
let encoder: ExpressionEncoderRunner | undefined;

function reply(message: FromTrackerWorker): void {
  (self as unknown as Worker).postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToTrackerWorker>) => {
  const message = event.data;
  try {
    if (message.type === 'init') {
      withLandmarks = message.withLandmarks;
      const created = await createLandmarker(message.wasmBaseUrl, message.modelUrl, message.delegate, true);
      landmarker = created.landmarker;
      reply({ type: 'ready', delegate: created.delegate });
    } else if (message.type === 'encoder') {
      const started = performance.now();
      try {
        const loaded = await ExpressionEncoderRunner.load(message.ortBaseUrl, new Uint8Array(message.onnx), message.spec, message.codeSize);
        await encoder?.close();
        encoder = loaded;
        reply({ type: 'encoder', ok: true, loadMs: performance.now() - started });
      } catch (error) {
        reply({ type: 'encoder', ok: false, message: error instanceof Error ? error.message : String(error) });
      }
    } else if (message.type === 'dropEncoder') {
      const old = encoder;
      encoder = undefined;
      await old?.close();
    } else if (message.type === 'frame') {
      if (!landmarker) throw new Error('tracker not initialised');
      // VIDEO mode needs strictly increasing timestamps.
      lastTimestamp = Math.max(lastTimestamp + 1, Math.round(performance.now()));
      const running = encoder;
      const face = detect(landmarker, message.bitmap, message.captureTimeMs, lastTimestamp, message.frameWidth, message.frameHeight, withLandmarks || running !== undefined);
      message.bitmap.close();
      if (running && face.landmarks) {
        const started = performance.now();
        try {
          face.code = await running.encode(face.landmarks, face.frameWidth, face.frameHeight);
        } catch {
          face.code = null; // this frame goes as a blendshape packet
        }
        face.encoderMs = performance.now() - started;
        if (!withLandmarks) face.landmarks = null;
      }
      const transfer = [face.blendshapes.buffer, ...(face.transform ? [face.transform.buffer] : []), ...(face.landmarks ? [face.landmarks.buffer] : [])];
      (self as unknown as Worker).postMessage({ type: 'result', face } satisfies FromTrackerWorker, transfer);
    }
  } catch (error) {
    if (message.type === 'frame') message.bitmap.close();
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
