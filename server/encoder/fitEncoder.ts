/**
 * A new encoder for one avatar's dataset: the input spec from MediaPipe's canonical mesh
 * and pose-fit anchors (the face model bundle, as the fidelity measure reads them), the
 * standardisation from the dataset's own frames (so the network sees O(1) inputs whatever
 * the person's face shape), fresh weights.
 */
import { EXPRESSION_LANDMARK_IDS } from '../../shared/expression/expressionLandmarks';
import { inputStatistics, poseNormalizedLandmarks } from '../../shared/expression/expressionInput';
import type { ExpressionInputSpec } from '../../shared/expression/ExpressionTypes';
import type { FaceNormalizer } from '../retrack/FaceNormalizer';
import { type EncoderShape, ExpressionEncoder } from './ExpressionEncoder';

/** The default input spec: EXPRESSION_LANDMARK_IDS, posed by the normaliser's anchors onto its canonical mesh. */
export function expressionInputSpec(normalizer: Pick<FaceNormalizer, 'mesh' | 'basis' | 'pxPerCm'>, landmarkIds: readonly number[] = EXPRESSION_LANDMARK_IDS): ExpressionInputSpec {
  const { ids, weights } = normalizer.basis, s = normalizer.pxPerCm;
  return {
    landmarkIds: [...landmarkIds],
    anchorIds: Array.from(ids),
    anchorWeights: Array.from(weights),
    anchorTargets: Array.from(ids).flatMap((i) => [normalizer.mesh[3 * i]! * s, normalizer.mesh[3 * i + 1]! * s]),
  };
}

/**
 * An encoder whose standardisation comes from the frames' landmarks ([956] px each; frames
 * without a face, undefined or NaN, are skipped). Throws RangeError when no frame has a face.
 */
export function fitExpressionEncoder(
  spec: ExpressionInputSpec, landmarks: readonly (Float32Array | undefined)[], expressionCount: number, shape: EncoderShape = {},
): ExpressionEncoder {
  const inputs = landmarks.flatMap((l) => { const x = l ? poseNormalizedLandmarks(l, spec) : null; return x ? [x] : []; });
  if (inputs.length === 0) throw new RangeError('expression encoder: none of the training frames has landmarks');
  return ExpressionEncoder.create(spec, inputStatistics(inputs, 2 * spec.landmarkIds.length), expressionCount, shape);
}
