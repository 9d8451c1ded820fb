/**
 * The on-disk dataset format written by `voxface prepare` and read by training
 * (documented for people in docs/dataset.md; keep the two in step).
 *
 *   <dir>/dataset.json        DatasetMeta (below)
 *   <dir>/frames.json         FrameRecord[] (one per decoded frame, in time order)
 *   <dir>/blendshapes.f32     N x 52 float32 little-endian (zeros where no face)
 *   <dir>/poses.f32           N x 16 float32 LE, 4x4 column-major (identity where no face)
 *   <dir>/landmarks.f32       N x 478 x 2 float32 LE, crop pixels (NaN where no face)
 *   <dir>/images/NNNNN.jpg    512x512 crop composited on white with the mask
 *   <dir>/masks/NNNNN.png     512x512 8-bit grey soft head mask
 *   <dir>/contact-sheet.png   a grid for people to check at a glance (not read by training)
 *
 * Bulk numbers are flat float32 files rather than JSON so that a trainer can map
 * them straight into arrays (numpy.fromfile(...).reshape(N, 478, 2)) and so a
 * 1000-frame clip does not produce tens of megabytes of decimal text.
 *
 * Pure data only: shared by browser and server code.
 */
import { BLENDSHAPE_COUNT } from '../coefficients/blendshapes';

export const DATASET_VERSION = 1;
/** Side of the square training images and masks, pixels. */
export const CROP_SIZE = 512;
export const LANDMARK_COUNT = 478;
/** The canonical face mesh has this many vertices; landmarks 468..477 are the irises. */
export const MESH_VERTEX_COUNT = 468;
export const POSE_LENGTH = 16;
export { BLENDSHAPE_COUNT };
/** The last 15% of frames by time are held out as the test set. */
export const TEST_FRACTION = 0.15;

export const FILES = {
  meta: 'dataset.json',
  frames: 'frames.json',
  blendshapes: 'blendshapes.f32',
  poses: 'poses.f32',
  landmarks: 'landmarks.f32',
  images: 'images',
  masks: 'masks',
  contactSheet: 'contact-sheet.png',
} as const;

export type Split = 'train' | 'test' | 'excluded';

/** A square window in source-video pixels (x, y of the top-left corner, side length). */
export interface CropWindow {
  x: number;
  y: number;
  size: number;
}

/**
 * Pinhole intrinsics in OpenCV's image convention (x right, y down, pixel
 * centres at +0.5), for the CROP_SIZE crop. The pose lives in MediaPipe's camera
 * space (x right, y up, looking down -z), so a camera-space point p projects to
 * u = cx + fx * p.x / -p.z, v = cy - fy * p.y / -p.z (see shared/dataset/camera.ts).
 */
export interface Intrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  width: number;
  height: number;
}

export interface SourceVideoMeta {
  /** File name only (the dataset does not depend on where the video was). */
  file: string;
  sha256: string;
  codec: string;
  /** Display size after rotation, pixels. */
  width: number;
  height: number;
  fps: number;
  durationSec: number;
  /** Decoded range used (seconds from the start) and the size frames were decoded at. */
  startSec: number;
  decodedWidth: number;
  decodedHeight: number;
}

export interface DatasetMeta {
  version: number;
  createdAt: string;
  source: SourceVideoMeta;
  /** Crop window in source pixels; the same for every frame. */
  crop: CropWindow;
  imageSize: number;
  intrinsics: Intrinsics;
  /** MediaPipe's face-geometry camera the pose was estimated under, full frame. */
  camera: { verticalFovDeg: number; convention: 'mediapipe-gl' };
  frameCount: number;
  faceFoundCount: number;
  split: { testFraction: number; testStartIndex: number; train: number; test: number; excluded: number };
  /** Mean landmark reprojection error of the canonical mesh under pose + intrinsics, crop pixels. */
  reprojectionErrorPx: number;
  files: typeof FILES;
}

export interface FrameRecord {
  index: number;
  /** Seconds from the start of the decoded range. */
  timeSec: number;
  faceFound: boolean;
  split: Split;
  /** Paths relative to the dataset folder. */
  image: string;
  mask: string;
}

/** Frame i goes to test when i >= testStartIndex; frames without a face are excluded from both. */
export function testStartIndex(frameCount: number): number {
  return Math.floor(frameCount * (1 - TEST_FRACTION));
}

export function splitOf(index: number, frameCount: number, faceFound: boolean): Split {
  if (!faceFound) return 'excluded';
  return index >= testStartIndex(frameCount) ? 'test' : 'train';
}

export function frameFileStem(index: number): string {
  return String(index).padStart(5, '0');
}
