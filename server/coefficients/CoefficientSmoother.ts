/**
 * One Euro smoothing of a peer's decoded frames, so that avatars rendered
 * from the server's view (recording, previews, re-broadcast) do not show the
 * tracker's frame-to-frame jitter.
 *
 * Filters run on the sender's capture timestamps, which reflect when each
 * frame was sampled; receive times would fold network jitter into the signal.
 */
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { CoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { normalizeQuaternion, type Quaternion, type Vec3 } from '../../shared/coefficients/pose';
import { dequantizeCode } from '../../shared/expression/codeQuantization';
import { OneEuroFilter, type OneEuroParams } from './OneEuroFilter';

export interface SmoothingParams {
  /** Scores are 0..1; a blink sweeps ~1 unit in ~0.1 s (10 units/s). */
  blendshapes: OneEuroParams;
  /** Centimetres; quick head motion is tens of cm/s. */
  translation: OneEuroParams;
  /** Quaternion components; a fast 90°/s turn moves them ~0.8 units/s. */
  rotation: OneEuroParams;
  /** A capture-time gap longer than this restarts the filters instead of gliding across it. */
  maxGapMs: number;
}

// Starting points chosen so each channel's cutoff reaches ~10 Hz at the fast
// speeds noted above (minCutoff + beta · speed) while staying near 1 Hz at
// rest. They are reasoned defaults, not values tuned against recordings.
export const DEFAULT_SMOOTHING: SmoothingParams = {
  blendshapes: { minCutoff: 1.5, beta: 1, dCutoff: 1 },
  translation: { minCutoff: 1, beta: 0.5, dCutoff: 1 },
  rotation: { minCutoff: 1, beta: 10, dCutoff: 1 },
  maxGapMs: 500,
};

export interface SmoothedFace {
  /** Sequence and capture time of the newest frame folded into the filters. */
  sequence: number;
  captureTimeMs: number;
  confidence: number;
  blendshapes: Float32Array;
  /** Unit quaternion [x, y, z, w] with w >= 0. */
  rotation: Quaternion;
  translationCm: Vec3;
  /** The expression code (values q / 127), smoothed like the scores; null when the newest frame had none. */
  code: Float32Array | null;
}

export class CoefficientSmoother {
  private readonly maxGapMs: number;
  private readonly blendshapeFilter: OneEuroFilter;
  private readonly translationFilter: OneEuroFilter;
  private readonly rotationFilter: OneEuroFilter;
  private readonly blendshapeParams: OneEuroParams;
  /** Made for the code length in use (a code packet after blendshape ones, or a new length, starts it afresh). */
  private codeFilter: OneEuroFilter | null = null;
  private latest: SmoothedFace | null = null;
  // Filtered rotation before canonicalization; incoming quaternions are
  // sign-aligned to it so q and -q (same rotation) do not average to zero.
  private rotationState: Quaternion | null = null;

  constructor(params: SmoothingParams = DEFAULT_SMOOTHING) {
    if (!(Number.isFinite(params.maxGapMs) && params.maxGapMs > 0)) {
      throw new RangeError(`maxGapMs must be a positive finite number; got ${params.maxGapMs}`);
    }
    this.maxGapMs = params.maxGapMs;
    this.blendshapeFilter = new OneEuroFilter(BLENDSHAPE_COUNT, params.blendshapes);
    this.blendshapeParams = params.blendshapes;
    this.translationFilter = new OneEuroFilter(3, params.translation);
    this.rotationFilter = new OneEuroFilter(4, params.rotation);
  }

  /**
   * Folds in an accepted frame. Keep-alives carry no tracking data and are
   * skipped; a frame without a face clears the state, so a face that comes
   * back starts from where it is rather than gliding in from where it was.
   */
  update(frame: Readonly<CoefficientFrame>): void {
    if (frame.keepAlive) return;
    if (!frame.facePresent) {
      this.reset();
      return;
    }
    if (this.latest !== null) {
      const gapMs = frame.captureTimeMs - this.latest.captureTimeMs;
      // gapMs <= 0 means the sender's clock stepped back; restart rather than stall.
      if (gapMs <= 0 || gapMs > this.maxGapMs) this.reset();
    }
    const timeSec = frame.captureTimeMs / 1000;
    const blendshapes = Float32Array.from(this.blendshapeFilter.filter(frame.blendshapes, timeSec));
    const translation = this.translationFilter.filter(frame.translationCm, timeSec);
    let code: Float32Array | null = null;
    if (frame.code) {
      // Code values are tanh outputs in [-1, 1], moving like scores: the scores' filter settings.
      if (this.codeFilter?.channels !== frame.code.length) this.codeFilter = new OneEuroFilter(frame.code.length, this.blendshapeParams);
      code = Float32Array.from(this.codeFilter.filter(dequantizeCode(frame.code), timeSec));
    } else {
      this.codeFilter = null;
    }
    const filteredRotation = this.rotationFilter.filter(this.alignSign(frame.rotation), timeSec);
    this.rotationState = [
      filteredRotation[0] ?? 0,
      filteredRotation[1] ?? 0,
      filteredRotation[2] ?? 0,
      filteredRotation[3] ?? 1,
    ];
    this.latest = {
      sequence: frame.sequence,
      captureTimeMs: frame.captureTimeMs,
      confidence: frame.confidence,
      blendshapes,
      rotation: normalizeQuaternion(this.rotationState),
      translationCm: [translation[0] ?? 0, translation[1] ?? 0, translation[2] ?? 0],
      code,
    };
  }

  /** The smoothed face, or null when no face is currently tracked. */
  current(): SmoothedFace | null {
    return this.latest;
  }

  reset(): void {
    this.blendshapeFilter.reset();
    this.translationFilter.reset();
    this.rotationFilter.reset();
    this.codeFilter = null;
    this.latest = null;
    this.rotationState = null;
  }

  private alignSign(rotation: Quaternion): Quaternion {
    const state = this.rotationState;
    if (state === null) return rotation;
    const dot = state[0] * rotation[0] + state[1] * rotation[1] + state[2] * rotation[2] + state[3] * rotation[3];
    return dot < 0 ? [-rotation[0], -rotation[1], -rotation[2], -rotation[3]] : rotation;
  }
}
