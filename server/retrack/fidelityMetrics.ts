/**
 * The fidelity figures of two re-tracked faces (pose removed, ./FaceNormalizer.ts):
 * mean landmark distance over the mouth, the eyes and the whole face, and the
 * error of lip opening, in px at 512 px face scale.
 *
 * Distances are taken in the face's frontal plane (x, y of the canonical frame),
 * as talking-head papers take keypoint distances in the image: MediaPipe's z is
 * a relative depth estimated from a single image, several times noisier than
 * x and y, and would mostly add its noise.
 */
import { FACE_REGIONS, INNER_LIP_PAIRS } from './faceRegions';
import type { FidelitySummary, FrameFidelity, RetrackedFace } from './RetrackTypes';

function meanDistance(a: Float32Array, b: Float32Array, ids: Uint16Array): number {
  let sum = 0;
  for (const id of ids) sum += Math.hypot(a[id * 3]! - b[id * 3]!, a[id * 3 + 1]! - b[id * 3 + 1]!);
  return sum / ids.length;
}

/** Inner-lip vertical distance (upper minus lower, y up), px at 512 px face scale; negative only if the lips cross. */
export function lipOpeningPx(face: RetrackedFace): number {
  let sum = 0;
  for (const [upper, lower] of INNER_LIP_PAIRS) sum += face.facePoints[upper * 3 + 1]! - face.facePoints[lower * 3 + 1]!;
  return sum / INNER_LIP_PAIRS.length;
}

/** How far `render`'s expression is from `original`'s (symmetric in the two but for the named openings). */
export function compareFaces(render: RetrackedFace, original: RetrackedFace): FrameFidelity {
  const a = render.facePoints, b = original.facePoints;
  const renderLipOpeningPx = lipOpeningPx(render), originalLipOpeningPx = lipOpeningPx(original);
  return {
    mouthPx: meanDistance(a, b, FACE_REGIONS.mouth),
    eyesPx: meanDistance(a, b, FACE_REGIONS.eyes),
    facePx: meanDistance(a, b, FACE_REGIONS.face),
    lipOpeningPx: Math.abs(renderLipOpeningPx - originalLipOpeningPx),
    renderLipOpeningPx,
    originalLipOpeningPx,
  };
}

/**
 * Means over the frames where both sides have a face; frames where either has none
 * are counted in `frames` and `facesFound`, never averaged in. A caller comparing a
 * baseline passes the baseline's faces as `render` beside the same originals.
 */
export function summarizeFidelity(frames: readonly { render: RetrackedFace | null; original: RetrackedFace | null }[]): FidelitySummary {
  const sums = { mouthPx: 0, eyesPx: 0, facePx: 0, lipOpeningPx: 0 };
  let render = 0, original = 0, compared = 0;
  for (const frame of frames) {
    if (frame.render) render++;
    if (frame.original) original++;
    if (!frame.render || !frame.original) continue;
    const f = compareFaces(frame.render, frame.original);
    sums.mouthPx += f.mouthPx; sums.eyesPx += f.eyesPx; sums.facePx += f.facePx; sums.lipOpeningPx += f.lipOpeningPx;
    compared++;
  }
  const mean = (sum: number) => (compared > 0 ? sum / compared : Number.NaN);
  return {
    frames: frames.length,
    facesFound: { render, original },
    comparedFrames: compared,
    mouthPx: mean(sums.mouthPx), eyesPx: mean(sums.eyesPx), facePx: mean(sums.facePx), lipOpeningPx: mean(sums.lipOpeningPx),
  };
}
