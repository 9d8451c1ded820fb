// A head-like scene with a known answer, for training tests until real datasets exist:
// a solid ellipsoid "head" in canonical space with two static eyes, a mouth whose
// opening grows with coefficient 0 (and whose lower lip pushes out of the surface, so
// shape moves too) and brows that rise with coefficient 1. Frames are rendered by
// fine-step analytic volume rendering (independent of the model's code path) on white,
// under random head poses, with masks (1 - final transmittance).
import type { AvatarConfig, HeadPose } from './AvatarModelTypes';
import { cameraRays, raysToCanonical } from './Pose';
import { seededRandom } from '../../shared/coefficients/seededRandom';

export interface SyntheticFrame {
  readonly coefficients: Float32Array;
  readonly pose: HeadPose;
  /** [H*W*3] in [0,1], composited on white. */
  readonly image: Float32Array;
  /** [H*W] opacity in [0,1]. */
  readonly mask: Float32Array;
}

export interface SyntheticOptions {
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  readonly seed: number;
  /** Largest |yaw| in radians (pitch and roll get half). */
  readonly maxRotation?: number;
}

const CENTRE = [0, 0.15, -0.45], RADII = [0.85, 1.05, 0.9];
const SKIN = [0.86, 0.66, 0.52], LIPS = [0.55, 0.12, 0.14], BROW = [0.3, 0.2, 0.12], EYE = [0.12, 0.16, 0.3];
const DENSITY = 40;

const smooth = (e0: number, e1: number, x: number) => {
  const t = Math.min(Math.max((x - e0) / (e1 - e0), 0), 1);
  return t * t * (3 - 2 * t);
};

/** Soft inside-ness of a 2D ellipse patch on the front of the face, 1 inside. */
function patch(x: number, y: number, cx: number, cy: number, rx: number, ry: number): number {
  const r = Math.hypot((x - cx) / rx, (y - cy) / ry);
  return 1 - smooth(0.8, 1.2, r);
}

/** Density and colour at canonical point (x, y, z) for coefficients c0, c1. */
export function sceneField(x: number, y: number, z: number, c0: number, c1: number, rgb: number[]): number {
  const mouthY = -0.45 - 0.06 * c0, mouthH = 0.06 + 0.12 * c0;
  const mouth = patch(x, y, 0, mouthY, 0.32, mouthH);
  // The lower lip region bulges forward by up to 0.12 with the mouth open.
  const bulge = 0.12 * c0 * patch(x, y, 0, mouthY - mouthH, 0.35, 0.15);
  const ex = (x - CENTRE[0]!) / RADII[0]!, ey = (y - CENTRE[1]!) / RADII[1]!, ez = (z - CENTRE[2]! - bulge) / RADII[2]!;
  const r = Math.hypot(ex, ey, ez);
  const sigma = DENSITY * (1 - smooth(0.97, 1.0, r));
  const front = smooth(-0.2, 0.1, z);
  const browY = 0.42 + 0.12 * c1;
  const brow = front * Math.max(patch(x, y, -0.33, browY, 0.2, 0.05), patch(x, y, 0.33, browY, 0.2, 0.05));
  const eye = front * Math.max(patch(x, y, -0.3, 0.22, 0.12, 0.07), patch(x, y, 0.3, 0.22, 0.12, 0.07));
  const lips = front * mouth;
  for (let k = 0; k < 3; k++) {
    let v = SKIN[k]! * (0.8 + 0.2 * smooth(-1.2, 0.5, z));
    v += (EYE[k]! - v) * eye;
    v += (BROW[k]! - v) * brow;
    v += (LIPS[k]! - v) * lips;
    rgb[k] = v;
  }
  return sigma;
}

/** Ground-truth render of one frame: fine steps (1/400 of the box's longest edge). */
export function renderScene(config: AvatarConfig, coefficients: ArrayLike<number>, pose: HeadPose, width: number, height: number) {
  const { origins, dirs } = cameraRays(config.camera, width, height);
  raysToCanonical(pose, origins, dirs);
  const b = config.appearanceBox, c0 = coefficients[0] ?? 0, c1 = coefficients[1] ?? 0;
  const step = Math.max(...[0, 1, 2].map((a) => b.max[a]! - b.min[a]!)) / 400;
  const image = new Float32Array(width * height * 3), mask = new Float32Array(width * height), rgb = [0, 0, 0];
  for (let i = 0; i < width * height; i++) {
    const o = [origins[3 * i]!, origins[3 * i + 1]!, origins[3 * i + 2]!], d = [dirs[3 * i]!, dirs[3 * i + 1]!, dirs[3 * i + 2]!];
    let t0 = 0, t1 = Infinity;
    for (let a = 0; a < 3; a++) {
      const ta = (b.min[a]! - o[a]!) / d[a]!, tb = (b.max[a]! - o[a]!) / d[a]!;
      t0 = Math.max(t0, Math.min(ta, tb));
      t1 = Math.min(t1, Math.max(ta, tb));
    }
    let T = 1;
    const col = [0, 0, 0];
    for (let t = t0 + step / 2; t < t1 && T > 1e-4; t += step) {
      const s = sceneField(o[0]! + t * d[0]!, o[1]! + t * d[1]!, o[2]! + t * d[2]!, c0, c1, rgb);
      if (s <= 0) continue;
      const a = 1 - Math.exp(-s * step);
      for (let k = 0; k < 3; k++) col[k]! += T * a * rgb[k]!;
      T *= 1 - a;
    }
    for (let k = 0; k < 3; k++) image[3 * i + k] = col[k]! + T;
    mask[i] = 1 - T;
  }
  return { image, mask };
}

/** Frames with uniform random coefficients in [0,1] (the rest zero) and random poses. */
export function syntheticFrames(config: AvatarConfig, o: SyntheticOptions): SyntheticFrame[] {
  const rand = seededRandom(o.seed), maxRot = o.maxRotation ?? 0.3, out: SyntheticFrame[] = [];
  for (let f = 0; f < o.frames; f++) {
    const coefficients = new Float32Array(config.expressionCount);
    for (let e = 0; e < Math.min(2, coefficients.length); e++) coefficients[e] = rand();
    const u = () => 2 * rand() - 1;
    const pose: HeadPose = {
      rotation: [0.5 * maxRot * u(), maxRot * u(), 0.5 * maxRot * u()],
      translation: [0.05 * u(), 0.05 * u(), 0.05 * u()],
      scale: 1 + 0.05 * u(),
    };
    out.push({ coefficients, pose, ...renderScene(config, coefficients, pose, o.width, o.height) });
  }
  return out;
}
