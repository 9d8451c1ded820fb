/**
 * The landmarks the expression encoder reads (issue 16): the points that move with
 * expression, taken from MediaPipe's own connection lists so they are the regions
 * MediaPipe means.
 *
 * - lips, 40 points (outer and inner contours): speech lives here, and the blendshapes
 *   summarise it in a handful of scores (jawOpen, mouthClose, funnel, pucker, ...);
 * - eyelids, 32 points: blinks and squints;
 * - brows, 20 points: raises and frowns;
 * - jaw, the 17 face-oval points from ear to ear under the mouth: the jaw's drop and
 *   sideways shift, which the lips alone confuse with lip motion.
 * Not the rigid points (forehead, nose bridge, cheekbones): the pose fit anchors on
 * them, so after pose removal they carry almost nothing but tracker noise. Not the
 * irises: gaze is well served by the eyeLook blendshapes, and 10 more points would add
 * 20 inputs for a motion the avatar's eyes barely render. 109 points, 218 inputs.
 */
import { FaceLandmarker } from '@mediapipe/tasks-vision';

function pointsOf(...connectionLists: { start: number; end: number }[][]): number[] {
  const ids = new Set<number>();
  for (const list of connectionLists) for (const { start, end } of list) { ids.add(start); ids.add(end); }
  return [...ids].sort((a, b) => a - b);
}

/** The lower face oval, ear (361) to ear (132) through the chin (152). */
const JAW = [361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132];

export const EXPRESSION_REGIONS = {
  lips: pointsOf(FaceLandmarker.FACE_LANDMARKS_LIPS),
  eyelids: pointsOf(FaceLandmarker.FACE_LANDMARKS_LEFT_EYE, FaceLandmarker.FACE_LANDMARKS_RIGHT_EYE),
  brows: pointsOf(FaceLandmarker.FACE_LANDMARKS_LEFT_EYEBROW, FaceLandmarker.FACE_LANDMARKS_RIGHT_EYEBROW),
  jaw: JAW,
} as const;

/** Every encoder landmark, in region order (lips, eyelids, brows, jaw), no repeats. */
export const EXPRESSION_LANDMARK_IDS: readonly number[] = (() => {
  const seen = new Set<number>(), out: number[] = [];
  for (const ids of Object.values(EXPRESSION_REGIONS)) for (const id of ids) if (!seen.has(id)) { seen.add(id); out.push(id); }
  return out;
})();
