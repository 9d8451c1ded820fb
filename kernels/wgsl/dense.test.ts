// dense and denseBackward on the GPU: the shared suite's section against the
// Kernels-shaped adapters, then the trainer's way of running them (a two-layer head's
// forward and backward on resident buffers in one submission, reused for a second step),
// row tiles past one dispatch dimension, and the size limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DenseShape } from '../KernelsTypes';
import { denseBackwardRef, denseRef } from '../reference/dense';
import { assertClose, rng, uniform } from '../testUtil';
import { denseBackwardOnGpu, denseLimits, denseOnGpu, denseWorkgroups, encodeDense, encodeDenseBackward, type DenseDims } from './dense';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();

describe('dense on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;

  test('a two-layer head\'s forward and backward on resident buffers, one submission per step, reused for a second step, equal the float64 reference', async () => {
    const rand = rng(60), N = 300, I = 21, H = 34, O = 3;
    const w1 = uniform(H * I, -0.5, 0.5, rand), b1 = uniform(H, -0.3, 0.3, rand), w2 = uniform(O * H, -0.5, 0.5, rand), b2 = uniform(O, -0.3, 0.3, rand);
    const layer1: DenseDims = { n: N, inFeatures: I, outFeatures: H, act: 'leakyRelu' };
    const layer2: DenseDims = { n: N, inFeatures: H, outFeatures: O, act: 'sigmoid' };
    const r = {
      x: g.storage('test x', 4 * N * I), w1: g.upload('test W1', w1), b1: g.upload('test b1', b1), w2: g.upload('test W2', w2), b2: g.upload('test b2', b2),
      h: g.storage('test h', 4 * N * H), y: g.storage('test y', 4 * N * O), dY: g.storage('test dY', 4 * N * O), dH: g.storage('test dH', 4 * N * H),
      dW1: g.storage('test dW1', 4 * H * I), dB1: g.storage('test dB1', 4 * H), dW2: g.storage('test dW2', 4 * O * H), dB2: g.storage('test dB2', 4 * O),
    };
    for (const step of [1, 2]) {
      const x = uniform(N * I, -1, 1, rand), dY = uniform(N * O, -1, 1, rand);
      g.write(r.x, 0, x);
      g.write(r.dY, 0, dY);
      const encoder = g.device.createCommandEncoder({ label: `test head step ${step} encoder` });
      encodeDense(g, encoder, { x: r.x, w: r.w1, b: r.b1, y: r.h }, layer1);
      encodeDense(g, encoder, { x: r.h, w: r.w2, b: r.b2, y: r.y }, layer2);
      encodeDenseBackward(g, encoder, { x: r.h, w: r.w2, y: r.y, dY: r.dY, dX: r.dH, dW: r.dW2, dB: r.dB2 }, layer2);
      // The first layer needs no dX.
      encodeDenseBackward(g, encoder, { x: r.x, w: r.w1, y: r.h, dY: r.dH, dW: r.dW1, dB: r.dB1 }, layer1);
      g.device.queue.submit([encoder.finish()]);
      const read = async (b: GPUBuffer, n: number) => new Float32Array(await g.read(b, 4 * n));
      const [h, y, dH, dW1, dB1, dW2, dB2] = await Promise.all([
        read(r.h, N * H), read(r.y, N * O), read(r.dH, N * H), read(r.dW1, H * I), read(r.dB1, H), read(r.dW2, O * H), read(r.dB2, O),
      ]);
      // Each layer against the reference from the GPU's own float32 input (the suite's way).
      const fwdTol = (k: number) => ({ abs: 2e-6 * Math.sqrt(k), rel: 1e-4 }), bwdTol = { abs: 1e-5 * Math.sqrt(N), rel: 1e-4 };
      assertClose(h, denseRef(x, w1, b1, layer1, 'leakyRelu'), fwdTol(I), `step ${step} h`);
      assertClose(y, denseRef(h, w2, b2, layer2, 'sigmoid'), fwdTol(H), `step ${step} y`);
      const ref2 = denseBackwardRef(h, w2, y, dY, layer2, 'sigmoid'), ref1 = denseBackwardRef(x, w1, h, dH, layer1, 'leakyRelu');
      assertClose(dH, ref2.dX, bwdTol, `step ${step} dH`);
      assertClose(dW2, ref2.dW, bwdTol, `step ${step} dW2`);
      assertClose(dB2, ref2.dB, bwdTol, `step ${step} dB2`);
      assertClose(dW1, ref1.dW, bwdTol, `step ${step} dW1`);
      assertClose(dB1, ref1.dB, bwdTol, `step ${step} dB1`);
    }
    for (const b of Object.values(r)) b.destroy();
  });

  test('more than 65535 row tiles go on in the dispatch\'s third dimension, every tile once', () => {
    // Run on the GPU that takes over 1M rows: 209 s on SwiftShader, so the layout is checked here.
    for (const [rows, cols] of [[1, 1], [16 * 65535, 17], [16 * 65535 + 1, 3], [16 * 65535 * 3 + 40, 16]] as const) {
      const [x, y, z] = denseWorkgroups(rows, cols), rowTiles = Math.ceil(rows / 16);
      assert.equal(x, Math.ceil(cols / 16));
      assert.ok(y <= 65535 && z <= 65535, `${rows} rows: ${y} x ${z}`);
      // The shader's tile index (y + z * Y) covers 0 .. rowTiles-1 with no gap; the rest return.
      assert.ok(y * z >= rowTiles && y * (z - 1) < rowTiles, `${rows} rows: ${y} x ${z} for ${rowTiles} tiles`);
    }
  });

  test('no rows: dW and dB are written as zeros over what a resident buffer held', async () => {
    const dims: DenseDims = { n: 0, inFeatures: 3, outFeatures: 2, act: 'relu' };
    const empty = g.storage('test empty', 0), w = g.upload('test W', uniform(6, -1, 1, rng(61)));
    const dW = g.upload('test dW', new Float32Array(6).fill(5)), dB = g.upload('test dB', new Float32Array(2).fill(5));
    const encoder = g.device.createCommandEncoder({ label: 'test no rows encoder' });
    encodeDenseBackward(g, encoder, { x: empty, w, y: empty, dY: empty, dX: empty, dW, dB }, dims);
    g.device.queue.submit([encoder.finish()]);
    assert.deepEqual([...new Float32Array(await g.read(dW, 24)), ...new Float32Array(await g.read(dB, 8))], new Array(8).fill(0));
    for (const b of [empty, w, dW, dB]) b.destroy();
  });

  test('sizes outside the limits are RangeErrors naming the limit', async () => {
    const dims: DenseDims = { n: 4, inFeatures: 3, outFeatures: 2, act: 'relu' };
    const buffers = { x: g.storage('test x', 48), w: g.storage('test W', 24), b: g.storage('test b', 8), y: g.storage('test y', 32) };
    const encoder = g.device.createCommandEncoder({ label: 'test limits encoder' });
    const run = (d: Partial<DenseDims>) => () => encodeDense(g, encoder, buffers, { ...dims, ...d });
    assert.equal(denseLimits.features, 1048560);
    assert.throws(run({ inFeatures: 0 }), { name: 'RangeError', message: 'dense: inFeatures must be an integer in [1, 1048560] (16-wide tiles, 65535 workgroups per dispatch dimension), got 0' });
    assert.throws(run({ outFeatures: 1048561 }), { name: 'RangeError', message: /^dense: outFeatures must be an integer in \[1, 1048560\].*, got 1048561$/ });
    assert.throws(run({ n: 1.5 }), { name: 'RangeError', message: 'dense: n must be a non-negative integer, got 1.5' });
    assert.throws(run({ act: 'tanh' as DenseDims['act'] }), { name: 'RangeError', message: "dense: activation must be one of none, relu, leakyRelu, sigmoid, got 'tanh'" });
    // Within the op's limits but not one binding's: 2^19 x 2^11 weights.
    const limit = g.device.limits.maxStorageBufferBindingSize;
    assert.throws(run({ inFeatures: 1 << 19, outFeatures: 1 << 11 }), { name: 'RangeError', message: `dense: w needs 4294967296 bytes, over the device's maxStorageBufferBindingSize (${limit})` });
    assert.throws(run({ n: 5 }), { name: 'RangeError', message: 'dense: the x buffer holds 48 bytes, the op needs 60' });
    assert.throws(() => encodeDenseBackward(g, encoder, { x: buffers.x, w: buffers.w, y: buffers.y, dY: buffers.y, dX: buffers.w, dW: buffers.w, dB: buffers.b }, dims),
      { name: 'RangeError', message: 'denseBackward: the dX buffer holds 24 bytes, the op needs 48' });
    // The adapters check lengths as the CPU op does.
    const shape: DenseShape = { n: 2, inFeatures: 3, outFeatures: 2 }, x = new Float32Array(6), w = new Float32Array(6), y = new Float32Array(4);
    await assert.rejects(denseOnGpu(g, x, new Float32Array(5), new Float32Array(2), shape, 'none'), { name: 'RangeError', message: 'dense: W has length 5, expected 6 (Out*In)' });
    await assert.rejects(denseOnGpu(g, x, w, new Float32Array(3), shape, 'none'), { name: 'RangeError', message: 'dense: b has length 3, expected 2 (Out)' });
    await assert.rejects(denseBackwardOnGpu(g, new Float32Array(7), w, y, y, shape, 'none'), { name: 'RangeError', message: 'denseBackward: x has length 7, expected 6 (N*In)' });
    await assert.rejects(denseBackwardOnGpu(g, x, w, y, new Float32Array(3), shape, 'none'), { name: 'RangeError', message: 'denseBackward: dY has length 3, expected 4 (N*Out)' });
    for (const b of Object.values(buffers)) b.destroy();
  });
});
