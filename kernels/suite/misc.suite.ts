import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdamOptions, InferenceKernels, SuiteKernels } from '../KernelsTypes';
import { blendVolumesBackwardRef, blendVolumesRef } from '../reference/blend';
import { adamStepRef, l1LossBackwardRef, l1LossRef, meanSquareRef } from '../reference/optim';
import { assertClose, dot, f64, numericGrad, rng, uniform } from '../testUtil';

const TOL = { abs: 1e-5, rel: 1e-4 };

export function blendSuite(k: InferenceKernels): void {
  test('blendVolumes: hand-worked example and random inputs', async () => {
    const { out } = await k.blendVolumes(Float32Array.from([1, 2]), Float32Array.from([1, 0, 0, 1, 2, 2]), Float32Array.from([0.5, -1, 0.25]));
    assertClose(out, [1 + 0.5 + 0.5, 2 - 1 + 0.5], TOL, 'hand-worked');
    const rand = rng(30);
    const E = 5, V = 10007;
    const mean = uniform(V, -1, 1, rand), bases = uniform(E * V, -1, 1, rand), coeff = uniform(E, -1, 1, rand);
    assertClose((await k.blendVolumes(mean, bases, coeff)).out, blendVolumesRef(mean, bases, coeff), TOL, 'random');
  });
}

export function blendBackwardSuite(k: SuiteKernels): void {
  test('blendVolumesBackward matches the reference and finite differences', async () => {
    const rand = rng(31);
    const E = 4, V = 9000;
    const mean = uniform(V, -1, 1, rand), bases = uniform(E * V, -1, 1, rand), coeff = uniform(E, -1, 1, rand);
    const dOut = uniform(V, -1, 1, rand);
    const got = await k.blendVolumesBackward(bases, coeff, dOut);
    const ref = blendVolumesBackwardRef(bases, coeff, dOut);
    assertClose(got.dMean, ref.dMean, TOL, 'dMean');
    assertClose(got.dBases, ref.dBases, TOL, 'dBases');
    assertClose(got.dCoeff, ref.dCoeff, { abs: 1e-4, rel: 1e-4 }, 'dCoeff');
    const C = f64(coeff);
    const loss = () => dot(blendVolumesRef(mean, bases, C), dOut);
    assertClose(got.dCoeff, numericGrad(loss, C, 1e-4), { abs: 1e-3, rel: 1e-4 }, 'dCoeff FD');
  });
}

export function lossSuite(k: SuiteKernels): void {
  test('l1Loss and meanSquare: hand-worked values and gradients (sign, 0 at ties)', async () => {
    const a = Float32Array.from([1, 2, 3, 4]), b = Float32Array.from([0, 2, 5, 4.5]);
    assert.ok(Math.abs((await k.l1Loss(a, b)) - 3.5 / 4) < 1e-7);
    assertClose(await k.l1LossBackward(a, b, 2), [0.5, 0, -0.5, -0.5], { abs: 0, rel: 1e-7 }, 'dL1');
    assert.ok(Math.abs((await k.meanSquare(a)) - 30 / 4) < 1e-6);
    assertClose(await k.meanSquareBackward(a, 1), [0.5, 1, 1.5, 2], { abs: 0, rel: 1e-7 }, 'dMeanSquare');
  });

  test('losses match the float64 reference on large random inputs', async () => {
    const rand = rng(40);
    const a = uniform(100003, -1, 1, rand), b = uniform(100003, -1, 1, rand);
    assert.ok(Math.abs((await k.l1Loss(a, b)) - l1LossRef(a, b)) <= 1e-9 + 1e-6 * l1LossRef(a, b), 'l1');
    assert.ok(Math.abs((await k.meanSquare(a)) - meanSquareRef(a)) <= 1e-9 + 1e-6 * meanSquareRef(a), 'meanSquare');
    assertClose(await k.l1LossBackward(a, b, 3), l1LossBackwardRef(a, b, 3), { abs: 0, rel: 1e-6 }, 'dL1');
    const x = f64(a.subarray(0, 50));
    assertClose(await k.meanSquareBackward(a.subarray(0, 50), 1), numericGrad(() => meanSquareRef(x), x), { abs: 1e-7, rel: 1e-5 }, 'dMeanSquare FD');
  });
}

export function adamSuite(k: SuiteKernels): void {
  const opts: AdamOptions = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };

  test('adamStep: first step moves each parameter by ~lr against its gradient', async () => {
    const p = Float32Array.from([1, 1, 1]), g = Float32Array.from([0.5, -2, 0]);
    const m = new Float32Array(3), v = new Float32Array(3);
    await k.adamStep(p, g, m, v, opts);
    // Bias-corrected m/sqrt(v) = sign(g) at t = 1.
    assertClose(p, [0.99, 1.01, 1], { abs: 1e-6, rel: 0 }, 'param');
    assertClose(m, [0.05, -0.2, 0], { abs: 1e-7, rel: 1e-6 }, 'm');
    assertClose(v, [0.00025, 0.004, 0], { abs: 1e-9, rel: 1e-5 }, 'v');
  });

  test('adamStep and adamStepMasked match the reference over several steps', async () => {
    const rand = rng(50);
    const n = 5000;
    for (const masked of [false, true]) {
      const p = uniform(n, -1, 1, rand), m = new Float32Array(n), v = new Float32Array(n);
      const pr = f64(p), mr = new Float64Array(n), vr = new Float64Array(n);
      for (let t = 1; t <= 4; t++) {
        const g = uniform(n, -1, 1, rand);
        for (let i = 0; i < n; i += 3) g[i] = 0;  // a third of the voxels untouched this step
        const o = { ...opts, step: t };
        if (masked) await k.adamStepMasked(p, g, m, v, o);
        else await k.adamStep(p, g, m, v, o);
        adamStepRef(pr, g, mr, vr, o, masked);
      }
      assertClose(p, pr, { abs: 1e-6, rel: 1e-5 }, `param masked=${masked}`);
      assertClose(m, mr, { abs: 1e-7, rel: 1e-5 }, `m masked=${masked}`);
      assertClose(v, vr, { abs: 1e-9, rel: 1e-5 }, `v masked=${masked}`);
    }
  });

  test('adamStepMasked leaves elements with exactly zero grad untouched (param, m, v)', async () => {
    const p = Float32Array.from([1, 2]), m = Float32Array.from([0.3, 0.3]), v = Float32Array.from([0.1, 0.1]);
    await k.adamStepMasked(p, Float32Array.from([0, 1]), m, v, { ...opts, step: 5 });
    assert.deepEqual([p[0], m[0], v[0]], [1, Math.fround(0.3), Math.fround(0.1)]);
    assert.notEqual(p[1], 2);
    // The unmasked step decays m and moves the parameter on momentum alone.
    const q = Float32Array.from([1]), mq = Float32Array.from([0.3]), vq = Float32Array.from([0.1]);
    await k.adamStep(q, Float32Array.from([0]), mq, vq, { ...opts, step: 5 });
    assert.ok(q[0]! < 1 && mq[0]! < Math.fround(0.3));
  });
}
