/**
 * Weighted similarity (rotation, uniform scale, translation) fit of one 3D
 * point set onto another: Horn's closed form with unit quaternions (B. K. P.
 * Horn, "Closed-form solution of absolute orientation using unit quaternions",
 * JOSA A 4(4), 1987). The best rotation is the eigenvector of the largest
 * eigenvalue of a symmetric 4x4 matrix built from the weighted cross-covariance;
 * a Jacobi sweep finds it without an SVD library and always yields a proper
 * rotation (never a reflection).
 */

export interface SimilarityTransform {
  scale: number;
  /** Row-major 3x3. */
  rotation: Float64Array;
  translation: Float64Array;
}

/** Eigenvector of the largest eigenvalue of a symmetric 4x4 matrix (row-major), by cyclic Jacobi rotations. */
export function largestEigenvector4(symmetric: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(symmetric);
  const v = new Float64Array(16);
  for (let i = 0; i < 4; i++) v[i * 4 + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += a[p * 4 + q]! ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < 4; p++) {
      for (let q = p + 1; q < 4; q++) {
        const apq = a[p * 4 + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * 4 + q]! - a[p * 4 + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < 4; k++) { // A <- A J (columns p, q)
          const akp = a[k * 4 + p]!, akq = a[k * 4 + q]!;
          a[k * 4 + p] = c * akp - s * akq;
          a[k * 4 + q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) { // A <- J^T A (rows p, q)
          const apk = a[p * 4 + k]!, aqk = a[q * 4 + k]!;
          a[p * 4 + k] = c * apk - s * aqk;
          a[q * 4 + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) { // V <- V J
          const vkp = v[k * 4 + p]!, vkq = v[k * 4 + q]!;
          v[k * 4 + p] = c * vkp - s * vkq;
          v[k * 4 + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < 4; i++) if (a[i * 4 + i]! > a[best * 4 + best]!) best = i;
  return Float64Array.from([v[best]!, v[4 + best]!, v[8 + best]!, v[12 + best]!]);
}

/** Row-major rotation matrix of a quaternion (w, x, y, z), normalised first. */
export function quaternionToMatrix(q: ArrayLike<number>): Float64Array {
  const n = Math.hypot(q[0]!, q[1]!, q[2]!, q[3]!);
  const w = q[0]! / n, x = q[1]! / n, y = q[2]! / n, z = q[3]! / n;
  return Float64Array.from([
    w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (y * x + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
    2 * (z * x - w * y), 2 * (z * y + w * x), w * w - x * x - y * y + z * z,
  ]);
}

/**
 * The similarity T minimising sum_k w_k |T(source[ids_k]) - target[ids_k]|^2
 * (points as x, y, z triples). Throws RangeError when the weighted points are
 * degenerate (fewer than 3 or all at one place).
 */
export function fitSimilarity(source: ArrayLike<number>, target: ArrayLike<number>, ids: ArrayLike<number>, weights: ArrayLike<number>): SimilarityTransform {
  if (ids.length !== weights.length || ids.length < 3) throw new RangeError(`fitSimilarity: need at least 3 weighted points, got ${ids.length} ids and ${weights.length} weights`);
  let total = 0;
  const ps = [0, 0, 0], qs = [0, 0, 0];
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k]! * 3, w = weights[k]!;
    total += w;
    for (let c = 0; c < 3; c++) { ps[c]! += w * source[i + c]!; qs[c]! += w * target[i + c]!; }
  }
  if (!(total > 0)) throw new RangeError('fitSimilarity: weights sum to zero');
  for (let c = 0; c < 3; c++) { ps[c]! /= total; qs[c]! /= total; }
  // S[a][b] = sum w p'_a q'_b, and the source's weighted spread.
  const S = new Float64Array(9);
  let spread = 0;
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k]! * 3, w = weights[k]!;
    const p = [source[i]! - ps[0]!, source[i + 1]! - ps[1]!, source[i + 2]! - ps[2]!];
    const q = [target[i]! - qs[0]!, target[i + 1]! - qs[1]!, target[i + 2]! - qs[2]!];
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) S[a * 3 + b]! += w * p[a]! * q[b]!;
    spread += w * (p[0]! ** 2 + p[1]! ** 2 + p[2]! ** 2);
  }
  if (!(spread > 1e-12)) throw new RangeError('fitSimilarity: the source points coincide');
  const [xx, xy, xz, yx, yy, yz, zx, zy, zz] = S as unknown as number[];
  const N = [
    xx! + yy! + zz!, yz! - zy!, zx! - xz!, xy! - yx!,
    yz! - zy!, xx! - yy! - zz!, xy! + yx!, zx! + xz!,
    zx! - xz!, xy! + yx!, -xx! + yy! - zz!, yz! + zy!,
    xy! - yx!, zx! + xz!, yz! + zy!, -xx! - yy! + zz!,
  ];
  const rotation = quaternionToMatrix(largestEigenvector4(N));
  // Optimal scale: sum w q'.(R p') / sum w |p'|^2, with sum w q'.(R p') = sum_ab R[b][a] S[a][b].
  let dot = 0;
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) dot += rotation[b * 3 + a]! * S[a * 3 + b]!;
  const scale = dot / spread;
  const translation = new Float64Array(3);
  for (let r = 0; r < 3; r++) {
    translation[r] = qs[r]! - scale * (rotation[r * 3]! * ps[0]! + rotation[r * 3 + 1]! * ps[1]! + rotation[r * 3 + 2]! * ps[2]!);
  }
  return { scale, rotation, translation };
}

/** T applied to every point of `points` (x, y, z triples). */
export function applySimilarity(t: SimilarityTransform, points: ArrayLike<number>, out = new Float32Array(points.length)): Float32Array {
  const { scale: s, rotation: R, translation: tr } = t;
  for (let i = 0; i + 2 < points.length; i += 3) {
    const x = points[i]!, y = points[i + 1]!, z = points[i + 2]!;
    for (let r = 0; r < 3; r++) out[i + r] = s * (R[r * 3]! * x + R[r * 3 + 1]! * y + R[r * 3 + 2]! * z) + tr[r]!;
  }
  return out;
}
