// composite and compositeBackward on the GPU: the shared suite's composite section against
// the WGSL adapters, then what only the GPU path has (forward and backward on resident
// buffers in one submission, stale outputs overwritten, its size checks).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compositeBackwardRef, compositeRef } from '../reference/composite';
import { assertClose, rng, uniform } from '../testUtil';
import { compositeBackwardOnGpu, compositeOnGpu, encodeComposite, encodeCompositeBackward } from './composite';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();
// The shared suite's composite tolerance.
const tol = { abs: 1e-5, rel: 1e-4 };

describe('composite on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  if (!ctx) return;

  test('forward and backward on resident buffers in one submission equal the float64 reference, over outputs holding stale values', async () => {
    const rand = rng(70), R = 64, offsets = new Int32Array(R + 1);
    for (let r = 0; r < R; r++) offsets[r + 1] = offsets[r]! + Math.floor(rand() * 20);
    const S = offsets[R]!, tEps = 0.05;
    const sigma = uniform(S, -1, 4, rand), rgb = uniform(3 * S, 0, 1, rand), delta = uniform(S, 0.01, 0.3, rand);
    const background = uniform(3, 0, 1, rand), dColor = uniform(3 * R, -1, 1, rand);
    const stale = (label: string, n: number) => ctx.upload(label, new Float32Array(n).fill(7));
    const b = {
      sigma: ctx.upload('test sigma', sigma), rgb: ctx.upload('test rgb', rgb), delta: ctx.upload('test delta', delta),
      rayOffsets: ctx.upload('test offsets', offsets), background: ctx.upload('test background', background), dColor: ctx.upload('test dColor', dColor),
      color: stale('test color', 3 * R), transmittance: stale('test T', R), samplesUsed: stale('test used', R),
      dSigma: stale('test dSigma', S), dRgb: stale('test dRgb', 3 * S),
    };
    const encoder = ctx.device.createCommandEncoder({ label: 'test composite encoder' });
    encodeComposite(ctx, encoder, b, { rays: R, samples: S, tEps });
    encodeCompositeBackward(ctx, encoder, b, { rays: R, samples: S });
    ctx.device.queue.submit([encoder.finish()]);
    const [color, T, used, dSigma, dRgb] = await Promise.all([
      ctx.read(b.color, 12 * R), ctx.read(b.transmittance, 4 * R), ctx.read(b.samplesUsed, 4 * R), ctx.read(b.dSigma, 4 * S), ctx.read(b.dRgb, 12 * S),
    ]);
    for (const x of Object.values(b)) x.destroy();
    const ref = compositeRef(sigma, rgb, delta, offsets, background, tEps);
    assert.deepEqual([...new Int32Array(used)], [...ref.samplesUsed]);
    assert.ok(ref.samplesUsed.some((u, r) => u < offsets[r + 1]! - offsets[r]!), 'some rays terminate early (their tails get zero gradients)');
    assertClose(new Float32Array(color), ref.color, tol, 'color');
    assertClose(new Float32Array(T), ref.transmittance, tol, 'transmittance');
    const grad = compositeBackwardRef(sigma, rgb, delta, offsets, background, ref.samplesUsed, dColor);
    assertClose(new Float32Array(dSigma), grad.dSigma, tol, 'dSigma');
    assertClose(new Float32Array(dRgb), grad.dRgb, tol, 'dRgb');
  });

  test('the adapters check lengths and rayOffsets as the CPU op does; encode checks buffer sizes and int32 sample counts', async () => {
    const one = new Float32Array(1), three = new Float32Array(3);
    await assert.rejects(compositeOnGpu(ctx, one, three, one, Int32Array.of(0, 2), three, 0), { name: 'RangeError', message: 'composite: rayOffsets[R] must equal S = 1, got 2' });
    await assert.rejects(compositeOnGpu(ctx, one, three, one, Int32Array.of(1, 1), three, 0), { name: 'RangeError', message: 'composite: rayOffsets[0] must be 0, got 1' });
    await assert.rejects(compositeOnGpu(ctx, one, new Float32Array(2), one, Int32Array.of(0, 1), three, 0), { name: 'RangeError', message: 'composite: rgb has length 2, expected 3 (S*3)' });
    await assert.rejects(compositeOnGpu(ctx, one, three, one, Int32Array.of(0, 1), three, 2), { name: 'RangeError', message: 'composite: tEps must be in [0, 1], got 2' });
    const fwd = { color: three, transmittance: one, samplesUsed: Int32Array.of(2) };
    await assert.rejects(compositeBackwardOnGpu(ctx, one, three, one, Int32Array.of(0, 1), three, fwd, three),
      { name: 'RangeError', message: 'compositeBackward: samplesUsed[0] = 2 is outside [0, samples of the ray]' });
    const small = ctx.storage('test small', 4), encoder = ctx.device.createCommandEncoder({ label: 'test limits encoder' });
    const b = { sigma: small, rgb: small, delta: small, rayOffsets: small, background: small, color: small, transmittance: small, samplesUsed: small };
    assert.throws(() => encodeComposite(ctx, encoder, b, { rays: 0, samples: 2 ** 31, tEps: 0 }),
      { name: 'RangeError', message: 'composite: samples must be an integer in [0, 2147483647] (int32 rayOffsets), got 2147483648' });
    assert.throws(() => encodeComposite(ctx, encoder, b, { rays: 1, samples: 1, tEps: 0 }), { name: 'RangeError', message: 'composite: the rgb buffer holds 4 bytes, 12 needed' });
    small.destroy();
  });
});
