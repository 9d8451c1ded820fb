/**
 * The model-independent part of the expression encoder (issue 16), as the browser and
 * the server both need it: how a frame's landmarks become the network's input, and the
 * network's weights. Stored in the avatar file (server/engine/AvatarFile.ts) and
 * exported as ONNX (server/encoder/onnx/).
 */

/** MediaPipe's face landmarks per frame (468 mesh points and 10 iris points). */
export const FACE_LANDMARK_COUNT = 478;

/** Largest sizes an encoder may declare (bounds what a file or a packet can make us allocate). */
export const MAX_ENCODER_POINTS = FACE_LANDMARK_COUNT;
export const MAX_ENCODER_HIDDEN = 256;
export const MAX_CODE_SIZE = 64;

/** How 2-D landmarks (px, y down) lose their pose: a weighted similarity fit of `anchors` onto `anchorTargets`. */
export interface ExpressionInputSpec {
  /** Landmark indices (0..477) fed to the network, in input order: input 2i, 2i+1 = x, y of point i. */
  readonly landmarkIds: readonly number[];
  /** Landmark indices of the pose fit (MediaPipe's procrustes basis: points expressions barely move). */
  readonly anchorIds: readonly number[];
  /** Their weights in the fit (MediaPipe's). */
  readonly anchorWeights: readonly number[];
  /** [2 * anchors] where each anchor lands: the canonical mesh's x, y (y up), px at 512 px face scale. */
  readonly anchorTargets: readonly number[];
}

/** Per-avatar standardisation of the pose-normalised input: (x - mean) / std, from its dataset. */
export interface ExpressionNormalization {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

/** The network: input D -> hidden relu -> K tanh (dense weights [out, in], as the kernels'). */
export interface ExpressionNetworkWeights {
  readonly inputSize: number;
  readonly hidden: number;
  readonly codeSize: number;
  readonly w0: Float32Array;
  readonly b0: Float32Array;
  readonly w1: Float32Array;
  readonly b1: Float32Array;
}

/** Throws RangeError naming the first inconsistency (sizes, bounds, non-finite values). */
export function validateEncoderParts(spec: ExpressionInputSpec, norm: ExpressionNormalization, net: ExpressionNetworkWeights): void {
  const ids = spec.landmarkIds, n = ids.length;
  if (!Array.isArray(ids) || n < 1 || n > MAX_ENCODER_POINTS) throw new RangeError(`expression encoder: landmarkIds must list 1..${MAX_ENCODER_POINTS} points, got ${Array.isArray(ids) ? n : typeof ids}`);
  const idOk = (i: unknown) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < FACE_LANDMARK_COUNT;
  if (!ids.every(idOk)) throw new RangeError(`expression encoder: landmarkIds must be integers in [0, ${FACE_LANDMARK_COUNT})`);
  const a = spec.anchorIds;
  if (!Array.isArray(a) || a.length < 3 || a.length > MAX_ENCODER_POINTS || !a.every(idOk))
    throw new RangeError(`expression encoder: anchorIds must list 3..${MAX_ENCODER_POINTS} landmark indices`);
  if (!Array.isArray(spec.anchorWeights) || spec.anchorWeights.length !== a.length || !spec.anchorWeights.every((w) => Number.isFinite(w) && w >= 0) || !(spec.anchorWeights.reduce((s, w) => s + w, 0) > 0))
    throw new RangeError(`expression encoder: anchorWeights must be ${a.length} non-negative numbers with a positive sum`);
  if (!Array.isArray(spec.anchorTargets) || spec.anchorTargets.length !== 2 * a.length || !spec.anchorTargets.every(Number.isFinite))
    throw new RangeError(`expression encoder: anchorTargets must be ${2 * a.length} finite numbers`);
  const D = 2 * n;
  if (net.inputSize !== D) throw new RangeError(`expression encoder: network input is ${net.inputSize} wide, ${n} landmarks give ${D}`);
  for (const [what, v, max] of [['hidden', net.hidden, MAX_ENCODER_HIDDEN], ['codeSize', net.codeSize, MAX_CODE_SIZE]] as const)
    if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`expression encoder: ${what} must be an integer in [1, ${max}], got ${String(v)}`);
  const sizes: [string, Float32Array, number][] = [
    ['mean', norm.mean, D], ['std', norm.std, D], ['w0', net.w0, net.hidden * D], ['b0', net.b0, net.hidden],
    ['w1', net.w1, net.codeSize * net.hidden], ['b1', net.b1, net.codeSize],
  ];
  for (const [what, t, want] of sizes) {
    if (!(t instanceof Float32Array) || t.length !== want) throw new RangeError(`expression encoder: ${what} has ${t instanceof Float32Array ? t.length : 'no'} values, expected ${want}`);
    if (!t.every(Number.isFinite)) throw new RangeError(`expression encoder: ${what} has a non-finite value`);
  }
  if (!norm.std.every((s) => s > 0)) throw new RangeError('expression encoder: std must be positive everywhere');
}
