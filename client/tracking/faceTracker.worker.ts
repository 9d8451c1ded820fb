/** The face tracker's worker: runs FaceLandmarker off the page's main thread. */
import type { FaceLandmarker } from '@mediapipe/tasks-vision';
import type { FromTrackerWorker, ToTrackerWorker } from './FaceTrackerTypes';
import { createLandmarker, detect } from './landmarkerRunner';

let landmarker: FaceLandmarker | undefined;
let withLandmarks = false;
let lastTimestamp = 0;

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
    } else if (message.type === 'frame') {
      if (!landmarker) throw new Error('tracker not initialised');
      // VIDEO mode needs strictly increasing timestamps.
      lastTimestamp = Math.max(lastTimestamp + 1, Math.round(performance.now()));
      const face = detect(landmarker, message.bitmap, message.captureTimeMs, lastTimestamp, message.frameWidth, message.frameHeight, withLandmarks);
      message.bitmap.close();
      const transfer = [face.blendshapes.buffer, ...(face.transform ? [face.transform.buffer] : []), ...(face.landmarks ? [face.landmarks.buffer] : [])];
      (self as unknown as Worker).postMessage({ type: 'result', face } satisfies FromTrackerWorker, transfer);
    }
  } catch (error) {
    if (message.type === 'frame') message.bitmap.close();
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
