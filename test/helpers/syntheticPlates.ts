/**
 * Synthetic plate samples: a known room (a colour ramp across, bands down) and
 * a person (head with hair at its sides, neck, shirt) whose head sways and
 * whose mouth opens over a still body, with landmarks on the face oval. The
 * plate estimator's test checks the plates against them; the onboarding
 * upload test sends them as a capture page would.
 */
import { FACE_OVAL } from '../../shared/dataset/faceOval';
import { LANDMARK_COUNT } from '../../shared/dataset/format';
import type { PlateSample } from '../../server/dataset/plates/PlateEstimator';

export const SKIN = [205, 150, 120];
export const HAIR = [70, 45, 25];
export const NECK = [190, 135, 105];
export const SHIRT = [30, 60, 150];

/** The room: red ramps left to right, green in bands of 20 rows, blue fixed. */
export function room(x: number, y: number): number[] {
  return [40 + Math.floor(x / 2) % 200, 60 + 40 * (Math.floor(y / 20) % 3), 90];
}

export interface Person { cx: number; cy: number; rx: number; ry: number; chinDrop: number }
/** Where the body (neck, shirt) stands: it does not move; the head does. */
export const BODY_X = 160;
export const NECK_HALF_WIDTH = 14;
/** The mouth's corners sit this many face half-heights below the face's centre. */
export const MOUTH_BELOW_CENTRE = 0.45;

/** Which part of the person covers (x, y), or null: hair beside the face, face, neck, shirt. */
export function partAt(p: Person, x: number, y: number): number[] | null {
  const fx = (x - p.cx) / p.rx; const fy = (y - p.cy) / (p.ry + (y > p.cy ? p.chinDrop : 0));
  if (fx * fx + fy * fy <= 1) return SKIN;
  // Hair: a band beside the face, from the brow down to just above the chin.
  if (Math.abs(x - p.cx) <= p.rx + 10 && y >= p.cy - p.ry && y <= p.cy + 0.7 * p.ry) return HAIR;
  if (y > 140 && Math.abs(x - BODY_X) <= 90) return SHIRT;
  if (Math.abs(x - BODY_X) <= NECK_HALF_WIDTH && y > p.cy) return NECK;
  return null;
}

export function landmarksOf(p: Person): Float32Array {
  const points = new Float32Array(LANDMARK_COUNT * 2);
  for (let k = 0; k < LANDMARK_COUNT; k += 1) { points[k * 2] = p.cx; points[k * 2 + 1] = p.cy; }
  // The oval loop starts at the forehead (10) and runs down the image's right side to the chin (152).
  FACE_OVAL.forEach((index, j) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * j) / FACE_OVAL.length;
    const ry = p.ry + (Math.sin(angle) > 0 ? p.chinDrop : 0);
    points[index * 2] = p.cx + p.rx * Math.cos(angle);
    points[index * 2 + 1] = p.cy + ry * Math.sin(angle);
  });
  for (const [index, side] of [[33, -1], [263, 1]] as const) {
    points[index * 2] = p.cx + side * 0.5 * p.rx; points[index * 2 + 1] = p.cy - 0.2 * p.ry;
  }
  // The mouth's corners (61, 291), where the neck fill starts.
  for (const [index, side] of [[61, -1], [291, 1]] as const) {
    points[index * 2] = p.cx + side * 0.35 * p.rx; points[index * 2 + 1] = p.cy + MOUTH_BELOW_CENTRE * p.ry;
  }
  return points;
}

/** The i-th of `count` poses: the head sways 12 px either side and the mouth opens every third. */
export function personAt(i: number, count: number): Person {
  return { cx: BODY_X + 12 * Math.sin((2 * Math.PI * i) / count), cy: 70, rx: 30, ry: 40, chinDrop: i % 3 === 0 ? 6 : 0 };
}

/** The frame of `p` in the room, width x height, with its hard person mask and landmarks. */
export function syntheticPlateSample(index: number, p: Person, width: number, height: number): PlateSample {
  const rgb = new Uint8Array(width * height * 3);
  const person = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const part = partAt(p, x + 0.5, y + 0.5);
      const i = y * width + x;
      rgb.set(part ?? room(x, y), i * 3);
      person[i] = part ? 255 : 0;
    }
  }
  return { index, rgb, person, landmarks: landmarksOf(p) };
}
