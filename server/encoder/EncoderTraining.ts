/**
 * The trainer's side of the expression encoder (TrainerOptions.encoder): each frame's
 * standardised input computed once, the frame's coefficients (blendshapes + projection .
 * code) on the kernels, and Adam on the encoder's weights from the model's coefficient
 * gradients. A frame without landmarks (no face, or none recorded) is driven by its
 * blendshapes alone (code 0): what a sender without the encoder sends.
 */
import type { Kernels } from '../../kernels/KernelsTypes';
import { poseNormalizedLandmarks, standardize } from '../../shared/expression/expressionInput';
import { ENCODER_PARAM_NAMES, type EncoderCache, type EncoderParams, type ExpressionEncoder } from './ExpressionEncoder';

/** Encoder optimiser state for checkpoints (the encoder's weights are saved with it by the caller). */
export interface EncoderTrainingState {
  /** Adam steps taken (frames with landmarks only: its bias correction counts its own steps). */
  readonly step: number;
  readonly adamM: EncoderParams;
  readonly adamV: EncoderParams;
}

export interface FrameCoefficients {
  readonly coefficients: Float32Array;
  /** Null when the frame fell back to its blendshapes (no landmarks). */
  readonly cache: EncoderCache | null;
}

export class EncoderTraining {
  readonly encoder: ExpressionEncoder;
  private readonly k: Kernels;
  private readonly lr: number;
  private readonly m = {} as EncoderParams;
  private readonly v = {} as EncoderParams;
  private steps = 0;
  private readonly inputs = new WeakMap<object, Float32Array | null>();

  constructor(encoder: ExpressionEncoder, k: Kernels, lr: number) {
    if (!(lr > 0)) throw new RangeError(`encoderLr must be > 0, got ${lr}`);
    this.encoder = encoder;
    this.k = k;
    this.lr = lr;
    for (const name of ENCODER_PARAM_NAMES) {
      this.m[name] = new Float32Array(encoder.params[name].length);
      this.v[name] = new Float32Array(encoder.params[name].length);
    }
  }

  /** The frame's standardised input (cached per frame object), or null without landmarks. */
  input(frame: { readonly landmarks?: Float32Array }): Float32Array | null {
    if (!frame.landmarks) return null;
    let x = this.inputs.get(frame);
    if (x === undefined) {
      const posed = poseNormalizedLandmarks(frame.landmarks, this.encoder.spec);
      x = posed ? standardize(posed, this.encoder.normalization) : null;
      this.inputs.set(frame, x);
    }
    return x;
  }

  /** The coefficients the model sees for this frame. */
  coefficients(frame: { readonly coefficients: Float32Array; readonly landmarks?: Float32Array }): FrameCoefficients {
    const x = this.input(frame);
    if (!x) return { coefficients: frame.coefficients, cache: null };
    const cache = this.encoder.forward(this.k, x, 1), out = Float32Array.from(frame.coefficients);
    for (let e = 0; e < out.length; e++) out[e]! += cache.delta[e]!;
    return { coefficients: out, cache };
  }

  /**
   * One Adam step of the encoder from d(loss)/d(coefficients) of a frame that used it;
   * lrScale multiplies encoderLr (the avatar's learning-rate tail, LearningRateTail.ts).
   */
  step(cache: EncoderCache, dCoefficients: Float32Array, lrScale = 1): void {
    const grads = this.encoder.backward(this.k, cache, dCoefficients);
    for (const name of ENCODER_PARAM_NAMES)
      this.k.adamStep(this.encoder.params[name], grads[name], this.m[name], this.v[name], { lr: lrScale * this.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: this.steps + 1 });
    this.steps++;
  }

  exportState(): EncoderTrainingState {
    return { step: this.steps, adamM: this.m, adamV: this.v };
  }

  importState(s: EncoderTrainingState): void {
    for (const name of ENCODER_PARAM_NAMES)
      for (const [what, t] of [['m', s.adamM[name]], ['v', s.adamV[name]]] as const)
        if (t?.length !== this.encoder.params[name].length)
          throw new RangeError(`Trainer state: encoder Adam ${what} of ${name} has ${String(t?.length)} values, expected ${this.encoder.params[name].length}`);
    if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`Trainer state: encoder step ${String(s.step)} is not a count`);
    this.steps = s.step;
    for (const name of ENCODER_PARAM_NAMES) {
      this.m[name].set(s.adamM[name]);
      this.v[name].set(s.adamV[name]);
    }
  }
}
