// Float64 gradient checks of the TS reference itself: reference backward vs central
// finite differences of the reference forward, with tight tolerances. (The shared
// suite then checks every backend's backward against both.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Activation, GridStride } from './KernelsTypes';
import { blendVolumesBackwardRef, blendVolumesRef } from './reference/blend';
import { compositeBackwardRef, compositeRef } from './reference/composite';
import { denseBackwardRef, denseRef } from './reference/dense';
import { gridSample3dBackwardRef, gridSample3dRef } from './reference/gridSample';
import { l1LossBackwardRef, l1LossRef, meanSquareBackwardRef, meanSquareRef } from './reference/optim';
import { assertClose, dot, f64, numericGrad, rng, uniform } from './testUtil';

const TIGHT = { abs: 1e-7, rel: 1e-6 };
const rand = rng(99);
const r64 = (n: number, lo: number, hi: number) => f64(uniform(n, lo, hi, rand));

describe('reference gradients (float64 finite differences)', () => {
  test('gridSample3d: dGrid and dPoints for every stride', () => {
    const shape = { d: 5, h: 4, w: 6, c: 3 };
    const grid = r64(5 * 4 * 6 * 3, -1, 1);
    for (const s of [1, 2, 4] satisfies GridStride[]) {
      const pts = r64(3 * 15, -1.1, 1.1), dOut = r64(15 * 3, -1, 1);
      const loss = () => dot(gridSample3dRef(grid, shape, pts, s), dOut);
      const g = gridSample3dBackwardRef(grid, shape, pts, s, dOut);
      assertClose(g.dGrid, numericGrad(loss, grid), TIGHT, `dGrid s=${s}`);
      assertClose(g.dPoints, numericGrad(loss, pts), TIGHT, `dPoints s=${s}`);
    }
  });

  test('dense: dX, dW, dB for every activation', () => {
    const shape = { n: 4, inFeatures: 5, outFeatures: 3 };
    for (const act of ['none', 'relu', 'leakyRelu', 'sigmoid'] satisfies Activation[]) {
      const x = r64(20, -1, 1), w = r64(15, -1, 1), b = r64(3, -1, 1), dY = r64(12, -1, 1);
      const y = denseRef(x, w, b, shape, act);
      const g = denseBackwardRef(x, w, y, dY, shape, act);
      const loss = () => dot(denseRef(x, w, b, shape, act), dY);
      assertClose(g.dX, numericGrad(loss, x), TIGHT, `dX ${act}`);
      assertClose(g.dW, numericGrad(loss, w), TIGHT, `dW ${act}`);
      assertClose(g.dB, numericGrad(loss, b), TIGHT, `dB ${act}`);
    }
  });

  test('composite: dSigma and dRgb (no termination)', () => {
    const offsets = [0, 3, 3, 10, 17], S = 17;
    const sigma = r64(S, -0.5, 3), rgb = r64(3 * S, 0, 1), delta = r64(S, 0.05, 0.5), bg = [0.2, 0.4, 0.9];
    const dColor = r64(12, -1, 1);
    const fwd = compositeRef(sigma, rgb, delta, offsets, bg, 0);
    const g = compositeBackwardRef(sigma, rgb, delta, offsets, bg, fwd.samplesUsed, dColor);
    const loss = () => dot(compositeRef(sigma, rgb, delta, offsets, bg, 0).color, dColor);
    assertClose(g.dSigma, numericGrad(loss, sigma), TIGHT, 'dSigma');
    assertClose(g.dRgb, numericGrad(loss, rgb), TIGHT, 'dRgb');
  });

  test('blendVolumes: dMean, dBases, dCoeff', () => {
    const E = 3, V = 20;
    const mean = r64(V, -1, 1), bases = r64(E * V, -1, 1), coeff = r64(E, -1, 1), dOut = r64(V, -1, 1);
    const g = blendVolumesBackwardRef(bases, coeff, dOut);
    const loss = () => dot(blendVolumesRef(mean, bases, coeff), dOut);
    assertClose(g.dMean, numericGrad(loss, mean), TIGHT, 'dMean');
    assertClose(g.dBases, numericGrad(loss, bases), TIGHT, 'dBases');
    assertClose(g.dCoeff, numericGrad(loss, coeff), TIGHT, 'dCoeff');
  });

  test('l1Loss and meanSquare', () => {
    const a = r64(30, -1, 1), b = r64(30, -1, 1);
    assertClose(l1LossBackwardRef(a, b, 1.5), numericGrad(() => 1.5 * l1LossRef(a, b), a), TIGHT, 'dL1');
    assertClose(meanSquareBackwardRef(a, 0.5), numericGrad(() => 0.5 * meanSquareRef(a), a), TIGHT, 'dMeanSquare');
    assert.equal(l1LossBackwardRef([1], [1], 1)[0], 0, 'zero gradient at an exact tie');
  });
});
