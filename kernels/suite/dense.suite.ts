import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Activation, DenseShape, SuiteKernels } from '../KernelsTypes';
import { denseBackwardRef, denseRef } from '../reference/dense';
import { assertClose, dot, f64, numericGrad, rng, uniform } from '../testUtil';

const acts: Activation[] = ['none', 'relu', 'leakyRelu', 'sigmoid'];

export function denseSuite(k: SuiteKernels): void {
  test('dense computes act(x W^T + b) on a hand-worked example', async () => {
    const x = Float32Array.from([1, 2]), w = Float32Array.from([1, 1, 1, -1]), b = Float32Array.from([0.5, 0]);
    const shape: DenseShape = { n: 1, inFeatures: 2, outFeatures: 2 };
    // z = [3.5, -1]
    const expected: Record<Activation, number[]> = {
      none: [3.5, -1], relu: [3.5, 0], leakyRelu: [3.5, -0.01], sigmoid: [1 / (1 + Math.exp(-3.5)), 1 / (1 + Math.exp(1))],
    };
    for (const act of acts) assertClose((await k.dense(x, w, b, shape, act)).y, expected[act], { abs: 1e-6, rel: 1e-6 }, act);
  });

  test('dense matches the float64 reference (tile tails and a model-sized layer)', async () => {
    const rand = rng(10);
    const shapes: DenseShape[] = [
      { n: 37, inFeatures: 23, outFeatures: 19 },
      { n: 301, inFeatures: 140, outFeatures: 128 },
      { n: 13, inFeatures: 128, outFeatures: 1 },
      { n: 0, inFeatures: 4, outFeatures: 3 },
    ];
    for (const shape of shapes)
      for (const act of acts) {
        const x = uniform(shape.n * shape.inFeatures, -1, 1, rand);
        const w = uniform(shape.outFeatures * shape.inFeatures, -0.3, 0.3, rand);
        const b = uniform(shape.outFeatures, -0.5, 0.5, rand);
        const tol = { abs: 2e-6 * Math.sqrt(shape.inFeatures), rel: 1e-4 };
        assertClose((await k.dense(x, w, b, shape, act)).y, denseRef(x, w, b, shape, act), tol, `${JSON.stringify(shape)} ${act}`);
      }
  });

  test('denseBackward matches the reference and finite differences', async () => {
    const rand = rng(11);
    for (const shape of [
      { n: 5, inFeatures: 7, outFeatures: 9 },
      { n: 70, inFeatures: 33, outFeatures: 20 },
    ] satisfies DenseShape[]) {
      for (const act of acts) {
        const x = uniform(shape.n * shape.inFeatures, -1, 1, rand);
        const w = uniform(shape.outFeatures * shape.inFeatures, -0.5, 0.5, rand);
        const b = uniform(shape.outFeatures, -0.5, 0.5, rand);
        const dY = uniform(shape.n * shape.outFeatures, -1, 1, rand);
        const { y } = await k.dense(x, w, b, shape, act);
        const got = await k.denseBackward(x, w, y, dY, shape, act);
        const ref = denseBackwardRef(x, w, y, dY, shape, act);
        const tol = { abs: 1e-5 * Math.sqrt(shape.n), rel: 1e-4 };
        assert.ok(got.dX);
        assertClose(got.dX, ref.dX, tol, `dX ${act}`);
        assertClose(got.dW, ref.dW, tol, `dW ${act}`);
        assertClose(got.dB, ref.dB, tol, `dB ${act}`);
        assert.equal((await k.denseBackward(x, w, y, dY, shape, act, false)).dX, null, 'needDX=false gives no dX');
        if (shape.n > 5) continue;
        const X = f64(x), W = f64(w), B = f64(b);
        const loss = () => dot(denseRef(X, W, B, shape, act), dY);
        const fdTol = { abs: 1e-4, rel: 1e-3 };  // y is float32 in backward's act'(y)
        assertClose(got.dX, numericGrad(loss, X), fdTol, `dX FD ${act}`);
        assertClose(got.dW, numericGrad(loss, W), fdTol, `dW FD ${act}`);
        assertClose(got.dB, numericGrad(loss, B), fdTol, `dB FD ${act}`);
      }
    }
  });
}
