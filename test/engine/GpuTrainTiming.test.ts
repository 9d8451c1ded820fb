// The GPU check's training part (scripts/gpu-check/trainTiming.ts, run by check.ts when
// VOXFACE_GPU_CHECK_TRAIN_S > 0): its options, and one short run on SwiftShader whose
// report holds what a lent GPU's would (the figures themselves count only from a real GPU).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOptions } from '../../scripts/gpu-check/check';
import { TRAIN_TIMING_CONFIGS, timeTraining } from '../../scripts/gpu-check/trainTiming';
import { openTestGpu } from '../../kernels/wgsl/testGpu';

const ctx = await openTestGpu();

describe('the GPU check\'s training part', () => {
  after(() => ctx?.close());

  test('it is off unless VOXFACE_GPU_CHECK_TRAIN_S asks for it, and its variables are checked by name', () => {
    assert.equal(checkOptions({}).trainBudgetMs, 0);
    const o = checkOptions({ VOXFACE_GPU_CHECK_TRAIN_S: '120', VOXFACE_GPU_CHECK_TRAIN_SIZE: '64x48' });
    assert.deepEqual([o.trainBudgetMs, o.trainWidth, o.trainHeight], [120_000, 64, 48]);
    assert.throws(() => checkOptions({ VOXFACE_GPU_CHECK_TRAIN_S: '-1' }), /VOXFACE_GPU_CHECK_TRAIN_S must be in \[0, 3600\], got -1/);
    assert.throws(() => checkOptions({ VOXFACE_GPU_CHECK_TRAIN_SIZE: '4x4' }), /VOXFACE_GPU_CHECK_TRAIN_SIZE must be WxH of at least 8x8/);
  });

  test('a short run on SwiftShader reports its steps, ms per step, the usable bar and the held-out curve', { skip: ctx ? false : 'no Vulkan adapter here' }, async () => {
    const config = { ...TRAIN_TIMING_CONFIGS['tiny']!, motionRes: 4, appearanceRes: 6, samplesPerRay: 8, occupancyRes: 4 };
    const r = await timeTraining(ctx!, { config, width: 10, height: 10, raysPerStep: 16, budgetMs: 1, frames: 5, evalEvery: 1 });
    assert.equal(r.error, undefined);
    assert.equal(r.steps, 1, 'a budget already spent still runs one step');
    assert.ok(r.msPerStep > 0);
    assert.ok(r.usablePsnr >= 18 && r.usablePsnr >= r.baselinePsnr + 1.5 - 0.01);
    assert.equal(r.curve.length, 1);
    assert.ok(Number.isFinite(r.curve[0]!.heldOutPsnr));
    assert.ok(r.samplesPerRay > 0);
  });
});
