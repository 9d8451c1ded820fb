/**
 * The coefficients a call drives an avatar with, for a frame of a dataset: its blendshapes,
 * or, for an avatar with an expression encoder, blendshapes + projection . code where the
 * code is what a sender's page computes and sends: the frame's landmarks with the head pose
 * removed, standardised, through the network (shared/expression, the browser's reference
 * forward), rounded to int8 as the packet carries it. Frames without a face keep the
 * blendshapes alone (the page sends the neutral code then), as in training.
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

export function callCoefficients(encoder: ExpressionEncoder | null): CallCoefficients {
  if (!encoder) return Object.assign((f: CoefficientSource) => f.coefficients, { driver: 'blendshapes' as const });
  const net = encoder.network;
  const drive = (f: CoefficientSource): Float32Array => {
    const posed = f.landmarks ? poseNormalizedLandmarks(f.landmarks, encoder.spec) : null;
    if (!posed) return f.coefficients;
    const code = expressionCodes(net, standardize(posed, encoder.normalization), 1);
    return encoder.applyCode(f.coefficients, dequantizeCode(quantizeCode(code)));
  };
  return Object.assign(drive, { driver: 'encoder' as const });
}
