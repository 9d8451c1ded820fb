import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  matrixFromPose,
  normalizeQuaternion,
  poseFromMatrix,
  quaternionAngleRad,
  quaternionFromRotationMatrix,
  rotationMatrixFromQuaternion,
  type Quaternion,
  type Vec3,
} from './pose';
import { randomUnitQuaternion, seededRandom } from './seededRandom';

const TOLERANCE = 1e-9;

function axisAngle(axis: Vec3, angleRad: number): Quaternion {
  const length = Math.hypot(...axis);
  const s = Math.sin(angleRad / 2) / length;
  return [axis[0] * s, axis[1] * s, axis[2] * s, Math.cos(angleRad / 2)];
}

describe('pose conversion', () => {
  test('a random rotation, translation and scale survive matrix round trips', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 2000; i++) {
      const rotation = randomUnitQuaternion(random);
      const translationCm: Vec3 = [random() * 60 - 30, random() * 60 - 30, -20 - random() * 80];
      const scale = 0.5 + random();
      const matrix = matrixFromPose({ rotation, translationCm, scale });
      const pose = poseFromMatrix(matrix);
      assert.ok(quaternionAngleRad(pose.rotation, rotation) < TOLERANCE, `sample ${i}`);
      assert.ok(pose.rotation[3] >= 0, 'w must be in the canonical hemisphere');
      assert.ok(Math.abs(Math.hypot(...pose.rotation) - 1) < TOLERANCE);
      assert.ok(Math.abs(pose.scale - scale) < TOLERANCE);
      pose.translationCm.forEach((value, axis) => assert.equal(value, translationCm[axis]));
      const again = matrixFromPose(pose);
      again.forEach((value, index) => assert.ok(Math.abs(value - (matrix[index] ?? NaN)) < TOLERANCE));
    }
  });

  test('Shepperd extraction stays accurate for half-turns where the trace is -1', () => {
    const random = seededRandom(2);
    for (let i = 0; i < 500; i++) {
      const axis: Vec3 = [random() - 0.5, random() - 0.5, random() - 0.5];
      const rotation = axisAngle(axis, Math.PI - random() * 1e-6);
      const recovered = quaternionFromRotationMatrix(rotationMatrixFromQuaternion(rotation));
      assert.ok(quaternionAngleRad(recovered, rotation) < TOLERANCE, `sample ${i}`);
    }
  });

  test('the matrix is read column-major with translation in elements 12 to 14', () => {
    // 90° about +z maps x to y: column 0 is (0, 1, 0), column 1 is (-1, 0, 0).
    const columnMajor = [0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 1, 0, 3, 4, -50, 1];
    const pose = poseFromMatrix(columnMajor);
    const expected = axisAngle([0, 0, 1], Math.PI / 2);
    assert.ok(quaternionAngleRad(pose.rotation, expected) < TOLERANCE);
    assert.ok(pose.rotation[2] > 0, 'a transposed read would give the opposite rotation');
    assert.deepEqual(pose.translationCm, [3, 4, -50]);
    assert.equal(pose.scale, 1);
  });

  test('quaternionAngleRad measures the rotation angle and ignores the sign of q', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const base = randomUnitQuaternion(random);
      const angle = random() * Math.PI;
      const delta = axisAngle([random() - 0.5, random() - 0.5, random() - 0.5], angle);
      const [bx, by, bz, bw] = base;
      const [dx, dy, dz, dw] = delta;
      const composed: Quaternion = [
        dw * bx + dx * bw + dy * bz - dz * by,
        dw * by - dx * bz + dy * bw + dz * bx,
        dw * bz + dx * by - dy * bx + dz * bw,
        dw * bw - dx * bx - dy * by - dz * bz,
      ];
      assert.ok(Math.abs(quaternionAngleRad(base, composed) - angle) < 1e-9);
      const negated = composed.map((c) => -c) as Quaternion;
      assert.ok(Math.abs(quaternionAngleRad(base, negated) - angle) < 1e-9);
    }
  });

  test('normalizeQuaternion flips negative-w quaternions and rejects zero', () => {
    assert.deepEqual(normalizeQuaternion([1, 2, 2, -4]), [-0.2, -0.4, -0.4, 0.8]);
    assert.throws(() => normalizeQuaternion([0, 0, 0, 0]), RangeError);
    assert.throws(() => normalizeQuaternion([NaN, 0, 0, 1]), RangeError);
  });

  test('poseFromMatrix rejects malformed, projective and mirrored matrices', () => {
    const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    assert.throws(() => poseFromMatrix(identity.slice(0, 15)), {
      name: 'RangeError',
      message: 'transform matrix must have 16 elements; got 15',
    });
    assert.throws(() => poseFromMatrix(identity.map((v, i) => (i === 5 ? NaN : v))), {
      name: 'TypeError',
      message: 'transform matrix element 5 must be a finite number',
    });
    assert.throws(() => poseFromMatrix(identity.map((v, i) => (i === 3 ? 0.5 : v))), {
      name: 'RangeError',
      message: 'transform matrix must be affine (bottom row 0, 0, 0, 1)',
    });
    assert.throws(() => poseFromMatrix(identity.map((v, i) => (i === 0 ? -1 : v))), {
      name: 'RangeError',
      message: 'transform matrix must not be degenerate or mirrored (determinant <= 0)',
    });
  });
});
