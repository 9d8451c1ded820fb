/** What the face tracker reports for one video frame, and how it is configured. */
import type { ExpressionInputSpec } from '../../shared/expression/ExpressionTypes';

export interface TrackedFace {
  /** The frame's time on the page's clock (performance.timeOrigin + performance.now()), ms. */
  captureTimeMs: number;
  facePresent: boolean;
  /** 52 blendshape scores in MediaPipe's category order (zeros when no face). */
  blendshapes: Float32Array;
  /** MediaPipe's facial transformation matrix, column-major 4x4, cm (null when no face). */
  transform: Float32Array | null;
  /** 478 normalized landmarks as x, y, z triples (null when no face or not requested). */
  landmarks: Float32Array | null;
  /** Source frame size in pixels, before any downscaling for the tracker. */
  frameWidth: number;
  frameHeight: number;
  /** Time spent in FaceLandmarker for this frame, ms. */
  trackerMs: number;
  /** The avatar's expression code (int8 steps) when an encoder is loaded and found the face. */
  code?: Int8Array | null;
  /** Time the encoder took on this frame (pose removal and the ONNX model), ms. */
  encoderMs?: number;
}

/** An avatar's expression encoder for the worker (ExpressionEncoderRunner). */
export interface EncoderLoad {
  /** Where onnxruntime-web's dist folder is served (the server's /ort/). */
  ortBaseUrl: string;
  /** The ONNX model, its checksum already verified by the page. */
  onnx: ArrayBuffer;
  spec: ExpressionInputSpec;
  codeSize: number;
}

export type TrackerDelegate = 'GPU' | 'CPU';

export interface FaceTrackerOptions {
  /** Where the server serves @mediapipe/tasks-vision's wasm folder. */
  wasmBaseUrl: string;
  /** The face_landmarker.task model URL. */
  modelUrl: string;
  /** 'auto' picks GPU when WebGL runs on a real GPU, else CPU; GPU falls back to CPU on failure. */
  delegate?: TrackerDelegate | 'auto';
  /** Upper bound on tracked frames per second (30 by default; CoefficientStreaming lowers it to the avatar's render rate). */
  maxFps?: number;
  /** Frames are downscaled to at most this width before tracking (the landmark model sees a 256 px crop). */
  maxInputWidth?: number;
  /** Include the 478 landmarks in each result (datasets need them; live streaming does not). */
  withLandmarks?: boolean;
}

/** Messages between FaceTracker (page) and its worker. */
export type ToTrackerWorker =
  | { type: 'init'; wasmBaseUrl: string; modelUrl: string; delegate: TrackerDelegate | 'auto'; withLandmarks: boolean }
  | { type: 'frame'; bitmap: ImageBitmap; captureTimeMs: number; frameWidth: number; frameHeight: number }
  | ({ type: 'encoder' } & EncoderLoad)
  | { type: 'dropEncoder' };

export type FromTrackerWorker =
  | { type: 'ready'; delegate: TrackerDelegate }
  | { type: 'result'; face: TrackedFace }
  | { type: 'error'; message: string }
  | { type: 'encoder'; ok: true; loadMs: number }
  | { type: 'encoder'; ok: false; message: string };
