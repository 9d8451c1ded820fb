// l1Loss, meanSquare and their backward on the GPU: the shared suite's losses section
// against the WGSL adapters, the compensated sums' measured error, resident buffers, checks.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { l1LossBackwardRef, l1LossRef, meanSquareBackwardRef, meanSquareRef } from '../reference/optim';
import { assertClose, rng, uniform } from '../testUtil';
import { encodeLoss, encodeLossBackward, l1LossBackwardOnGpu, l1LossOnGpu, lossPartialsBytes, meanSquareBackwardOnGpu, meanSquareOnGpu, readLossMean } from './losses';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();

/** A plain float32 sum, left to right: what the compensation is measured against. */
function float32Sum(n: number, term: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = Math.fround(s + Math.fround(term(i)));
  return s;
}

describe('losses on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  if (!ctx) return;

  test('on the suite\'s 100003 elements the compensated float32 sums are within 1e-10 of the double mean (a plain float32 sum is not)', async (t) => {
    const rand = rng(40), n = 100003, a = uniform(n, -1, 1, rand), b = uniform(n, -1, 1, rand);
    const l1 = l1LossRef(a, b), ms = meanSquareRef(a);
    const errL1 = Math.abs((await l1LossOnGpu(ctx, a, b)) - l1) / l1, errMs = Math.abs((await meanSquareOnGpu(ctx, a)) - ms) / ms;
    const plainL1 = Math.abs(float32Sum(n, (i) => Math.abs(a[i]! - b[i]!)) / n - l1) / l1;
    const plainMs = Math.abs(float32Sum(n, (i) => a[i]! * a[i]!) / n - ms) / ms;
    t.diagnostic(`relative error: l1Loss ${errL1.toExponential(2)}, meanSquare ${errMs.toExponential(2)} (suite tolerance 1e-6; a sequential float32 sum: ${plainL1.toExponential(2)}, ${plainMs.toExponential(2)})`);
    assert.ok(errL1 < 1e-10 && errMs < 1e-10, `l1 ${errL1}, meanSquare ${errMs}`);
    assert.ok(plainL1 > 1e-8 && plainMs > 1e-8, 'the inputs are large enough that float32 sums drift');
  });

  test('over a million elements (more partials than one workgroup, several per thread) meanSquare stays within 1e-10', async () => {
    const n = 256 * 4096 + 4097, x = uniform(n, -2, 2, rng(41)), ref = meanSquareRef(x);
    assert.ok(Math.abs((await meanSquareOnGpu(ctx, x)) - ref) / ref < 1e-10);
  });

  test('loss and gradient on resident buffers in one submission; the partials buffer is sized by lossPartialsBytes', async () => {
    const rand = rng(42), n = 3 * 4096 + 5, a = uniform(n, -1, 1, rand), b = uniform(n, -1, 1, rand);
    for (let i = 0; i < n; i += 100) b[i] = a[i]!;
    assert.equal(lossPartialsBytes(n), 32);
    const buf = {
      a: ctx.upload('test a', a), b: ctx.upload('test b', b), partials: ctx.storage('test partials', lossPartialsBytes(n)),
      total: ctx.storage('test total', 8), grad: ctx.storage('test grad', 4 * n),
    };
    const encoder = ctx.device.createCommandEncoder({ label: 'test loss encoder' });
    encodeLoss(ctx, encoder, 'l1Loss', buf, n);
    encodeLossBackward(ctx, encoder, 'l1Loss', buf, n, Math.fround(0.5 / n));
    ctx.device.queue.submit([encoder.finish()]);
    const [mean, grad] = await Promise.all([readLossMean(ctx, buf.total, n), ctx.read(buf.grad, 4 * n)]);
    const ref = l1LossRef(a, b);
    assert.ok(Math.abs(mean - ref) <= 1e-9 + 1e-6 * ref, `${mean} vs ${ref}`);
    assertClose(new Float32Array(grad), l1LossBackwardRef(a, b, 0.5), { abs: 0, rel: 1e-6 }, 'dA');
    assert.equal(new Float32Array(grad)[100], 0, 'a tie has no gradient');
    const small = ctx.storage('test small', 16);
    assert.throws(() => encodeLoss(ctx, encoder, 'meanSquare', { ...buf, partials: small }, n),
      { name: 'RangeError', message: 'meanSquare: the partials buffer holds 16 bytes, 32 needed' });
    assert.throws(() => encodeLoss(ctx, encoder, 'l1Loss', { a: buf.a, partials: buf.partials, total: buf.total }, n),
      { name: 'TypeError', message: 'l1Loss: the b buffer is missing' });
    for (const x of [...Object.values(buf), small]) x.destroy();
  });

  test('empty inputs give 0 and an empty gradient; lengths and dLoss are checked as the CPU op does', async () => {
    const none = new Float32Array(0);
    assert.equal(await l1LossOnGpu(ctx, none, none), 0);
    assert.equal(await meanSquareOnGpu(ctx, none), 0);
    assert.equal((await meanSquareBackwardOnGpu(ctx, none, 1)).length, 0);
    assertClose(await meanSquareBackwardOnGpu(ctx, Float32Array.of(3, -1), 0.5), meanSquareBackwardRef([3, -1], 0.5), { abs: 0, rel: 1e-7 }, 'dX');
    await assert.rejects(l1LossOnGpu(ctx, new Float32Array(2), new Float32Array(3)), { name: 'RangeError', message: 'l1Loss: b has length 3, expected 2 (length of a)' });
    await assert.rejects(l1LossBackwardOnGpu(ctx, none, none, NaN), { name: 'RangeError', message: 'l1LossBackward: dLoss must be finite, got NaN' });
  });
});
