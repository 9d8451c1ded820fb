// blendVolumes and its backward on the GPU: the shared suite's sections against the
// Kernels-shaped adapters, then the trainer's way (forward and backward on resident
// buffers in one submission, reused for a second step), no bases, and the size limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blendVolumesBackwardRef, blendVolumesRef } from '../reference/blend';
import { assertClose, rng, uniform } from '../testUtil';
import { blendVolumesBackwardOnGpu, encodeBlendVolumes, encodeBlendVolumesBackward, type BlendVolumesBackwardBuffers } from './blendVolumes';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();
// The shared suite's tolerances (dCoeff's is looser: a sum over V).
const tol = { abs: 1e-5, rel: 1e-4 }, coeffTol = { abs: 1e-4, rel: 1e-4 };

describe('blendVolumes and its backward on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;

  test('forward and backward on resident buffers in one submission, reused for a second step, equal the float64 reference', async () => {
    const rand = rng(70), E = 6, V = 5000;
    const mean = uniform(V, -1, 1, rand), bases = uniform(E * V, -1, 1, rand);
    const r = {
      mean: g.upload('test mean', mean), bases: g.upload('test bases', bases), coeff: g.storage('test coeff', 4 * E), out: g.storage('test out', 4 * V),
      dOut: g.storage('test dOut', 4 * V), dMean: g.storage('test dMean', 4 * V), dBases: g.storage('test dBases', 4 * E * V), dCoeff: g.storage('test dCoeff', 4 * E),
    };
    for (const step of [1, 2]) {
      const coeff = uniform(E, -1, 1, rand), dOut = uniform(V, -1, 1, rand);
      g.write(r.coeff, 0, coeff);
      g.write(r.dOut, 0, dOut);
      const encoder = g.device.createCommandEncoder({ label: `test blend step ${step} encoder` });
      encodeBlendVolumes(g, encoder, r, E, V);
      encodeBlendVolumesBackward(g, encoder, r, E, V);
      g.device.queue.submit([encoder.finish()]);
      const read = async (b: GPUBuffer, n: number) => new Float32Array(await g.read(b, 4 * n));
      const [out, dMean, dBases, dCoeff] = await Promise.all([read(r.out, V), read(r.dMean, V), read(r.dBases, E * V), read(r.dCoeff, E)]);
      const ref = blendVolumesBackwardRef(bases, coeff, dOut);
      assertClose(out, blendVolumesRef(mean, bases, coeff), tol, `step ${step} out`);
      assert.deepEqual(dMean, dOut, `step ${step} dMean is dOut`);
      assertClose(dBases, ref.dBases, tol, `step ${step} dBases`);
      assertClose(dCoeff, ref.dCoeff, coeffTol, `step ${step} dCoeff`);
    }
    for (const b of Object.values(r)) b.destroy();
  });

  test('no bases: dMean is dOut and the other gradients are empty; no values: dCoeff is zeros', async () => {
    const dOut = uniform(100, -1, 1, rng(71));
    const none = await blendVolumesBackwardOnGpu(g, new Float32Array(0), new Float32Array(0), dOut);
    assert.deepEqual(none.dMean, dOut);
    assert.equal(none.dBases.length + none.dCoeff.length, 0);
    // Zeros over what a resident dCoeff held.
    const empty = g.storage('test empty', 0), coeff = g.upload('test coeff', Float32Array.of(0.5, -2)), dCoeff = g.upload('test dCoeff', Float32Array.of(5, 5));
    const encoder = g.device.createCommandEncoder({ label: 'test no values encoder' });
    encodeBlendVolumesBackward(g, encoder, { bases: empty, coeff, dOut: empty, dMean: empty, dBases: empty, dCoeff }, 2, 0);
    g.device.queue.submit([encoder.finish()]);
    assert.deepEqual([...new Float32Array(await g.read(dCoeff, 8))], [0, 0]);
    for (const b of [empty, coeff, dCoeff]) b.destroy();
  });

  test('sizes outside the limits are RangeErrors naming the limit', async () => {
    const b = (label: string, bytes: number) => g.storage(`test ${label}`, bytes);
    const r: BlendVolumesBackwardBuffers = { bases: b('bases', 80), coeff: b('coeff', 8), dOut: b('dOut', 40), dMean: b('dMean', 40), dBases: b('dBases', 80), dCoeff: b('dCoeff', 8) };
    const encoder = g.device.createCommandEncoder({ label: 'test limits encoder' });
    const run = (E: number, V: number) => () => encodeBlendVolumesBackward(g, encoder, r, E, V);
    assert.throws(run(1025, 10), { name: 'RangeError', message: 'blendVolumesBackward: E must be an integer in [0, 1024], got 1025' });
    assert.throws(run(2, -1), { name: 'RangeError', message: 'blendVolumesBackward: V must be a non-negative integer, got -1' });
    const limit = g.device.limits.maxStorageBufferBindingSize;
    assert.throws(run(1024, 1 << 20), { name: 'RangeError', message: `blendVolumesBackward: bases needs 4294967296 bytes, over the device's maxStorageBufferBindingSize (${limit})` });
    assert.throws(run(2, 11), { name: 'RangeError', message: 'blendVolumesBackward: the bases buffer holds 80 bytes, the op needs 88' });
    await assert.rejects(blendVolumesBackwardOnGpu(g, new Float32Array(7), new Float32Array(2), new Float32Array(4)),
      { name: 'RangeError', message: 'blendVolumesBackward: bases has length 7, expected 8 (E*V)' });
    for (const buffer of Object.values(r)) buffer.destroy();
  });
});
