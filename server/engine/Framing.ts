// The call's framing: where the avatar sits in the output frame, like a webcam shows a
// person (head, hair, neck and shoulders, the face about 45% of the frame height), in
// any output size (16:9 by default).
//
// The output camera keeps the model camera's centre and orientation (at (0, 0,
// distance), looking down -z) and changes only its intrinsics: a focal length chosen so
// that the face has the wanted height, and a principal point that puts the face a little
// above the middle. So every output pixel looks along a ray of the same pencil the
// avatar was trained on (a homography of the training view): nothing new is asked of
// the model, and the same rays reach the capture's background and body plates through
// the reference rotation (plateSourcePositions).
//
// The face is measured on MediaPipe's canonical mesh (cm, MODEL_UNITS_PER_CM = 0.1):
// forehead landmark 10 at y = 8.26, z = 4.48 and chin 152 at y = -9.40, z = 4.26, so
// the face is 1.766 model units tall, centred at y = -0.057, its front about z = 0.44.
import type { Intrinsics } from '../../shared/dataset/format';
import type { CameraConfig } from './AvatarModelTypes';
import { lookAtRotation, type PoseReference } from './PoseMapping';

/** A pinhole camera at (0, 0, distance) looking down -z, in pixels of a width x height image (y down). */
export interface PixelCamera {
  readonly width: number;
  readonly height: number;
  readonly distance: number;
  /** Focal length, pixels. */
  readonly focalPx: number;
  /** Principal point, pixels (pixel centres at +0.5). */
  readonly cx: number;
  readonly cy: number;
}

export interface FramingOptions {
  /** Forehead-to-chin height over the frame height. */
  readonly faceHeightFraction: number;
  /** Where the face's centre sits, from the top, as a fraction of the frame height. */
  readonly faceCentreFromTop: number;
}

/** Calls show a person with the face 40-50% of the frame height, the eyes above the middle. */
export const CALL_FRAMING: FramingOptions = { faceHeightFraction: 0.45, faceCentreFromTop: 0.43 };

/** The canonical face (model units), from MediaPipe's canonical mesh (see the file comment). */
export const CANONICAL_FACE = { height: 1.766, centreY: -0.057, frontZ: 0.44 } as const;

/** The model's own square view as a PixelCamera (principal point at the centre). */
export function modelPixelCamera(camera: CameraConfig, width: number, height: number): PixelCamera {
  return { width, height, distance: camera.distance, focalPx: camera.focal * height, cx: width / 2, cy: height / 2 };
}

/** The output camera that frames the avatar of `camera` like a call (see the file comment). */
export function framingCamera(camera: CameraConfig, width: number, height: number, o: FramingOptions = CALL_FRAMING): PixelCamera {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0))
    throw new RangeError(`framing: width and height must be positive integers, got ${width}x${height}`);
  if (!(o.faceHeightFraction > 0 && o.faceHeightFraction < 1 && o.faceCentreFromTop > 0 && o.faceCentreFromTop < 1))
    throw new RangeError('framing: faceHeightFraction and faceCentreFromTop must be in (0, 1)');
  const depth = camera.distance - CANONICAL_FACE.frontZ;
  if (!(depth > 0)) throw new RangeError(`framing: camera distance ${camera.distance} is inside the face`);
  const focalPx = (o.faceHeightFraction * height * depth) / CANONICAL_FACE.height;
  // v = cy - f y / depth puts the face centre (y = centreY) at faceCentreFromTop * height.
  const cy = o.faceCentreFromTop * height + (focalPx * CANONICAL_FACE.centreY) / depth;
  return { width, height, distance: camera.distance, focalPx, cx: width / 2, cy };
}

/**
 * World rays (origin at the camera, unit directions) of the given pixels (row-major
 * indices; all of them when omitted), in the model camera's frame (y up).
 */
export function pixelRays(
  cam: PixelCamera, pixels?: ArrayLike<number>, out?: { origins: Float32Array; dirs: Float32Array },
): { origins: Float32Array; dirs: Float32Array } {
  const n = pixels ? pixels.length : cam.width * cam.height;
  const origins = out?.origins ?? new Float32Array(3 * n), dirs = out?.dirs ?? new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const p = pixels ? pixels[i]! : i;
    const u = p % cam.width, v = (p - u) / cam.width;
    const dx = (u + 0.5 - cam.cx) / cam.focalPx, dy = -(v + 0.5 - cam.cy) / cam.focalPx;
    const inv = 1 / Math.hypot(dx, dy, 1);
    origins[3 * i] = 0;
    origins[3 * i + 1] = 0;
    origins[3 * i + 2] = cam.distance;
    dirs[3 * i] = dx * inv;
    dirs[3 * i + 1] = dy * inv;
    dirs[3 * i + 2] = -inv;
  }
  return { origins, dirs };
}

/**
 * For every pixel of `cam` (row-major), where its ray meets an image taken by the real
 * camera with intrinsics `source` (u, v in that image's pixels, centres at +0.5): the
 * model camera is the real one turned by the reference's look-at rotation, so this is a
 * homography. Used to bring the capture's plates (background, body) into the output view.
 * Rays that point away from the real camera get NaN.
 */
export function plateSourcePositions(cam: PixelCamera, reference: PoseReference, source: Intrinsics): Float32Array {
  const q = lookAtRotation(reference), out = new Float32Array(cam.width * cam.height * 2);
  let o = 0;
  for (let j = 0; j < cam.height; j++)
    for (let i = 0; i < cam.width; i++) {
      const dx = (i + 0.5 - cam.cx) / cam.focalPx, dy = -(j + 0.5 - cam.cy) / cam.focalPx, dz = -1;
      const x = q[0]! * dx + q[1]! * dy + q[2]! * dz, y = q[3]! * dx + q[4]! * dy + q[5]! * dz, z = q[6]! * dx + q[7]! * dy + q[8]! * dz;
      const ok = z < -1e-9;
      out[o++] = ok ? source.cx + (source.fx * x) / -z : Number.NaN;
      out[o++] = ok ? source.cy - (source.fy * y) / -z : Number.NaN;
    }
  return out;
}
