import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SuiteKernels } from '../KernelsTypes';
import { compositeBackwardRef, compositeRef } from '../reference/composite';
import { assertClose, dot, f64, numericGrad, rng, uniform } from '../testUtil';

const TOL = { abs: 1e-5, rel: 1e-4 };

function randomRays(seed: number, R: number, maxPerRay: number) {
  const rand = rng(seed);
  const offsets = new Int32Array(R + 1);
  for (let r = 0; r < R; r++) offsets[r + 1] = offsets[r]! + Math.floor(rand() * (maxPerRay + 1));
  const S = offsets[R]!;
  return {
    offsets, S,
    sigma: uniform(S, -1, 4, rand),
    rgb: uniform(3 * S, 0, 1, rand),
    delta: uniform(S, 0.01, 0.3, rand),
    bg: uniform(3, 0, 1, rand),
    dColor: uniform(3 * R, -1, 1, rand),
  };
}

export function compositeSuite(k: SuiteKernels): void {
  test('composite on hand-worked rays (empty ray, two samples, early termination)', async () => {
    const sigma = Float32Array.from([Math.LN2, -3, 1e4, 1]);
    const rgb = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]);
    const delta = Float32Array.from([1, 1, 1, 1]);
    const offsets = Int32Array.from([0, 0, 2, 4]);
    const bg = Float32Array.from([0.25, 0.5, 1]);
    const r = await k.composite(sigma, rgb, delta, offsets, bg, 1e-4);
    // Ray 0: no samples -> background. Ray 1: alpha 0.5 red, then sigma<0 (alpha 0), T=0.5.
    // Ray 2: alpha ~1 blue, T ~ 0 < tEps, so the last sample is never used.
    assertClose(r.color, [0.25, 0.5, 1, 0.5 + 0.125, 0.25, 0.5, 0, 0, 1], TOL, 'color');
    assertClose(r.transmittance, [1, 0.5, 0], TOL, 'transmittance');
    assert.deepEqual([...r.samplesUsed], [0, 2, 1]);
  });

  test('composite matches the float64 reference on random rays', async () => {
    const t = randomRays(20, 200, 40);
    for (const tEps of [0, 1e-4, 0.05]) {
      const got = await k.composite(t.sigma, t.rgb, t.delta, t.offsets, t.bg, tEps);
      const ref = compositeRef(t.sigma, t.rgb, t.delta, t.offsets, t.bg, tEps);
      assertClose(got.color, ref.color, TOL, `color tEps ${tEps}`);
      assertClose(got.transmittance, ref.transmittance, TOL, `T tEps ${tEps}`);
      assert.deepEqual([...got.samplesUsed], [...ref.samplesUsed], `samplesUsed tEps ${tEps}`);
      if (tEps === 0.05) assert.ok(ref.samplesUsed.some((u, r) => u < t.offsets[r + 1]! - t.offsets[r]!), 'some rays terminate early');
    }
  });

  test('compositeBackward matches the reference and finite differences', async () => {
    const t = randomRays(21, 30, 12);
    for (const tEps of [0, 0.05]) {
      const fwd = await k.composite(t.sigma, t.rgb, t.delta, t.offsets, t.bg, tEps);
      const got = await k.compositeBackward(t.sigma, t.rgb, t.delta, t.offsets, t.bg, fwd, t.dColor);
      const ref = compositeBackwardRef(t.sigma, t.rgb, t.delta, t.offsets, t.bg, fwd.samplesUsed, t.dColor);
      assertClose(got.dSigma, ref.dSigma, TOL, `dSigma tEps ${tEps}`);
      assertClose(got.dRgb, ref.dRgb, TOL, `dRgb tEps ${tEps}`);
    }
    // FD without termination (it is a discontinuity): gradients of the exact float64 forward.
    const fwd = await k.composite(t.sigma, t.rgb, t.delta, t.offsets, t.bg, 0);
    const got = await k.compositeBackward(t.sigma, t.rgb, t.delta, t.offsets, t.bg, fwd, t.dColor);
    const sigma = f64(t.sigma), rgb = f64(t.rgb);
    const loss = () => dot(compositeRef(sigma, rgb, t.delta, t.offsets, t.bg, 0).color, t.dColor);
    assertClose(got.dSigma, numericGrad(loss, sigma), { abs: 1e-5, rel: 1e-3 }, 'dSigma FD');
    assertClose(got.dRgb, numericGrad(loss, rgb), { abs: 1e-5, rel: 1e-3 }, 'dRgb FD');
    assert.ok(got.dSigma.some((v) => v !== 0), 'non-trivial dSigma');
  });
}
