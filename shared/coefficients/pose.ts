/**
 * Head pose math for MediaPipe's `facialTransformationMatrixes[i].data`.
 *
 * That matrix is 4x4, column-major (OpenGL layout: element (row r, column c)
 * lives at index c * 4 + r, translation at indices 12..14), maps the canonical
 * face model into camera space with translation in centimetres, and may carry
 * a uniform scale. We split it into a unit quaternion, a translation and that
 * scale, because a quaternion is the compact, interpolatable form the wire
 * format and the smoothing filters want.
 *
 * Pure math only: this module is shared by browser and server code.
 */

/** Unit quaternion [x, y, z, w]; the functions here return it with w >= 0. */
export type Quaternion = [number, number, number, number];
export type Vec3 = [number, number, number];

export interface FacePose {
  rotation: Quaternion;
  translationCm: Vec3;
  /** Uniform scale of the canonical face model (1 = unscaled). */
  scale: number;
}

/** Row-major 3x3 rotation matrix: [m00, m01, m02, m10, ..., m22]. */
export type Matrix3 = [number, number, number, number, number, number, number, number, number];

// A projective bottom row means the input is not a pose at all; float32
// matrices from MediaPipe carry exact zeros there, so a loose tolerance is safe.
const AFFINE_ROW_TOLERANCE = 1e-4;

function at(values: ArrayLike<number>, index: number): number {
  // Bounds are validated by callers; the fallback only satisfies the type checker.
  return values[index] ?? Number.NaN;
}

/**
 * Quaternion of a rotation matrix by Shepperd's method: it takes the square
 * root of whichever of w², x², y², z² is largest, so it never divides by a
 * value near zero (the naive trace formula breaks down near 180° rotations).
 * The result is normalized with w >= 0, which also absorbs small
 * non-orthogonality in the input.
 */
export function quaternionFromRotationMatrix(m: Matrix3): Quaternion {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = m;
  const trace = m00 + m11 + m22;
  let q: Quaternion;
  if (trace >= m00 && trace >= m11 && trace >= m22) {
    const w4 = 2 * Math.sqrt(Math.max(0, 1 + trace));
    q = [(m21 - m12) / w4, (m02 - m20) / w4, (m10 - m01) / w4, w4 / 4];
  } else if (m00 >= m11 && m00 >= m22) {
    const x4 = 2 * Math.sqrt(Math.max(0, 1 + m00 - m11 - m22));
    q = [x4 / 4, (m01 + m10) / x4, (m02 + m20) / x4, (m21 - m12) / x4];
  } else if (m11 >= m22) {
    const y4 = 2 * Math.sqrt(Math.max(0, 1 - m00 + m11 - m22));
    q = [(m01 + m10) / y4, y4 / 4, (m12 + m21) / y4, (m02 - m20) / y4];
  } else {
    const z4 = 2 * Math.sqrt(Math.max(0, 1 - m00 - m11 + m22));
    q = [(m02 + m20) / z4, (m12 + m21) / z4, z4 / 4, (m10 - m01) / z4];
  }
  return normalizeQuaternion(q);
}

/** Row-major rotation matrix of a (not necessarily normalized) quaternion. */
export function rotationMatrixFromQuaternion(rotation: Quaternion): Matrix3 {
  const [x, y, z, w] = normalizeQuaternion(rotation);
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

/**
 * Unit quaternion for the same rotation, in the w >= 0 hemisphere
 * (q and -q are the same rotation; fixing the sign makes the form unique
 * and lets the wire format drop w).
 */
export function normalizeQuaternion(rotation: Quaternion): Quaternion {
  const [x, y, z, w] = rotation;
  const norm = Math.hypot(x, y, z, w);
  if (!Number.isFinite(norm) || norm === 0) {
    throw new RangeError('quaternion must be finite and non-zero');
  }
  const signedInverse = (w < 0 ? -1 : 1) / norm;
  return [x * signedInverse, y * signedInverse, z * signedInverse, w * signedInverse];
}

/**
 * Angle in radians of the rotation taking `a` to `b` (0..π), treating q and -q
 * as equal. Uses atan2 of chord lengths rather than acos of the dot product,
 * which loses all precision for the tiny angles quantization produces.
 */
export function quaternionAngleRad(a: Quaternion, b: Quaternion): number {
  const [ax, ay, az, aw] = normalizeQuaternion(a);
  const [bx0, by0, bz0, bw0] = normalizeQuaternion(b);
  const sign = ax * bx0 + ay * by0 + az * bz0 + aw * bw0 < 0 ? -1 : 1;
  const bx = bx0 * sign;
  const by = by0 * sign;
  const bz = bz0 * sign;
  const bw = bw0 * sign;
  const difference = Math.hypot(ax - bx, ay - by, az - bz, aw - bw);
  const sum = Math.hypot(ax + bx, ay + by, az + bz, aw + bw);
  return 4 * Math.atan2(difference, sum);
}

/** Splits a column-major 4x4 similarity transform into rotation, translation and scale. */
export function poseFromMatrix(columnMajor: ArrayLike<number>): FacePose {
  if (columnMajor.length !== 16) {
    throw new RangeError(`transform matrix must have 16 elements; got ${columnMajor.length}`);
  }
  for (let i = 0; i < 16; i++) {
    if (!Number.isFinite(at(columnMajor, i))) {
      throw new TypeError(`transform matrix element ${i} must be a finite number`);
    }
  }
  const element = (row: number, column: number): number => at(columnMajor, column * 4 + row);
  const bottomRowError = Math.max(
    Math.abs(element(3, 0)),
    Math.abs(element(3, 1)),
    Math.abs(element(3, 2)),
    Math.abs(element(3, 3) - 1),
  );
  if (bottomRowError > AFFINE_ROW_TOLERANCE) {
    throw new RangeError('transform matrix must be affine (bottom row 0, 0, 0, 1)');
  }
  const linear: Matrix3 = [
    element(0, 0), element(0, 1), element(0, 2),
    element(1, 0), element(1, 1), element(1, 2),
    element(2, 0), element(2, 1), element(2, 2),
  ];
  // For s·R, det = s³. The cube root is the volume-preserving uniform scale,
  // which stays meaningful even if float32 noise makes the columns unequal.
  const scale = Math.cbrt(determinant(linear));
  if (!(scale > 0)) {
    throw new RangeError('transform matrix must not be degenerate or mirrored (determinant <= 0)');
  }
  const rotationMatrix = linear.map((value) => value / scale) as Matrix3;
  return {
    rotation: quaternionFromRotationMatrix(rotationMatrix),
    translationCm: [element(0, 3), element(1, 3), element(2, 3)],
    scale,
  };
}

/** Column-major 4x4 transform of a pose; the inverse of `poseFromMatrix`. */
export function matrixFromPose(pose: FacePose): Float64Array {
  if (!(Number.isFinite(pose.scale) && pose.scale > 0)) {
    throw new RangeError(`pose scale must be a positive finite number; got ${pose.scale}`);
  }
  const r = rotationMatrixFromQuaternion(pose.rotation);
  const s = pose.scale;
  const [tx, ty, tz] = pose.translationCm;
  const out = new Float64Array(16);
  for (let column = 0; column < 3; column++) {
    for (let row = 0; row < 3; row++) {
      out[column * 4 + row] = at(r, row * 3 + column) * s;
    }
  }
  out[12] = tx;
  out[13] = ty;
  out[14] = tz;
  out[15] = 1;
  return out;
}

function determinant(m: Matrix3): number {
  const [a, b, c, d, e, f, g, h, i] = m;
  return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}
