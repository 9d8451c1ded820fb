import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SuiteKernels, MarchBox } from '../KernelsTypes';
import { marchRaysRef } from '../reference/march';
import { rng, uniform } from '../testUtil';

const box: MarchBox = { min: Float32Array.from([-1, -1, -1]), max: Float32Array.from([1, 1, 1]) };

export function marchSuite(k: SuiteKernels): void {
  test('marchRays on hand-worked rays (hit, half-empty grid, cap, miss, parallel)', async () => {
    const full = new Uint8Array(8).fill(1);
    const front = new Uint8Array(8);
    for (let i = 4; i < 8; i++) front[i] = 1;  // only cells with z index 1 (z >= 0)
    const origins = Float32Array.from([0.5, 0.5, -3, 0, 0, -3, 3, 3, 3, 2, 0, 0]);
    const dirs = Float32Array.from([0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0]);
    // Ray 0 enters at t=2, leaves at t=4: samples at t = 2.25, 2.75, 3.25, 3.75.
    let r = await k.marchRays(origins.subarray(0, 3), dirs.subarray(0, 3), box, full, 2, 0.5, 64);
    assert.deepEqual([...r.rayOffsets], [0, 4]);
    assert.deepEqual([...r.positions], [0.5, 0.5, -0.75, 0.5, 0.5, -0.25, 0.5, 0.5, 0.25, 0.5, 0.5, 0.75]);
    assert.deepEqual([...r.deltas], [0.5, 0.5, 0.5, 0.5]);
    r = await k.marchRays(origins, dirs, box, front, 2, 0.5, 64);
    assert.deepEqual([...r.rayOffsets], [0, 2, 4, 4, 4], 'empty half skipped; miss and parallel-outside give 0');
    assert.deepEqual([...r.positions.subarray(0, 6)], [0.5, 0.5, 0.25, 0.5, 0.5, 0.75]);
    r = await k.marchRays(origins, dirs, box, full, 2, 0.5, 3);
    assert.deepEqual([...r.rayOffsets], [0, 3, 6, 6, 6], 'capped at maxSamples');
  });

  test('a NaN origin or direction component gives no samples (not an out-of-range cell)', async () => {
    const full = new Uint8Array(8).fill(1);
    const origins = Float32Array.from([NaN, 0.5, -3, 0.5, 0.5, -3]);
    const dirs = Float32Array.from([0, 0, 1, NaN, 0, 1]);
    const r = await k.marchRays(origins, dirs, box, full, 2, 0.5, 64);
    assert.deepEqual([...r.rayOffsets], [0, 0, 0]);
  });

  test('marchRays gives exactly the reference samples on random rays and occupancy', async () => {
    const rand = rng(60);
    const R = 500, G = 16;
    const origins = uniform(3 * R, -3, 3, rand);
    const dirs = new Float32Array(3 * R);
    for (let r = 0; r < R; r++) {
      // Aim near the box centre so most rays hit, then normalise.
      const t = [0, 1, 2].map((a) => rand() - 0.5 - origins[3 * r + a]!);
      const len = Math.hypot(t[0]!, t[1]!, t[2]!);
      for (let a = 0; a < 3; a++) dirs[3 * r + a] = t[a]! / len;
    }
    const occ = new Uint8Array(G * G * G);
    for (let i = 0; i < occ.length; i++) occ[i] = rand() < 0.3 ? 1 : 0;
    for (const maxSamples of [8, 1000]) {
      const got = await k.marchRays(origins, dirs, box, occ, G, 0.02, maxSamples);
      const ref = marchRaysRef(origins, dirs, box, occ, G, 0.02, maxSamples);
      assert.deepEqual(got.rayOffsets, ref.rayOffsets, `sample counts, maxSamples ${maxSamples}`);
      assert.deepEqual(got.positions, ref.positions, 'positions');
      assert.deepEqual(got.deltas, ref.deltas, 'deltas');
      assert.ok(ref.rayOffsets[R]! > R, 'rays produce samples');
    }
  });
}
