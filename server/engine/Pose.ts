// Head pose and the fixed camera. The camera never moves; the head's pose (axis-angle
// R, translation T, scale S) is undone on the rays instead of the points:
// x_c = R^T (x - T) / S, so a world ray o + t d becomes o_c + t_c d_c with
// o_c = R^T (o - T) / S, d_c = R^T d (still unit length) and t_c = t / S. Marching the
// canonical ray lets the occupancy grid and clipping box live in canonical head space.
import type { CameraConfig, HeadPose } from './AvatarModelTypes';
import { modelPixelCamera, pixelRays } from './Framing';

/** Row-major 3x3 rotation matrix from an axis-angle vector (Rodrigues). */
export function rotationMatrix(axisAngle: ArrayLike<number>): Float64Array {
  const x = axisAngle[0]!, y = axisAngle[1]!, z = axisAngle[2]!;
  const th = Math.hypot(x, y, z);
  const m = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  if (th < 1e-12) return m;
  const kx = x / th, ky = y / th, kz = z / th, c = Math.cos(th), s = Math.sin(th), t = 1 - c;
  m.set([
    c + kx * kx * t, kx * ky * t - kz * s, kx * kz * t + ky * s,
    ky * kx * t + kz * s, c + ky * ky * t, ky * kz * t - kx * s,
    kz * kx * t - ky * s, kz * ky * t + kx * s, c + kz * kz * t,
  ]);
  return m;
}

export const IDENTITY_POSE: HeadPose = { rotation: [0, 0, 0], translation: [0, 0, 0], scale: 1 };

/**
 * World rays of pixel centres for the fixed camera at (0, 0, distance) looking down -z,
 * focal length `focal` image heights, y up. Pixels are listed by `pixels` (row-major
 * indices) or all of them when omitted.
 */
export function cameraRays(
  camera: CameraConfig, width: number, height: number, pixels?: ArrayLike<number>,
  out?: { origins: Float32Array; dirs: Float32Array },
): { origins: Float32Array; dirs: Float32Array } {
  return pixelRays(modelPixelCamera(camera, width, height), pixels, out);
}

/** Transforms world rays into canonical head space in place (see the file comment). */
export function raysToCanonical(pose: HeadPose, origins: Float32Array, dirs: Float32Array): void {
  if (!(pose.scale > 0)) throw new RangeError(`pose: scale must be > 0, got ${pose.scale}`);
  const r = rotationMatrix(pose.rotation), t = pose.translation, invS = 1 / pose.scale;
  for (let i = 0; i < origins.length; i += 3) {
    const ox = origins[i]! - t[0]!, oy = origins[i + 1]! - t[1]!, oz = origins[i + 2]! - t[2]!;
    const dx = dirs[i]!, dy = dirs[i + 1]!, dz = dirs[i + 2]!;
    // R^T v: column k of R dotted with v.
    for (let k = 0; k < 3; k++) {
      origins[i + k] = (r[k]! * ox + r[3 + k]! * oy + r[6 + k]! * oz) * invS;
      dirs[i + k] = r[k]! * dx + r[3 + k]! * dy + r[6 + k]! * dz;
    }
  }
}
