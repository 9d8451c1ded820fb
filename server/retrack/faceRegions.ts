/**
 * The landmark sets the fidelity measure averages over, taken from MediaPipe's
 * own connection lists (@mediapipe/tasks-vision's FaceLandmarker constants, the
 * ones its drawing utilities use), so they are the regions MediaPipe means.
 */
import { FaceLandmarker } from '@mediapipe/tasks-vision';

/** The 468 points of the face mesh (the 10 iris points, 468..477, are not part of it). */
export const MESH_POINT_COUNT = 468;

function pointsOf(...connectionLists: { start: number; end: number }[][]): Uint16Array {
  const ids = new Set<number>();
  for (const list of connectionLists) for (const { start, end } of list) { ids.add(start); ids.add(end); }
  return Uint16Array.from([...ids].sort((a, b) => a - b));
}

export const FACE_REGIONS = {
  /** The 40 points of the outer and inner lip contours. */
  mouth: pointsOf(FaceLandmarker.FACE_LANDMARKS_LIPS),
  /** The 32 points of both eyelid contours (16 an eye; brows and irises excluded). */
  eyes: pointsOf(FaceLandmarker.FACE_LANDMARKS_LEFT_EYE, FaceLandmarker.FACE_LANDMARKS_RIGHT_EYE),
  /** Every mesh point. */
  face: Uint16Array.from({ length: MESH_POINT_COUNT }, (_, i) => i),
} as const;

export type FaceRegion = keyof typeof FACE_REGIONS;

/**
 * Inner-lip points facing each other across the mouth (upper, lower): the
 * middle of the inner contour (13/14) and its neighbours either side, so one
 * noisy point does not decide the opening.
 */
export const INNER_LIP_PAIRS: readonly (readonly [number, number])[] = [[82, 87], [13, 14], [312, 317]];
