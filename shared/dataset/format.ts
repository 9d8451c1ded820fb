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
 *   <dir>/plates/background.png  (version 2, optional) RGB clean plate: the room with the person removed
 *   <dir>/plates/body.png        (version 2, optional) RGBA body plate, straight alpha: neck,
 *                                shoulders, clothes below the head layer
 *
 * Version 2 adds `plates` (DatasetMeta.plates), the whole decoded frame at
 * plate size (long side at most PLATE_MAX_SIDE); it is optional, and version-1
 * datasets (no plates) still load.
 *
 * Bulk numbers are flat float32 files rather than JSON so that a trainer can map
 * them straight into arrays (numpy.fromfile(...).reshape(N, 478, 2)) and so a
 * 1000-frame clip does not produce tens of megabytes of decimal text.
 *
 * Pure data only: shared by browser and server code.
 */
import { BLENDSHAPE_COUNT } from '../coefficients/blendshapes';

export const DATASET_VERSION = 2;
/** Versions loadDataset still reads (1: no plates). */
export const READABLE_DATASET_VERSIONS: readonly number[] = [1, 2];
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
  plates: 'plates',
  backgroundPlate: 'plates/background.png',
  bodyPlate: 'plates/body.png',
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
 * centres at +0.5), for the CROP_SIZE crop (or, in PlatesMeta, the plate images). The pose lives in MediaPipe's camera
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
  /** Version 2: the clean plate and body plate (absent in version 1 and when too few samples came). */
  plates?: PlatesMeta;
}

/** The plates of a version-2 dataset: whole decoded frames downscaled to width x height. */
export interface PlatesMeta {
  width: number;
  height: number;
  /** Of the plate images' pixels, same convention as DatasetMeta.intrinsics (shared/dataset/camera.ts plateIntrinsics). */
  intrinsics: Intrinsics;
  /** Frames the plates were estimated from. */
  samples: number;
  /** 'plates/background.png': RGB 8-bit, person removed, never-seen pixels filled smoothly. */
  background: string;
  /** 'plates/body.png': RGBA 8-bit, straight alpha. */
  body: string;
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
