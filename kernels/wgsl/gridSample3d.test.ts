// gridSample3d and its backward on the GPU: the shared suite's section against the
// Kernels-shaped adapters, then the trainer's way of running them (resident buffers, the
// three strides' backward accumulating into one dGrid in one submission), the atomic
// scatter under contention, and the size limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GridShape, GridStride } from '../KernelsTypes';
import { gridSample3dBackwardRef, gridSample3dRef } from '../reference/gridSample';
import { assertClose, rng, uniform } from '../testUtil';
import { encodeGridSample3d, encodeGridSample3dBackward, gridSample3dBackwardOnGpu, gridSample3dOnGpu, type GridSampleDims } from './gridSample3d';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();
// The shared suite's gridSample3d tolerance.
const tol = { abs: 1e-5, rel: 1e-4 };
const strides: GridStride[] = [1, 2, 4];

describe('gridSample3d on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;

  test('a step\'s lookups at strides 1/2/4 and their backward into one resident dGrid, in one submission, equal the float64 reference', async () => {
    const rand = rng(20), shape: GridShape = { d: 9, h: 8, w: 10, c: 3 }, N = 500;
    const grid = uniform(9 * 8 * 10 * 3, -1, 1, rand), points = uniform(3 * N, -1.1, 1.1, rand), dOut = uniform(N * 3, -1, 1, rand);
    // dGrid holds an earlier gradient (another op's), which the backward adds to.
    const earlier = uniform(grid.length, -1, 1, rand);
    const resident = {
      grid: g.upload('test grid', grid), points: g.upload('test points', points), dOut: g.upload('test dOut', dOut), dGrid: g.upload('test dGrid', earlier),
    };
    const outs = strides.map((s) => g.storage(`test out stride ${s}`, 4 * N * 3));
    const dPoints = strides.map((s) => g.storage(`test dPoints stride ${s}`, 12 * N));
    const encoder = g.device.createCommandEncoder({ label: 'test strides encoder' });
    strides.forEach((stride, i) => {
      const dims: GridSampleDims = { shape, stride, count: N };
      encodeGridSample3d(g, encoder, { grid: resident.grid, points: resident.points, out: outs[i]! }, dims);
      encodeGridSample3dBackward(g, encoder, { ...resident, dPoints: dPoints[i]! }, dims);
    });
    g.device.queue.submit([encoder.finish()]);
    const expectedGrid = Float64Array.from(earlier);
    for (const [i, s] of strides.entries()) {
      assertClose(new Float32Array(await g.read(outs[i]!, 4 * N * 3)), gridSample3dRef(grid, shape, points, s), tol, `out stride ${s}`);
      const ref = gridSample3dBackwardRef(grid, shape, points, s, dOut);
      assertClose(new Float32Array(await g.read(dPoints[i]!, 12 * N)), ref.dPoints, tol, `dPoints stride ${s}`);
      ref.dGrid.forEach((v, j) => (expectedGrid[j]! += v));
    }
    assertClose(new Float32Array(await g.read(resident.dGrid, grid.byteLength)), expectedGrid, tol, 'dGrid of three strides on the earlier gradient');
    for (const b of [...Object.values(resident), ...outs, ...dPoints]) b.destroy();
  });

  test('the backward computes only the outputs it is given (dGrid alone, dPoints alone)', async () => {
    const rand = rng(21), shape: GridShape = { d: 4, h: 5, w: 6, c: 2 }, N = 64, dims: GridSampleDims = { shape, stride: 1, count: N };
    const grid = uniform(4 * 5 * 6 * 2, -1, 1, rand), points = uniform(3 * N, -1, 1, rand), dOut = uniform(2 * N, -1, 1, rand);
    const ref = gridSample3dBackwardRef(grid, shape, points, 1, dOut);
    const inputs = { grid: g.upload('test grid', grid), points: g.upload('test points', points), dOut: g.upload('test dOut', dOut) };
    const dGrid = g.storage('test dGrid', grid.byteLength), dPoints = g.upload('test dPoints', new Float32Array(3 * N).fill(7));
    const encoder = g.device.createCommandEncoder({ label: 'test partial backward encoder' });
    encodeGridSample3dBackward(g, encoder, { ...inputs, dGrid }, dims);
    g.device.queue.submit([encoder.finish()]);
    assertClose(new Float32Array(await g.read(dGrid, grid.byteLength)), ref.dGrid, tol, 'dGrid alone');
    assert.ok(new Float32Array(await g.read(dPoints, 12 * N)).every((v) => v === 7), 'dPoints untouched when not given');
    const second = g.device.createCommandEncoder({ label: 'test partial backward encoder 2' });
    encodeGridSample3dBackward(g, second, { ...inputs, dPoints }, dims);
    g.device.queue.submit([second.finish()]);
    assertClose(new Float32Array(await g.read(dPoints, 12 * N)), ref.dPoints, tol, 'dPoints alone');
    assertClose(new Float32Array(await g.read(dGrid, grid.byteLength)), ref.dGrid, tol, 'dGrid not added to again');
    for (const b of [...Object.values(inputs), dGrid, dPoints]) b.destroy();
  });

  test('the compare-exchange scatter loses no add: 20000 points on one cell centre add exactly 2500 to each of its 8 corners', async () => {
    // g = 0 on a 4-point axis is u = 1.5: weight 1/8 on each of the 8 corners, exact in
    // float32, so every order of the adds gives exactly 20000 / 8 (a plain read-add-write
    // from parallel threads would lose some).
    const shape: GridShape = { d: 4, h: 4, w: 4, c: 1 }, N = 20000;
    const { dGrid } = await gridSample3dBackwardOnGpu(g, new Float32Array(64), shape, new Float32Array(3 * N), 1, new Float32Array(N).fill(1), new Float32Array(64).fill(1));
    for (let z = 0; z < 4; z++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++) {
          const inner = [x, y, z].every((i) => i === 1 || i === 2);
          assert.equal(dGrid[(z * 4 + y) * 4 + x], inner ? 2501 : 1, `cell ${x},${y},${z}`);
        }
  });

  test('sizes outside the limits are RangeErrors naming the limit', async () => {
    const shape: GridShape = { d: 3, h: 3, w: 3, c: 2 }, N = 4;
    const buffers = { grid: g.storage('test grid', 4 * 54), points: g.storage('test points', 12 * N), out: g.storage('test out', 4 * 2 * N) };
    const encoder = g.device.createCommandEncoder({ label: 'test limits encoder' });
    const run = (dims: Partial<GridSampleDims>) => () => encodeGridSample3d(g, encoder, buffers, { shape, stride: 1, count: N, ...dims });
    assert.throws(run({ stride: 3 as GridStride }), { name: 'RangeError', message: 'gridSample3d: stride must be 1, 2 or 4, got 3' });
    assert.throws(run({ shape: { ...shape, c: 0 } }), { name: 'RangeError', message: 'gridSample3d: shape.c must be a positive integer, got 0' });
    assert.throws(run({ count: -1 }), { name: 'RangeError', message: 'gridSample3d: count must be a non-negative integer, got -1' });
    // Within the shape rules but not one binding's: a 512^3 grid of 64 channels.
    const limit = g.device.limits.maxStorageBufferBindingSize;
    assert.throws(run({ shape: { d: 512, h: 512, w: 512, c: 64 } }), { name: 'RangeError', message: `gridSample3d: grid needs 34359738368 bytes, over the device's maxStorageBufferBindingSize (${limit})` });
    // Buffers smaller than the dims say are caught here, not as a GPU validation error later.
    assert.throws(run({ count: 5 }), { name: 'RangeError', message: 'gridSample3d: the points buffer holds 48 bytes, the op needs 60' });
    assert.throws(() => encodeGridSample3dBackward(g, encoder, { ...buffers, dOut: buffers.out, dGrid: buffers.out }, { shape, stride: 2, count: N }),
      { name: 'RangeError', message: 'gridSample3dBackward: the dGrid buffer holds 32 bytes, the op needs 216' });
    // The adapters check lengths as the CPU op does.
    const grid = new Float32Array(54), points = new Float32Array(12);
    await assert.rejects(gridSample3dOnGpu(g, grid, shape, new Float32Array(10), 1), { name: 'RangeError', message: 'gridSample3d: points has length 10, not a multiple of 3' });
    await assert.rejects(gridSample3dOnGpu(g, new Float32Array(53), shape, points, 1), { name: 'RangeError', message: 'gridSample3d: grid has length 53, expected 54 (D*H*W*C)' });
    await assert.rejects(gridSample3dBackwardOnGpu(g, grid, shape, points, 1, new Float32Array(7)), { name: 'RangeError', message: 'gridSample3dBackward: dOut has length 7, expected 8 (N*C)' });
    await assert.rejects(gridSample3dBackwardOnGpu(g, grid, shape, points, 1, new Float32Array(8), new Float32Array(55)), { name: 'RangeError', message: 'gridSample3dBackward: dGrid has length 55, expected 54 (D*H*W*C)' });
    for (const b of Object.values(buffers)) b.destroy();
  });

  test('no points: empty outputs, and dGrid is returned as accumulated so far', async () => {
    const shape: GridShape = { d: 2, h: 2, w: 2, c: 3 }, grid = uniform(24, -1, 1, rng(22)), acc = uniform(24, -1, 1, rng(23)), before = acc.slice();
    assert.equal((await gridSample3dOnGpu(g, grid, shape, new Float32Array(0), 2)).out.length, 0);
    const r = await gridSample3dBackwardOnGpu(g, grid, shape, new Float32Array(0), 2, new Float32Array(0), acc);
    assert.equal(r.dGrid, acc);
    assert.deepEqual(acc, before);
    assert.equal(r.dPoints.length, 0);
  });
});
