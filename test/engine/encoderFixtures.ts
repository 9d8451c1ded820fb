// Landmarks with a known expression for the expression encoder's tests: MediaPipe's
// canonical mesh (the real face model bundle) with the lower face dropped by `open`
// (jaw and lower lip, as the synthetic scene's coefficient 0 opens its mouth) and the
// brows raised by `brow` (coefficient 1), drawn under a random in-plane pose.
import { FaceNormalizer } from '../../server/retrack/FaceNormalizer';
import { EXPRESSION_REGIONS } from '../../shared/expression/expressionLandmarks';
import { FACE_LANDMARK_COUNT } from '../../shared/expression/ExpressionTypes';
import { FACE_MODEL_PATH } from '../helpers/sharedData';

export const normalizer = FaceNormalizer.fromModel(FACE_MODEL_PATH);

/** In-plane pose of a face in the image: rotation (rad), px per canonical px, centre. */
export interface ImagePose {
  readonly angle: number;
  readonly scale: number;
  readonly cx: number;
  readonly cy: number;
}

const BROWS = new Set(EXPRESSION_REGIONS.brows);

/** [478*2] image px (y down) of the canonical face with the mouth opened by `open` (0..1) and the brows raised by `brow`. */
export function syntheticLandmarks(open: number, brow: number, pose: ImagePose): Float32Array {
  const mesh = normalizer.mesh, s = normalizer.pxPerCm;
  const mouthY = ((mesh[3 * 13 + 1]! + mesh[3 * 14 + 1]!) / 2) * s;
  const out = new Float32Array(2 * FACE_LANDMARK_COUNT), c = Math.cos(pose.angle), sn = Math.sin(pose.angle);
  for (let i = 0; i < FACE_LANDMARK_COUNT; i++) {
    const j = i < 468 ? i : 33; // irises are not in the canonical mesh
    const x = mesh[3 * j]! * s;
    let y = mesh[3 * j + 1]! * s;
    if (y < mouthY) y -= 14 * open * Math.min(1, (mouthY - y) / 10); // the lower lip and jaw drop
    if (BROWS.has(j)) y += 9 * brow;
    out[2 * i] = pose.cx + pose.scale * (c * x - sn * y);
    out[2 * i + 1] = pose.cy - pose.scale * (sn * x + c * y);
  }
  return out;
}

/** A random in-plane pose from `rand`: +-0.25 rad, scale 0.6..1.0, centre near (256, 280). */
export function randomImagePose(rand: () => number): ImagePose {
  return { angle: 0.5 * (rand() - 0.5), scale: 0.6 + 0.4 * rand(), cx: 256 + 40 * (rand() - 0.5), cy: 280 + 40 * (rand() - 0.5) };
}
