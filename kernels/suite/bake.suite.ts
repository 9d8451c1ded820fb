import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeformMlp, InferenceKernels } from '../KernelsTypes';
import { bakeMotionRef } from '../reference/bake';
import { assertClose, rng, uniform } from '../testUtil';

function deformMlp(seed: number, C: number, F: number, H: number): DeformMlp {
  const rand = rng(seed), enc = 3 * C * (1 + 2 * F);
  return {
    frequencies: F, hidden: H, W0: uniform(H * enc, -0.5, 0.5, rand), b0: uniform(H, -0.3, 0.3, rand),
    W1: uniform(3 * H, -1, 1, rand), b1: uniform(3, -0.2, 0.2, rand),
  };
}

export function bakeSuite(k: InferenceKernels): void {
  test('bakeMotion matches the float64 reference (odd hidden width, bake grid finer and coarser than the volume)', async () => {
    for (const [M, C, F, H, m] of [[9, 2, 4, 19, 7], [5, 3, 2, 16, 11], [9, 2, 0, 33, 9]] as const) {
      const rand = rng(M * 100 + m), motion = uniform(M * M * M * C, -2, 2, rand), shape = { d: M, h: M, w: M, c: C };
      const d = deformMlp(m, C, F, H), a = new Float32Array(3 * m ** 3).fill(NaN), b = new Float32Array(3 * m ** 3);
      await k.bakeMotion(motion, shape, m, d, a);
      bakeMotionRef(motion, shape, m, d, b);
      assert.ok(b.some((v) => Math.abs(v) > 0.05), 'offsets are not all near zero');
      assertClose(a, b, { abs: 1e-5, rel: 1e-4 }, `bakeMotion M=${M} C=${C} F=${F} H=${H} m=${m}`);
    }
  });

  test('bakeMotion: the leaky ReLU passes 1% of a negative pre-activation', async () => {
    // One hidden unit with zero weights, so its pre-activation is b0 alone; W1 reads the
    // unit out on every axis.
    const M = 3, C = 1, F = 1, shape = { d: M, h: M, w: M, c: C }, enc = 3 * C * (1 + 2 * F);
    const W0 = new Float32Array(enc);
    const d: DeformMlp = { frequencies: F, hidden: 1, W0, b0: Float32Array.of(-2), W1: Float32Array.of(1, 2, 3), b1: new Float32Array(3) };
    const out = new Float32Array(3 * 8);
    await k.bakeMotion(new Float32Array(M ** 3 * C), shape, 2, d, out);
    assertClose(out, Array.from({ length: 24 }, (_, i) => 0.1 * (i % 3 + 1) * 0.01 * -2), { abs: 1e-7, rel: 1e-6 }, 'leaky');
    d.b0[0] = 2;
    await k.bakeMotion(new Float32Array(M ** 3 * C), shape, 2, d, out);
    assertClose(out, Array.from({ length: 24 }, (_, i) => 0.1 * (i % 3 + 1) * 2), { abs: 1e-7, rel: 1e-6 }, 'positive');
  });
}
