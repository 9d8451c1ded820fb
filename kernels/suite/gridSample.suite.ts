import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GridShape, GridStride, SuiteKernels } from '../KernelsTypes';
import { gridSample3dBackwardRef, gridSample3dRef } from '../reference/gridSample';
import { assertClose, dot, f64, numericGrad, rng, uniform } from '../testUtil';

const TOL = { abs: 1e-5, rel: 1e-4 };
const strides: GridStride[] = [1, 2, 4];

export function gridSampleSuite(k: SuiteKernels): void {
  test('gridSample3d reproduces a linear field exactly inside the strided grid', async () => {
    const shape: GridShape = { d: 9, h: 10, w: 11, c: 2 };
    const grid = new Float32Array(shape.d * shape.h * shape.w * shape.c);
    // value(X, Y, Z, c) = (c + 1) * (0.5 + 0.1 X - 0.2 Y + 0.3 Z) at full-grid indices.
    const f = (X: number, Y: number, Z: number, c: number) => (c + 1) * (0.5 + 0.1 * X - 0.2 * Y + 0.3 * Z);
    for (let z = 0; z < shape.d; z++)
      for (let y = 0; y < shape.h; y++)
        for (let x = 0; x < shape.w; x++)
          for (let c = 0; c < shape.c; c++) grid[((z * shape.h + y) * shape.w + x) * shape.c + c] = f(x, y, z, c);
    const rand = rng(1);
    for (const s of strides) {
      const sizes = [(shape.w - 1) / s, (shape.h - 1) / s, (shape.d - 1) / s].map((v) => Math.floor(v) + 1);
      const n = 50, points = new Float32Array(n * 3), expected = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        // u in [0, size-1]: all eight corners in range; g = (2u + 1) / size - 1.
        const u = sizes.map((sz) => rand() * (sz - 1));
        for (let a = 0; a < 3; a++) points[3 * i + a] = (2 * u[a]! + 1) / sizes[a]! - 1;
        const uf = [0, 1, 2].map((a) => (((points[3 * i + a]! + 1) * sizes[a]! - 1) / 2) * s);
        for (let c = 0; c < 2; c++) expected[2 * i + c] = f(uf[0]!, uf[1]!, uf[2]!, c);
      }
      assertClose((await k.gridSample3d(grid, shape, points, s)).out, expected, TOL, `linear field, stride ${s}`);
    }
  });

  test('gridSample3d uses align_corners=false and zero padding', async () => {
    const shape: GridShape = { d: 2, h: 2, w: 2, c: 1 };
    const grid = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const points = Float32Array.from([-1, -1, -1, 1, 1, 1, 0, 0, 0, 5, 0, 0, -0.5, -0.5, -0.5]);
    // (-1,-1,-1) is half a cell outside grid[0,0,0]: weight 1/8 on it, the rest is padding.
    // The centre averages all eight; x = 5 is far outside; (-0.5)^3 is cell (0,0,0)'s centre.
    const out = (await k.gridSample3d(grid, shape, points, 1)).out;
    assertClose(out, [1 / 8, 8 / 8, 4.5, 0, 1], TOL, 'corners');
  });

  test('gridSample3d matches the float64 reference on random inputs', async () => {
    const rand = rng(2);
    const shape: GridShape = { d: 7, h: 6, w: 9, c: 3 };
    const grid = uniform(shape.d * shape.h * shape.w * shape.c, -1, 1, rand);
    const points = uniform(3000, -1.2, 1.2, rand);
    for (const s of strides)
      assertClose((await k.gridSample3d(grid, shape, points, s)).out, gridSample3dRef(grid, shape, points, s), TOL, `stride ${s}`);
  });

  test('gridSample3dBackward matches the reference and finite differences', async () => {
    const rand = rng(3);
    const shape: GridShape = { d: 5, h: 6, w: 7, c: 2 };
    const grid = uniform(shape.d * shape.h * shape.w * shape.c, -1, 1, rand);
    for (const s of strides) {
      const points = uniform(3 * 40, -1.1, 1.1, rand);
      const dOut = uniform(40 * 2, -1, 1, rand);
      const got = await k.gridSample3dBackward(grid, shape, points, s, dOut);
      const ref = gridSample3dBackwardRef(grid, shape, points, s, dOut);
      assertClose(got.dGrid, ref.dGrid, TOL, `dGrid stride ${s}`);
      assertClose(got.dPoints, ref.dPoints, TOL, `dPoints stride ${s}`);
      // The same gradients from finite differences of the float64 forward.
      const g = f64(grid), p = f64(points);
      const loss = () => dot(gridSample3dRef(g, shape, p, s), dOut);
      assertClose(got.dGrid, numericGrad(loss, g), { abs: 1e-5, rel: 1e-4 }, `dGrid FD stride ${s}`);
      assertClose(got.dPoints, numericGrad(loss, p), { abs: 1e-4, rel: 1e-4 }, `dPoints FD stride ${s}`);
      assert.ok(ref.dGrid.some((v) => v !== 0) && ref.dPoints.some((v) => v !== 0), 'non-trivial gradients');
    }
  });

  test('gridSample3dBackward accumulates into a given dGrid (strides share one grid)', async () => {
    const rand = rng(4);
    const shape: GridShape = { d: 9, h: 9, w: 9, c: 2 };
    const grid = uniform(9 * 9 * 9 * 2, -1, 1, rand);
    const points = uniform(3 * 100, -1, 1, rand);
    const dOut = uniform(200, -1, 1, rand);
    const acc = new Float32Array(grid.length);
    const expected = new Float64Array(grid.length);
    for (const s of strides) {
      const r = await k.gridSample3dBackward(grid, shape, points, s, dOut, acc);
      assert.equal(r.dGrid, acc, 'returns the accumulator');
      const ref = gridSample3dBackwardRef(grid, shape, points, s, dOut).dGrid;
      for (let i = 0; i < ref.length; i++) expected[i]! += ref[i]!;
    }
    assertClose(acc, expected, TOL, 'accumulated dGrid');
  });
}
