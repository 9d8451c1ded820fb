/**
 * FaceLandmarker set-up and per-frame detection, shared by the worker and the
 * main-thread fallback, so both paths produce identical results.
 */
import { FaceLandmarker, FilesetResolver } from '@mediapipe/tasks-vision';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { TrackedFace, TrackerDelegate } from './FaceTrackerTypes';
import { blockMediaPipeTelemetry } from './noTelemetry';

/** Whether WebGL2 here runs on a real GPU (software rasterizers are slower than the CPU delegate). */
export function hasHardwareWebGl(): boolean {
  try {
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : document.createElement('canvas');
    const gl = canvas.getContext('webgl2') as WebGL2RenderingContext | null;
    if (!gl) return false;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    return !/swiftshader|llvmpipe|software|basic render/i.test(renderer);
  } catch {
    return false;
  }
}

export async function createLandmarker(
  wasmBaseUrl: string,
  modelUrl: string,
  requested: TrackerDelegate | 'auto',
  inModuleWorker: boolean,
): Promise<{ landmarker: FaceLandmarker; delegate: TrackerDelegate }> {
  blockMediaPipeTelemetry();
  const fileset = await FilesetResolver.forVisionTasks(wasmBaseUrl, inModuleWorker);
  const order: TrackerDelegate[] = requested === 'CPU' ? ['CPU'] : requested === 'GPU' || hasHardwareWebGl() ? ['GPU', 'CPU'] : ['CPU'];
  let lastError: unknown;
  for (const delegate of order) {
    try {
      const landmarker = await FaceLandmarker.createFromOptions(fileset, {
        baseOptions: { modelAssetPath: modelUrl, delegate },
        runningMode: 'VIDEO',
        numFaces: 1,
        outputFaceBlendshapes: true,
        outputFacialTransformationMatrixes: true,
      });
      return { landmarker, delegate };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`FaceLandmarker could not start: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

export function detect(
  landmarker: FaceLandmarker,
  image: ImageBitmap | HTMLVideoElement,
  captureTimeMs: number,
  monotonicMs: number,
  frameWidth: number,
  frameHeight: number,
  withLandmarks: boolean,
): TrackedFace {
  const started = performance.now();
  const result = landmarker.detectForVideo(image, monotonicMs);
  const trackerMs = performance.now() - started;
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  const categories = result.faceBlendshapes?.[0]?.categories;
  const matrix = result.facialTransformationMatrixes?.[0]?.data;
  const points = result.faceLandmarks?.[0];
  const facePresent = Boolean(categories && categories.length === BLENDSHAPE_COUNT && matrix && points);
  if (facePresent) {
    // Categories come in MediaPipe's fixed order; index keeps it even if names change case.
    for (const category of categories!) blendshapes[category.index] = category.score;
  }
  let landmarks: Float32Array | null = null;
  if (facePresent && withLandmarks) {
    landmarks = new Float32Array(points!.length * 3);
    points!.forEach((p, i) => { landmarks![i * 3] = p.x; landmarks![i * 3 + 1] = p.y; landmarks![i * 3 + 2] = p.z; });
  }
  return {
    captureTimeMs,
    facePresent,
    blendshapes,
    transform: facePresent ? Float32Array.from(matrix!) : null,
    landmarks,
    frameWidth,
    frameHeight,
    trackerMs,
  };
}
