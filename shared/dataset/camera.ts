/**
 * The camera under which MediaPipe's facial transformation matrix agrees with
 * the image, and the maths to express it for a fixed square crop.
 *
 * MediaPipe's face-geometry pipeline estimates the pose in a virtual perspective
 * camera with a 63° vertical field of view over the full frame, near 1 cm and
 * far 10000 cm, principal point at the frame centre (the
 * FaceGeometryEnvGeneratorCalculator options in
 * mediapipe/modules/face_geometry/face_geometry_from_landmarks.pbtxt and the
 * face_landmarker graph; the pinhole it implies is in
 * mediapipe/modules/face_geometry/libs/geometry_pipeline.cc, where screen
 * landmarks are unprojected through a frustum symmetric about the centre).
 * The camera space is OpenGL's: x right, y up, looking down -z, centimetres.
 *
 * Cropping does not move the camera: only the principal point shifts (by the
 * crop origin) and the focal length scales with the resize to CROP_SIZE. So the
 * pose stays MediaPipe's matrix unchanged; the crop changes the intrinsics.
 * tests in test/e2e/prepare.test.ts check this by reprojecting the canonical mesh.
 *
 * Pure math: shared by browser and server code.
 */
import { CROP_SIZE, type CropWindow, type Intrinsics } from './format';

export const MEDIAPIPE_VERTICAL_FOV_DEG = 63;

/** Focal length in pixels of MediaPipe's virtual camera for a frame `frameHeight` pixels tall. */
export function focalLengthPx(frameHeight: number, verticalFovDeg = MEDIAPIPE_VERTICAL_FOV_DEG): number {
  return frameHeight / 2 / Math.tan((verticalFovDeg * Math.PI) / 360);
}

/** Intrinsics for the crop of a full frame (all sizes in the same pixels, e.g. source pixels). */
export function cropIntrinsics(frameWidth: number, frameHeight: number, crop: CropWindow, imageSize = CROP_SIZE): Intrinsics {
  const scale = imageSize / crop.size;
  const f = focalLengthPx(frameHeight) * scale;
  return {
    fx: f,
    fy: f,
    cx: (frameWidth / 2 - crop.x) * scale,
    cy: (frameHeight / 2 - crop.y) * scale,
    width: imageSize,
    height: imageSize,
  };
}

/**
 * The intrinsics of the plate images (the whole frame, `sourceWidth` x
 * `sourceHeight` pixels, scaled to `plateWidth` x `plateHeight`) from the
 * crop's (`crop` in source pixels, `cropK` its CROP_SIZE image): the same
 * camera, only the pixel grid changes. Derived from the crop rather than
 * recomputed from the field of view so the two cannot disagree; x and y scale
 * separately because the plate's whole-pixel size rounds each side on its own.
 */
export function plateIntrinsics(cropK: Intrinsics, crop: CropWindow, sourceWidth: number, sourceHeight: number, plateWidth: number, plateHeight: number): Intrinsics {
  const toSource = crop.size / cropK.width;
  const sx = plateWidth / sourceWidth;
  const sy = plateHeight / sourceHeight;
  return {
    fx: cropK.fx * toSource * sx,
    fy: cropK.fy * toSource * sy,
    cx: (cropK.cx * toSource + crop.x) * sx,
    cy: (cropK.cy * toSource + crop.y) * sy,
    width: plateWidth,
    height: plateHeight,
  };
}

/**
 * Projects canonical-model points (x, y, z triples, cm) through a column-major
 * 4x4 pose and the intrinsics into image pixels (u, v pairs). MediaPipe's camera
 * looks down -z with y up; image v grows downwards, hence the sign flips.
 */
export function projectPoints(points: ArrayLike<number>, pose: ArrayLike<number>, k: Intrinsics, out?: Float32Array): Float32Array {
  const count = Math.floor(points.length / 3);
  const result = out ?? new Float32Array(count * 2);
  const m = (i: number) => pose[i] ?? Number.NaN;
  for (let i = 0; i < count; i += 1) {
    const x = points[i * 3] ?? 0;
    const y = points[i * 3 + 1] ?? 0;
    const z = points[i * 3 + 2] ?? 0;
    const cx = m(0) * x + m(4) * y + m(8) * z + m(12);
    const cy = m(1) * x + m(5) * y + m(9) * z + m(13);
    const cz = m(2) * x + m(6) * y + m(10) * z + m(14);
    const depth = -cz;
    result[i * 2] = k.cx + (k.fx * cx) / depth;
    result[i * 2 + 1] = k.cy - (k.fy * cy) / depth;
  }
  return result;
}

/**
 * MediaPipe's normalized landmarks (x, y, z triples over the full frame) to
 * crop pixels (u, v pairs). Frame size and crop in the same pixels.
 */
export function landmarksToCropPixels(
  normalized: ArrayLike<number>, frameWidth: number, frameHeight: number, crop: CropWindow, imageSize = CROP_SIZE,
): Float32Array {
  const count = Math.floor(normalized.length / 3);
  const scale = imageSize / crop.size;
  const out = new Float32Array(count * 2);
  for (let i = 0; i < count; i += 1) {
    out[i * 2] = ((normalized[i * 3] ?? Number.NaN) * frameWidth - crop.x) * scale;
    out[i * 2 + 1] = ((normalized[i * 3 + 1] ?? Number.NaN) * frameHeight - crop.y) * scale;
  }
  return out;
}

/** Mean Euclidean distance between the first `count` points of two (u, v) arrays. */
export function meanPointDistance(a: ArrayLike<number>, b: ArrayLike<number>, count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i += 1) {
    const du = (a[i * 2] ?? Number.NaN) - (b[i * 2] ?? Number.NaN);
    const dv = (a[i * 2 + 1] ?? Number.NaN) - (b[i * 2 + 1] ?? Number.NaN);
    sum += Math.hypot(du, dv);
  }
  return sum / count;
}
