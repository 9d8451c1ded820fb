/**
 * The driven face (MediaPipe's 52 scores and pose) as the model's inputs, through
 * the same mapping training used (server/engine/PoseMapping). An avatar with an
 * expression encoder adds its projection of the face's code, when the face has one
 * (code packets, issue 16): ExpressionEncoder.applyCode, as in training. Live, the pose
 * reference is a slow moving average of the sender's own head position: the avatar
 * stays centred whatever the sender's distance to the camera, while head motion
 * relative to where they usually sit is kept.
 */
import type { AvatarConfig, HeadPose } from '../engine/AvatarModelTypes';
import { expressionCoefficients, headPoseFromMediaPipe } from '../engine/PoseMapping';
import type { ExpressionEncoder } from '../encoder/ExpressionEncoder';
import type { FaceState } from './DrivenFace';

/** Seconds over which the live reference follows the sender's head position. */
const REFERENCE_TIME_CONSTANT_S = 3;

export class FaceToModelInputs {
  readonly #config: AvatarConfig;
  readonly #coefficients: Float32Array;
  readonly #encoder: ExpressionEncoder | null;
  #reference: [number, number, number] | null = null;
  #lastAt = 0;

  constructor(config: AvatarConfig, encoder: ExpressionEncoder | null = null) {
    this.#config = config;
    this.#encoder = encoder;
    this.#coefficients = new Float32Array(config.expressionCount);
  }

  map(face: Pick<FaceState, 'blendshapes' | 'rotation' | 'translationCm'> & { code?: ArrayLike<number> | null }, nowMs = performance.now()): { coefficients: Float32Array; pose: HeadPose } {
    const t = face.translationCm;
    if (!this.#reference) {
      this.#reference = [t[0], t[1], t[2]];
    } else {
      const k = 1 - Math.exp(-Math.max(0, nowMs - this.#lastAt) / 1000 / REFERENCE_TIME_CONSTANT_S);
      for (let i = 0; i < 3; i++) this.#reference[i]! += k * (t[i]! - this.#reference[i]!);
    }
    this.#lastAt = nowMs;
    expressionCoefficients(face.blendshapes, this.#config, this.#coefficients);
    // A code of another length cannot come from this avatar's encoder (the stream drops it): blendshapes alone.
    if (this.#encoder && face.code && face.code.length === this.#encoder.codeSize) this.#encoder.applyCode(this.#coefficients, face.code, this.#coefficients as Float32Array<ArrayBuffer>);
    const pose = headPoseFromMediaPipe({ rotation: face.rotation, translationCm: t }, { translationCm: this.#reference });
    return { coefficients: this.#coefficients, pose };
  }
}
