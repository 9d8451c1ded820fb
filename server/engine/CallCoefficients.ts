/**
 * The coefficients a call drives an avatar with, for a frame of a dataset: its blendshapes
 * as a coefficient packet carries them (6 bits a score), or, for an avatar with an expression
 * encoder, the code packet's: scores at 4 bits + projection . code, where the code is what a
 * sender's page computes and sends: the frame's landmarks with the head pose removed,
 * standardised, through the network (shared/expression, the browser's reference forward),
 * rounded to int8. Frames without a face keep the blendshapes alone (the page sends the
 * neutral code then), as in training.
 *
 * `voxface eval` scores encoder avatars through this, so the figures are those of the call,
 * not of the trainer's float32 forward.
 */
import { expressionCodes } from '../../shared/expression/expressionNetwork';
import { poseNormalizedLandmarks, standardize } from '../../shared/expression/expressionInput';
import { dequantizeCode, quantizeCode } from '../../shared/expression/codeQuantization';
import type { ExpressionEncoder } from '../encoder/ExpressionEncoder';

export interface CoefficientSource {
  readonly coefficients: Float32Array;
  /** [478*2] landmarks in dataset crop px (NaN without a face). */
  readonly landmarks?: Float32Array;
}

export interface CallCoefficients {
  /** 'encoder' when codes drive the avatar, 'blendshapes' otherwise. */
  readonly driver: 'encoder' | 'blendshapes';
  /** The frame's coefficients as the call's render receives them. */
  (frame: CoefficientSource): Float32Array;
}

/** Score steps of the packets (shared/coefficients/CoefficientPacket.ts): version 1 6 bits, the code packet 4. */
const SCORE_STEPS = { blendshapes: 63, encoder: 15 } as const;

/** Scores in [0, 1] rounded to the packet's steps, as the receiver decodes them. */
function asSent(coefficients: Float32Array, steps: number): Float32Array {
  return coefficients.map((v) => Math.round(Math.min(1, Math.max(0, v)) * steps) / steps);
}

export function callCoefficients(encoder: ExpressionEncoder | null): CallCoefficients {
  if (!encoder) return Object.assign((f: CoefficientSource) => asSent(f.coefficients, SCORE_STEPS.blendshapes), { driver: 'blendshapes' as const });
  const net = encoder.network;
  const drive = (f: CoefficientSource): Float32Array => {
    const posed = f.landmarks ? poseNormalizedLandmarks(f.landmarks, encoder.spec) : null;
    // Without a face the page sends version 1 packets: the blendshapes alone at 6 bits.
    if (!posed) return asSent(f.coefficients, SCORE_STEPS.blendshapes);
    const code = expressionCodes(net, standardize(posed, encoder.normalization), 1);
    return encoder.applyCode(asSent(f.coefficients, SCORE_STEPS.encoder), dequantizeCode(quantizeCode(code)));
  };
  return Object.assign(drive, { driver: 'encoder' as const });
}
