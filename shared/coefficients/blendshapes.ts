/**
 * MediaPipe FaceLandmarker's blendshape categories, in the exact order of
 * `faceBlendshapes[i].categories` (category index i is the array index here).
 *
 * The wire format sends scores by position only, so this order is part of the
 * protocol: reordering or inserting a name is a breaking change that needs a
 * new packet version.
 */
export const BLENDSHAPE_NAMES = [
  '_neutral',
  'browDownLeft',
  'browDownRight',
  'browInnerUp',
  'browOuterUpLeft',
  'browOuterUpRight',
  'cheekPuff',
  'cheekSquintLeft',
  'cheekSquintRight',
  'eyeBlinkLeft',
  'eyeBlinkRight',
  'eyeLookDownLeft',
  'eyeLookDownRight',
  'eyeLookInLeft',
  'eyeLookInRight',
  'eyeLookOutLeft',
  'eyeLookOutRight',
  'eyeLookUpLeft',
  'eyeLookUpRight',
  'eyeSquintLeft',
  'eyeSquintRight',
  'eyeWideLeft',
  'eyeWideRight',
  'jawForward',
  'jawLeft',
  'jawOpen',
  'jawRight',
  'mouthClose',
  'mouthDimpleLeft',
  'mouthDimpleRight',
  'mouthFrownLeft',
  'mouthFrownRight',
  'mouthFunnel',
  'mouthLeft',
  'mouthLowerDownLeft',
  'mouthLowerDownRight',
  'mouthPressLeft',
  'mouthPressRight',
  'mouthPucker',
  'mouthRight',
  'mouthRollLower',
  'mouthRollUpper',
  'mouthShrugLower',
  'mouthShrugUpper',
  'mouthSmileLeft',
  'mouthSmileRight',
  'mouthStretchLeft',
  'mouthStretchRight',
  'mouthUpperUpLeft',
  'mouthUpperUpRight',
  'noseSneerLeft',
  'noseSneerRight',
] as const;

export type BlendshapeName = (typeof BLENDSHAPE_NAMES)[number];

/** Number of blendshape scores per frame (51 ARKit shapes plus `_neutral`). */
export const BLENDSHAPE_COUNT = 52;

const INDEX_BY_NAME: ReadonlyMap<string, number> = new Map(
  BLENDSHAPE_NAMES.map((name, index) => [name, index]),
);

export function isBlendshapeName(name: string): name is BlendshapeName {
  return INDEX_BY_NAME.has(name);
}

/** Position of `name` in a frame's blendshape array; throws for unknown names. */
export function blendshapeIndex(name: string): number {
  const index = INDEX_BY_NAME.get(name);
  if (index === undefined) {
    throw new RangeError(`unknown blendshape name: ${JSON.stringify(name)}`);
  }
  return index;
}
