// MediaPipe's tracking -> the model's inputs. ONE mapping for training (RealDataset) and
// live driving (server/avatar), so a trained avatar is driven exactly as it was fitted.
//
// MediaPipe's facial transformation matrix M = [s R_mp | t] maps the canonical face (cm,
// y up, +z out of the face towards the camera, origin ~7.5 cm behind the nose tip) into
// its camera space (OpenGL: x right, y up, looking down -z, cm). The model's camera is
// fixed at (0, 0, camera.distance) looking down -z with the principal point at the image
// centre, and a head pose maps canonical points as x = S R x_c + T (x_c = R^T (x - T) / S).
//
// Decisions:
// - Units: 1 model unit = 10 cm (MODEL_UNITS_PER_CM = 0.1). The canonical mesh spans
//   x +-7.7, y -9.4..8.3, z -2.4..7.6 cm, i.e. +-0.77 x -0.94..0.83 x -0.24..0.76 units:
//   with hair and the back of the head it fills the default appearance box
//   x[-1.2,1.2] y[-1.1,1.6] z[-1.8,0.9] without any offset, so x_c = 0.1 * x_mediapipe.
// - View: the model's camera looks AT a reference head position t_ref (cm): the camera
//   frame is rotated by Q (lookAtRotation: -z' towards t_ref, no roll). Then the head at
//   t_ref sits on the optical axis, centred in the image, whatever the crop's principal
//   point; the training images are resampled through the same rotation (a homography,
//   exact for a pinhole) in RealDataset, so geometry and pixels agree.
// - Pose: R = Q^T R_mp, T = 0.1 * Q^T (t - t_ref), S = s (MediaPipe's uniform scale, ~1).
//   At the reference T = 0: the head sits at the canonical origin, centred; camera.distance
//   = 0.1 * |t_ref| keeps the real perspective (cameraForReference).
// - Reference: training uses the median translation of the dataset's train frames (robust
//   to a few bad fits). Live driving passes the sender's own running reference (e.g. the
//   median of its first seconds, or a slow moving average) so that the avatar is centred
//   whatever the sender's distance to their camera while head motion relative to that
//   position is kept; passing the current frame's own translation as reference gives zero
//   translation (a head that only rotates, always centred). Live keeps the avatar's
//   camera.distance from training: the sender's distance only affects T via t - t_ref.
import { BLENDSHAPE_NAMES, isBlendshapeName } from '../../shared/coefficients/blendshapes';
import { rotationMatrixFromQuaternion, type Quaternion } from '../../shared/coefficients/pose';
import type { AvatarConfig, CameraConfig, HeadPose } from './AvatarModelTypes';

export const MODEL_UNITS_PER_CM = 0.1;

export type Vec3Cm = readonly [number, number, number];

/** Reference head position in MediaPipe camera space, cm. */
export interface PoseReference {
  readonly translationCm: Vec3Cm;
}

/** A MediaPipe pose as the wire carries it (quaternion [x, y, z, w], cm, scale). */
export interface MediaPipePose {
  readonly rotation: readonly [number, number, number, number];
  readonly translationCm: Vec3Cm;
  readonly scale?: number;
}

/** Non-neutral MediaPipe blendshapes, in MediaPipe order (the default expression names). */
export const NON_NEUTRAL_BLENDSHAPES: readonly string[] = BLENDSHAPE_NAMES.slice(1);

/** Names of the blendshapes driving the E bases: config.expressionNames or the first E non-neutral ones. */
export function expressionNamesOf(config: Pick<AvatarConfig, 'expressionCount' | 'expressionNames'>): readonly string[] {
  return config.expressionNames ?? NON_NEUTRAL_BLENDSHAPES.slice(0, config.expressionCount);
}

/** The model's coefficients from MediaPipe's 52 scores (index = MediaPipe category index). */
export function expressionCoefficients(
  blendshapes52: ArrayLike<number>, config: Pick<AvatarConfig, 'expressionCount' | 'expressionNames'>, out?: Float32Array,
): Float32Array {
  if (blendshapes52.length !== BLENDSHAPE_NAMES.length)
    throw new RangeError(`expressionCoefficients: expected ${BLENDSHAPE_NAMES.length} blendshape scores, got ${blendshapes52.length}`);
  const names = expressionNamesOf(config), c = out ?? new Float32Array(config.expressionCount);
  names.forEach((name, e) => {
    if (!isBlendshapeName(name)) throw new RangeError(`expressionCoefficients: unknown blendshape '${name}'`);
    const v = blendshapes52[BLENDSHAPE_NAMES.indexOf(name)]!;
    c[e] = Number.isFinite(v) ? v : 0;
  });
  return c;
}

/**
 * Row-major Q whose columns are the model camera's axes in MediaPipe camera space:
 * Q (0,0,-1) = t_ref / |t_ref| and the new x axis stays horizontal (no roll).
 */
export function lookAtRotation(ref: PoseReference): Float64Array {
  const [tx, ty, tz] = ref.translationCm, n = Math.hypot(tx, ty, tz);
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`pose reference: translation must be finite and non-zero, got [${tx}, ${ty}, ${tz}]`);
  const z = [-tx / n, -ty / n, -tz / n];
  // x = up x z, normalised (up = +y); degenerate only when looking straight up or down.
  let x = [z[2]!, 0, -z[0]!];
  const xn = Math.hypot(x[0]!, x[2]!);
  if (xn < 1e-9) throw new RangeError('pose reference: head straight above or below the camera');
  x = x.map((v) => v / xn);
  const y = [z[1]! * x[2]! - z[2]! * x[1]!, z[2]! * x[0]! - z[0]! * x[2]!, z[0]! * x[1]! - z[1]! * x[0]!];
  return new Float64Array([x[0]!, y[0]!, z[0]!, x[1]!, y[1]!, z[1]!, x[2]!, y[2]!, z[2]!]);
}

/** The model camera that reproduces the dataset's perspective: distance 0.1 |t_ref|, focal in image heights. */
export function cameraForReference(ref: PoseReference, focal: number): CameraConfig {
  const [tx, ty, tz] = ref.translationCm;
  return { distance: MODEL_UNITS_PER_CM * Math.hypot(tx, ty, tz), focal };
}

/** Per-axis median of translations (cm): the training reference. */
export function medianReference(translations: readonly Vec3Cm[]): PoseReference {
  if (translations.length === 0) throw new RangeError('medianReference: no translations');
  const med = (k: number) => {
    const v = translations.map((t) => t[k]!).sort((a, b) => a - b), m = v.length >> 1;
    return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
  };
  return { translationCm: [med(0), med(1), med(2)] };
}

/** Axis-angle vector of a row-major rotation matrix (robust near 0 and pi). */
export function axisAngleFromMatrix(r: ArrayLike<number>): [number, number, number] {
  const tr = r[0]! + r[4]! + r[8]!, c = Math.min(1, Math.max(-1, (tr - 1) / 2));
  const vx = r[7]! - r[5]!, vy = r[2]! - r[6]!, vz = r[3]! - r[1]!, s2 = Math.hypot(vx, vy, vz); // = 2 sin(theta)
  const th = Math.atan2(s2 / 2, c);
  if (th < 1e-7) return [vx / 2, vy / 2, vz / 2];
  if (Math.PI - th > 1e-4) {
    const k = th / s2;
    return [vx * k, vy * k, vz * k];
  }
  // Near pi the antisymmetric part vanishes: the axis comes from the symmetric part
  // (R + R^T)/2 = c I + (1 - c) a a^T, through its largest diagonal entry, and its sign
  // from the (small but still signed) antisymmetric part.
  const i = r[0]! >= r[4]! && r[0]! >= r[8]! ? 0 : r[4]! >= r[8]! ? 1 : 2, oc = 1 - c;
  const a = [0, 0, 0];
  a[i] = Math.sqrt(Math.max(0, (r[4 * i]! - c) / oc));
  for (let j = 0; j < 3; j++) if (j !== i) a[j] = (r[3 * i + j]! + r[3 * j + i]!) / (2 * a[i]! * oc);
  const sign = a[0]! * vx + a[1]! * vy + a[2]! * vz < 0 ? -1 : 1, n = Math.hypot(a[0]!, a[1]!, a[2]!);
  return [sign * a[0]! * th / n, sign * a[1]! * th / n, sign * a[2]! * th / n];
}

/** Splits a column-major 4x4 similarity (or takes a quaternion pose) into row-major R, t (cm) and s. */
function decompose(pose: MediaPipePose | ArrayLike<number>): { r: number[]; t: Vec3Cm; s: number } {
  if ('rotation' in pose) {
    const q = pose.rotation;
    return { r: rotationMatrixFromQuaternion([q[0], q[1], q[2], q[3]] as Quaternion), t: pose.translationCm, s: pose.scale ?? 1 };
  }
  if (pose.length !== 16) throw new RangeError(`headPoseFromMediaPipe: a matrix needs 16 values, got ${pose.length}`);
  for (let i = 0; i < 16; i++) if (!Number.isFinite(pose[i]!)) throw new RangeError(`headPoseFromMediaPipe: matrix value ${i} is not finite`);
  const lin = [0, 1, 2].flatMap((row) => [0, 1, 2].map((col) => pose[col * 4 + row]!));
  const det = lin[0]! * (lin[4]! * lin[8]! - lin[5]! * lin[7]!) - lin[1]! * (lin[3]! * lin[8]! - lin[5]! * lin[6]!) + lin[2]! * (lin[3]! * lin[7]! - lin[4]! * lin[6]!);
  const s = Math.cbrt(det);
  if (!(s > 0)) throw new RangeError('headPoseFromMediaPipe: matrix is degenerate or mirrored');
  return { r: lin.map((v) => v / s), t: [pose[12]!, pose[13]!, pose[14]!], s };
}

/**
 * MediaPipe pose (4x4 column-major facial transformation matrix, or quaternion +
 * translation cm + scale) -> the model's HeadPose, relative to `reference` (see the file
 * comment). The rotation is re-orthonormalised through the axis-angle form.
 */
export function headPoseFromMediaPipe(pose: MediaPipePose | ArrayLike<number>, reference: PoseReference): HeadPose {
  const { r, t, s } = decompose(pose), q = lookAtRotation(reference), ref = reference.translationCm;
  const rm = new Float64Array(9), tm = [0, 0, 0];
  // Q^T v: column i of Q dotted with v.
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) rm[3 * i + j] = q[i]! * r[j]! + q[3 + i]! * r[3 + j]! + q[6 + i]! * r[6 + j]!;
    tm[i] = MODEL_UNITS_PER_CM * (q[i]! * (t[0] - ref[0]) + q[3 + i]! * (t[1] - ref[1]) + q[6 + i]! * (t[2] - ref[2]));
  }
  return { rotation: axisAngleFromMatrix(rm), translation: tm, scale: s };
}
