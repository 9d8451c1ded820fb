/**
 * A frame's landmarks -> the encoder's input: the head pose removed by a weighted 2-D
 * similarity fit (rotation in the image plane, scale, translation) of MediaPipe's
 * procrustes anchors onto the canonical mesh, the same anchors and weights MediaPipe
 * fits its facial transformation matrix with (server/retrack/FaceNormalizer.ts does the
 * 3-D fit for the fidelity measure). 2-D because a dataset keeps each frame's landmarks
 * as image px only (docs/dataset.md), and the browser can compute the very same thing
 * from its normalised x, y. Yaw and pitch stay in the input: a talking head turns a few
 * degrees, and the per-avatar standardisation and the network absorb what that moves.
 *
 * Plain TypeScript (no Node APIs): the browser runs the same preprocessing before its
 * ONNX session, so what the sender computes is what the avatar was trained on.
 */
import { applySimilarity, fitSimilarity } from '../retrack/similarityFit';
import { type ExpressionInputSpec, type ExpressionNormalization, FACE_LANDMARK_COUNT } from './ExpressionTypes';

/**
 * Pose-normalised x, y (y up, px at 512 px face scale) of spec.landmarkIds from one
 * frame's 478 landmarks as [x0, y0, x1, y1, ...] image px (y down); null when the frame
 * has no face (any NaN among the points used) or its anchors are degenerate.
 */
export function poseNormalizedLandmarks(landmarksPx: ArrayLike<number>, spec: ExpressionInputSpec, out?: Float32Array): Float32Array | null {
  if (landmarksPx.length !== 2 * FACE_LANDMARK_COUNT)
    throw new RangeError(`expression input: ${landmarksPx.length} landmark values, expected ${2 * FACE_LANDMARK_COUNT} (x, y of ${FACE_LANDMARK_COUNT} points)`);
  const A = spec.anchorIds.length, N = spec.landmarkIds.length;
  // The fit is the 3-D one with every z = 0: planar points onto planar targets give a rotation about z.
  const source = new Float64Array(3 * A), target = new Float64Array(3 * A), ids = new Uint16Array(A);
  for (let k = 0; k < A; k++) {
    const i = spec.anchorIds[k]!, x = landmarksPx[2 * i]!, y = landmarksPx[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
    source[3 * k] = x; source[3 * k + 1] = -y;
    target[3 * k] = spec.anchorTargets[2 * k]!; target[3 * k + 1] = spec.anchorTargets[2 * k + 1]!;
    ids[k] = k;
  }
  let fit;
  try {
    fit = fitSimilarity(source, target, ids, spec.anchorWeights);
  } catch {
    return null; // every anchor at one place: no face to speak of
  }
  const points = new Float64Array(3 * N);
  for (let k = 0; k < N; k++) {
    const i = spec.landmarkIds[k]!, x = landmarksPx[2 * i]!, y = landmarksPx[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
    points[3 * k] = x; points[3 * k + 1] = -y;
  }
  const moved = applySimilarity(fit, points, new Float32Array(3 * N));
  const result = out ?? new Float32Array(2 * N);
  for (let k = 0; k < N; k++) { result[2 * k] = moved[3 * k]!; result[2 * k + 1] = moved[3 * k + 1]!; }
  return result;
}

/** (x - mean) / std in place, elementwise (float32, as the ONNX graph's Sub and Div). */
export function standardize(x: Float32Array, norm: ExpressionNormalization): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(Math.fround(x[i]! - norm.mean[i]!) / norm.std[i]!);
  return x;
}

/**
 * Mean and std per input over the given pose-normalised inputs (frames with a face).
 * std is floored at 1% of the inputs' typical spread (and 1e-3 px) so an input that
 * never moves in the dataset does not turn tracker noise into huge values live.
 */
export function inputStatistics(inputs: readonly Float32Array[], size: number): ExpressionNormalization {
  if (inputs.length === 0) throw new RangeError('expression input: no frame with a face to take statistics from');
  const mean = new Float64Array(size), sq = new Float64Array(size);
  for (const x of inputs) {
    if (x.length !== size) throw new RangeError(`expression input: an input has ${x.length} values, expected ${size}`);
    for (let i = 0; i < size; i++) mean[i]! += x[i]!;
  }
  for (let i = 0; i < size; i++) mean[i]! /= inputs.length;
  for (const x of inputs) for (let i = 0; i < size; i++) sq[i]! += (x[i]! - mean[i]!) ** 2;
  const std = Array.from(sq, (s) => Math.sqrt(s / inputs.length));
  const typical = [...std].sort((a, b) => a - b)[Math.floor(size / 2)]!;
  const floor = Math.max(1e-3, 0.01 * typical);
  return { mean: Float32Array.from(mean), std: Float32Array.from(std, (s) => Math.max(s, floor)) };
}
