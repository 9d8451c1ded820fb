// adamStep and adamStepMasked on the GPU: the shared suite's adam section against the WGSL
// adapters, then what only the GPU path has (several steps on resident buffers in one
// submission, the option and size checks).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdamOptions } from '../KernelsTypes';
import { adamStepRef } from '../reference/optim';
import { assertClose, f64, rng, uniform } from '../testUtil';
import { adamStepMaskedOnGpu, adamStepOnGpu, encodeAdamStep } from './adam';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();
const opts: AdamOptions = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };

describe('adam on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  if (!ctx) return;

  test('three masked steps on resident buffers in one submission equal the float64 reference (a -0 gradient is exactly zero too)', async () => {
    const rand = rng(80), n = 3001;
    const p = uniform(n, -1, 1, rand), grads = [0, 1, 2].map(() => uniform(n, -1, 1, rand));
    for (const g of grads) for (let i = 0; i < n; i += 4) g[i] = i % 8 === 0 ? 0 : -0;
    const b = { param: ctx.upload('test param', p), grad: grads.map((g, t) => ctx.upload(`test grad ${t}`, g)), m: ctx.storage('test m', 4 * n), v: ctx.storage('test v', 4 * n) };
    const encoder = ctx.device.createCommandEncoder({ label: 'test adam encoder' });
    grads.forEach((_, t) => encodeAdamStep(ctx, encoder, { ...b, grad: b.grad[t]! }, { n, masked: true }, { ...opts, step: t + 1 }));
    ctx.device.queue.submit([encoder.finish()]);
    const [gotP, gotM, gotV] = await Promise.all([ctx.read(b.param, 4 * n), ctx.read(b.m, 4 * n), ctx.read(b.v, 4 * n)]);
    [b.param, b.m, b.v, ...b.grad].forEach((x) => x.destroy());
    const pr = f64(p), mr = new Float64Array(n), vr = new Float64Array(n);
    grads.forEach((g, t) => adamStepRef(pr, g, mr, vr, { ...opts, step: t + 1 }, true));
    const param = new Float32Array(gotP);
    assert.equal(param[4], p[4], 'a -0 gradient leaves its parameter alone');
    assert.equal(new Float32Array(gotM)[4], 0);
    assertClose(param, pr, { abs: 1e-6, rel: 1e-5 }, 'param');
    assertClose(new Float32Array(gotM), mr, { abs: 1e-7, rel: 1e-5 }, 'm');
    assertClose(new Float32Array(gotV), vr, { abs: 1e-9, rel: 1e-5 }, 'v');
  });

  test('options and lengths are checked as the CPU op does; encode checks buffer sizes', async () => {
    const a = Float32Array.of(1), two = new Float32Array(2);
    await assert.rejects(adamStepOnGpu(ctx, a, two, a, a, opts), { name: 'RangeError', message: 'adamStep: grad has length 2, expected 1 (length of param)' });
    await assert.rejects(adamStepMaskedOnGpu(ctx, a, a, a, a, { ...opts, beta2: 1 }), { name: 'RangeError', message: 'adamStepMasked: beta2 must be in [0, 1), got 1' });
    await assert.rejects(adamStepOnGpu(ctx, a, a, a, a, { ...opts, step: 1.5 }), { name: 'RangeError', message: 'adamStep: t must be an integer >= 1, got 1.5' });
    await assert.rejects(adamStepOnGpu(ctx, a, a, a, a, { ...opts, eps: 0 }), { name: 'RangeError', message: 'adamStep: eps must be positive, got 0' });
    assert.deepEqual([...a], [1], 'a refused step writes nothing');
    const small = ctx.storage('test small', 4), encoder = ctx.device.createCommandEncoder({ label: 'test limits encoder' });
    assert.throws(() => encodeAdamStep(ctx, encoder, { param: small, grad: small, m: small, v: small }, { n: 2, masked: false }, opts),
      { name: 'RangeError', message: 'adamStep: the param buffer holds 4 bytes, 8 needed' });
    small.destroy();
  });
});
