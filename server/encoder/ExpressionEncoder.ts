/**
 * The per-avatar expression encoder (issue 16), as the trainer and the server hold it:
 * the browser-side part (input spec, standardisation, network: shared/expression) plus
 * the projection that turns the K-value code into the avatar's E expression
 * coefficients. The model is driven by code AND blendshapes:
 *
 *   coefficients = blendshapeCoefficients + projection [E, K] . code
 *
 * Why beside the blendshapes and not instead of them: a code of 0 is exactly today's
 * blendshape avatar, so a sender without the encoder (no ONNX model, a tampered one,
 * an old client) and frames without landmarks still drive the same avatar with
 * blendshape packets; the code only has to carry what the blendshapes miss (the lips'
 * exact shape), and the avatar's E motion bases and conditioning stay as they are (no
 * new bases, no renderer change). The projection starts at 0, so an untrained encoder
 * changes nothing and joint training begins from the blendshape avatar.
 *
 * Forward and backward run on the kernels (dense); tanh is elementwise on K values in
 * TypeScript (the kernels have no tanh activation).
 */
import type { Kernels } from '../../kernels/KernelsTypes';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import {
  type ExpressionInputSpec, type ExpressionNetworkWeights, type ExpressionNormalization, validateEncoderParts,
} from '../../shared/expression/ExpressionTypes';

/** The trained tensors, in file order. */
export const ENCODER_PARAM_NAMES = ['w0', 'b0', 'w1', 'b1', 'projection'] as const;
export type EncoderParamName = (typeof ENCODER_PARAM_NAMES)[number];
export type EncoderParams = Record<EncoderParamName, Float32Array>;

/**
 * K = 12: the code travels in every packet (12 x int8 = 12 bytes a frame, 2.9 kbps at
 * 30 Hz, well inside the issue's 16 kbps), and 12 values span what the lips, lids and
 * brows do beyond the blendshapes' summary (the mouth alone is a few modes: opening,
 * width, protrusion, asymmetry, upper/lower lip). Hidden 64: 218 x 64 + 64 x 12 weights
 * (14.8 k multiply-adds, far under the 3 ms budget in the tracker worker).
 */
export const DEFAULT_CODE_SIZE = 12;
export const DEFAULT_ENCODER_HIDDEN = 64;

export interface EncoderShape {
  readonly hidden?: number;
  readonly codeSize?: number;
  readonly seed?: number;
}

/** What backward needs from forward. */
export interface EncoderCache {
  readonly n: number;
  readonly input: Float32Array;
  readonly hidden: Float32Array;
  readonly code: Float32Array;
  readonly delta: Float32Array;
}

export class ExpressionEncoder {
  readonly spec: ExpressionInputSpec;
  readonly normalization: ExpressionNormalization;
  /** E: coefficients the projection writes (the avatar's expressionCount). */
  readonly expressionCount: number;
  readonly params: EncoderParams;
  readonly hidden: number;
  readonly codeSize: number;
  private readonly zeroBias: Float32Array;

  constructor(spec: ExpressionInputSpec, normalization: ExpressionNormalization, expressionCount: number, hidden: number, codeSize: number, params: EncoderParams) {
    if (!Number.isInteger(expressionCount) || expressionCount < 0 || expressionCount > 1024)
      throw new RangeError(`expression encoder: expressionCount must be an integer in [0, 1024], got ${String(expressionCount)}`);
    const inputSize = Array.isArray(spec.landmarkIds) ? 2 * spec.landmarkIds.length : -1;
    validateEncoderParts(spec, normalization, { inputSize, hidden, codeSize, ...params });
    const p = params.projection;
    if (!(p instanceof Float32Array) || p.length !== expressionCount * codeSize || !p.every(Number.isFinite))
      throw new RangeError(`expression encoder: projection must hold ${expressionCount * codeSize} finite values, got ${p instanceof Float32Array ? p.length : 'none'}`);
    this.spec = spec;
    this.normalization = normalization;
    this.expressionCount = expressionCount;
    this.hidden = hidden;
    this.codeSize = codeSize;
    this.params = params;
    this.zeroBias = new Float32Array(expressionCount);
  }

  /** PyTorch-style uniform(+-1/sqrt(in)) layers and a zero projection (see the file comment). */
  static create(spec: ExpressionInputSpec, normalization: ExpressionNormalization, expressionCount: number, o: EncoderShape = {}): ExpressionEncoder {
    const D = 2 * spec.landmarkIds.length, H = o.hidden ?? DEFAULT_ENCODER_HIDDEN, K = o.codeSize ?? DEFAULT_CODE_SIZE;
    const rand = seededRandom(o.seed ?? 1);
    const uniform = (n: number, fanIn: number) => Float32Array.from({ length: n }, () => (2 * rand() - 1) / Math.sqrt(fanIn));
    return new ExpressionEncoder(spec, normalization, expressionCount, H, K, {
      w0: uniform(H * D, D), b0: uniform(H, D), w1: uniform(K * H, H), b1: uniform(K, H), projection: new Float32Array(expressionCount * K),
    });
  }

  get inputSize(): number {
    return 2 * this.spec.landmarkIds.length;
  }

  /** The browser's part: sizes and the network's weights (views of params). */
  get network(): ExpressionNetworkWeights {
    const { w0, b0, w1, b1 } = this.params;
    return { inputSize: this.inputSize, hidden: this.hidden, codeSize: this.codeSize, w0, b0, w1, b1 };
  }

  /**
   * The server's half for a received code: blendshape coefficients [E] + projection . code
   * [K] (the code as the packet carried it; a code that is not K finite values is refused).
   */
  applyCode(blendshapeCoefficients: ArrayLike<number>, code: ArrayLike<number>, out = new Float32Array(this.expressionCount)): Float32Array {
    const E = this.expressionCount, K = this.codeSize, P = this.params.projection;
    if (blendshapeCoefficients.length !== E) throw new RangeError(`expression encoder: ${blendshapeCoefficients.length} blendshape coefficients, expected ${E}`);
    if (code.length !== K) throw new RangeError(`expression encoder: a code of ${code.length} values, expected ${K}`);
    for (let j = 0; j < K; j++) if (!Number.isFinite(code[j])) throw new RangeError(`expression encoder: code value ${j} is not finite`);
    for (let e = 0; e < E; e++) {
      let s = blendshapeCoefficients[e]!;
      for (let j = 0; j < K; j++) s += P[e * K + j]! * code[j]!;
      out[e] = s;
    }
    return out;
  }

  /** Codes [n, K] and coefficient offsets [n, E] of standardised inputs [n, D], on the kernels. */
  forward(k: Kernels, input: Float32Array, n: number): EncoderCache {
    const D = this.inputSize, H = this.hidden, K = this.codeSize, E = this.expressionCount, p = this.params;
    if (input.length !== n * D) throw new RangeError(`expression encoder: ${input.length} input values, expected ${n} x ${D}`);
    const hidden = k.dense(input, p.w0, p.b0, { n, inFeatures: D, outFeatures: H }, 'relu').y;
    const code = k.dense(hidden, p.w1, p.b1, { n, inFeatures: H, outFeatures: K }, 'none').y;
    for (let i = 0; i < code.length; i++) code[i] = Math.tanh(code[i]!);
    const delta = E > 0 ? k.dense(code, p.projection, this.zeroBias, { n, inFeatures: K, outFeatures: E }, 'none').y : new Float32Array(0);
    return { n, input, hidden, code, delta };
  }

  /** Gradients of sum(dDelta * delta) for every parameter (fresh buffers). */
  backward(k: Kernels, cache: EncoderCache, dDelta: Float32Array): EncoderParams {
    const { n, input, hidden, code, delta } = cache, D = this.inputSize, H = this.hidden, K = this.codeSize, E = this.expressionCount, p = this.params;
    if (dDelta.length !== n * E) throw new RangeError(`expression encoder: ${dDelta.length} coefficient gradients, expected ${n} x ${E}`);
    if (E === 0) return { w0: new Float32Array(p.w0.length), b0: new Float32Array(H), w1: new Float32Array(p.w1.length), b1: new Float32Array(K), projection: new Float32Array(0) };
    const proj = k.denseBackward(code, p.projection, delta, dDelta, { n, inFeatures: K, outFeatures: E }, 'none');
    const dPre = proj.dX!;
    for (let i = 0; i < dPre.length; i++) dPre[i]! *= 1 - code[i]! * code[i]!;
    const l1 = k.denseBackward(hidden, p.w1, code, dPre, { n, inFeatures: H, outFeatures: K }, 'none');
    const l0 = k.denseBackward(input, p.w0, hidden, l1.dX!, { n, inFeatures: D, outFeatures: H }, 'relu', false);
    return { w0: l0.dW, b0: l0.dB, w1: l1.dW, b1: l1.dB, projection: proj.dW };
  }
}
