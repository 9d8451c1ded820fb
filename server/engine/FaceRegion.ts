// Regions of an output frame where the eval measures (docs/dataset.md "Regions"):
// - face: inside MediaPipe's face oval (shared/dataset/faceOval.ts), the polygon through
//   the frame's own landmarks (landmarks.f32), carried from crop pixels into the output
//   frame and filled at pixel centres;
// - person: the dataset's mask > 0.5 at the output frame's pixels.
//
// A region is a Uint8Array of width*height (1 inside). Nothing here assumes a square
// frame: the crop-to-output mapping is the inverse of the resampling RealDataset does
// (a look-at rotation of the model camera; a rotation is a homography for a pinhole),
// written for any width x height with the model camera's focal in frame heights, as
// Pose.cameraRays builds its rays.
import { FACE_OVAL } from '../../shared/dataset/faceOval';
import { LANDMARK_COUNT, type DatasetMeta, type Intrinsics } from '../../shared/dataset/format';
import { modelPixelCamera, type PixelCamera } from './Framing';
import { lookAtRotation, type PoseReference } from './PoseMapping';

export type Region = Uint8Array;

/** Maps a crop pixel position (u right, v down; pixel centres at +0.5) to output frame pixels (same convention). */
export type CropToOutput = (u: number, v: number) => [number, number];

/**
 * The inverse of RealDataset.sourcePositions for a width x height output in the model's
 * square view: focal = fx / imageSize frame heights about the output's centre.
 */
export function cropToOutput(meta: DatasetMeta, reference: PoseReference, width: number, height: number): CropToOutput {
  return imageToCamera(meta.intrinsics, reference, modelPixelCamera({ distance: 1, focal: meta.intrinsics.fx / meta.imageSize }, width, height));
}

/**
 * Maps a pixel of an image taken by the real camera (`source` intrinsics) into `cam`: its
 * ray in MediaPipe's camera, rotated into the look-at model camera (Q transposed),
 * projected with cam's focal length and principal point (any framing, Framing.ts).
 */
export function imageToCamera(source: Intrinsics, reference: PoseReference, cam: PixelCamera): CropToOutput {
  const q = lookAtRotation(reference), k = source, f = cam.focalPx;
  return (u, v) => {
    const mx = (u - k.cx) / k.fx, my = -(v - k.cy) / k.fy, mz = -1;
    // d = Q^T m (Q is row-major, its columns the model camera's axes).
    const dx = q[0]! * mx + q[3]! * my + q[6]! * mz, dy = q[1]! * mx + q[4]! * my + q[7]! * mz, dz = q[2]! * mx + q[5]! * my + q[8]! * mz;
    return [cam.cx + (f * dx) / -dz, cam.cy - (f * dy) / -dz];
  };
}

/**
 * Fills a closed polygon (x, y pairs in pixels) at pixel centres, even-odd rule: pixel
 * (i, j) is inside when (i + 0.5, j + 0.5) is. Exact for any polygon, convex or not.
 */
export function rasterizePolygon(points: ArrayLike<number>, width: number, height: number): Region {
  const n = points.length / 2, out = new Uint8Array(width * height), xs: number[] = [];
  if (!Number.isInteger(n) || n < 3) throw new RangeError(`rasterizePolygon: need at least 3 (x, y) points, got ${points.length} numbers`);
  for (let j = 0; j < height; j++) {
    const y = j + 0.5;
    xs.length = 0;
    for (let a = 0, b = n - 1; a < n; b = a++) {
      const ya = points[2 * a + 1]!, yb = points[2 * b + 1]!;
      // Half-open in y so a vertex on the scanline counts once.
      if ((ya > y) !== (yb > y)) xs.push(points[2 * a]! + ((y - ya) / (yb - ya)) * (points[2 * b]! - points[2 * a]!));
    }
    xs.sort((p, q) => p - q);
    for (let s = 0; s + 1 < xs.length; s += 2) {
      const from = Math.max(0, Math.ceil(xs[s]! - 0.5)), to = Math.min(width - 1, Math.ceil(xs[s + 1]! - 0.5) - 1);
      for (let i = from; i <= to; i++) out[j * width + i] = 1;
    }
  }
  return out;
}

/**
 * The face region of one frame: its face-oval landmarks (one frame's 478 x 2 crop
 * pixels) mapped into the output frame and filled. Undefined when the frame has no
 * face (NaN landmarks).
 */
export function faceOvalRegion(landmarks: Float32Array, map: CropToOutput, width: number, height: number): Region | undefined {
  if (landmarks.length !== 2 * LANDMARK_COUNT) throw new RangeError(`faceOvalRegion: expected ${2 * LANDMARK_COUNT} values, got ${landmarks.length}`);
  const points = new Float64Array(2 * FACE_OVAL.length);
  for (let p = 0; p < FACE_OVAL.length; p++) {
    const u = landmarks[2 * FACE_OVAL[p]!]!, v = landmarks[2 * FACE_OVAL[p]! + 1]!;
    if (!Number.isFinite(u) || !Number.isFinite(v)) return undefined;
    [points[2 * p]!, points[2 * p + 1]!] = map(u, v);
  }
  return rasterizePolygon(points, width, height);
}

/** The person region: mask (values in [0, 1], one per pixel) above 0.5. */
export function personRegion(mask: Float32Array): Region {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i]! > 0.5 ? 1 : 0;
  return out;
}

export function regionArea(region: Region): number {
  let n = 0;
  for (let i = 0; i < region.length; i++) n += region[i]!;
  return n;
}
