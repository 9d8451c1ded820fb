// The learning-rate tail (server/engine/LearningRateTail.ts): its shape over a budget, how a
// run's bounds make its progress, and that a step's lrScale reaches every parameter's Adam
// update in the CPU Trainer (GpuTrainer.test.ts checks the device's).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { PARAM_NAMES } from '../../server/engine/AvatarModelTypes';
import {
  budgetProgress, DEFAULT_LR_TAIL, learningRateScale, validateLearningRateTail,
} from '../../server/engine/LearningRateTail';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { TINY_CONFIG } from './modelFixtures';

describe('learningRateScale', () => {
  test('is 1 until the tail starts, the floor at the budget\'s end, and geometric in between', () => {
    const { share, floor } = DEFAULT_LR_TAIL, start = 1 - share;
    for (const p of [-1, 0, 0.3, start]) assert.equal(learningRateScale(p), 1, `progress ${p}`);
    assert.equal(learningRateScale(1), floor);
    assert.equal(learningRateScale(7), floor, 'past the end it stays at the floor');
    assert.ok(Math.abs(learningRateScale(start + share / 2) - Math.sqrt(floor)) < 1e-12, 'half way down the tail: the geometric mean');
    let last = 1;
    for (let p = start; p <= 1; p += 0.01) {
      const s = learningRateScale(p);
      assert.ok(s <= last && s >= floor, `progress ${p.toFixed(2)}: ${s} after ${last}`);
      last = s;
    }
  });

  test('constant rates stay at 1 over the whole budget; a tail over the whole budget starts at 1', () => {
    // What `voxface train --lr-tail 0` runs.
    for (const p of [0, 0.5, 0.99, 1]) assert.equal(learningRateScale(p, { ...DEFAULT_LR_TAIL, share: 0 }), 1);
    assert.equal(learningRateScale(0, { share: 1, floor: 0.1 }), 1);
    assert.ok(Math.abs(learningRateScale(0.5, { share: 1, floor: 0.01 }) - 0.1) < 1e-12);
  });

  test('never dips under the floor at the budget\'s end, whatever the share (float rounding)', () => {
    for (let k = 1; k <= 1000; k++) {
      const share = k / 1000;
      assert.ok(learningRateScale(1, { share, floor: 0.03 }) >= 0.03, `share ${share}`);
    }
  });

  test('a NaN progress and a tail out of range are errors', () => {
    assert.throws(() => learningRateScale(Number.NaN), /learningRateScale: progress is NaN/);
    assert.throws(() => validateLearningRateTail({ share: 1.5, floor: 0.1 }), /share must be in \[0, 1\], got 1.5/);
    assert.throws(() => validateLearningRateTail({ share: 0.25, floor: 0 }), /floor must be in \(0, 1\], got 0/);
    validateLearningRateTail(DEFAULT_LR_TAIL);
    assert.throws(() => learningRateScale(0.9, { share: 0.25, floor: 0 }), /floor must be in \(0, 1\], got 0/);
  });
});

describe('budgetProgress', () => {
  test('is the largest share of the run\'s bounds, clamped to [0, 1]', () => {
    assert.equal(budgetProgress({ elapsedMs: 30_000, steps: 10, cpuSeconds: 0 }, { ms: 60_000 }), 0.5);
    assert.equal(budgetProgress({ elapsedMs: 30_000, steps: 90, cpuSeconds: 0 }, { ms: 60_000, steps: 100 }), 0.9);
    assert.equal(budgetProgress({ elapsedMs: 1, steps: 1, cpuSeconds: 45 }, { ms: 60_000, steps: 100, cpuSeconds: 60 }), 0.75);
    assert.equal(budgetProgress({ elapsedMs: 120_000, steps: 0, cpuSeconds: 0 }, { ms: 60_000 }), 1);
  });

  test('a budget bound that is not positive and finite is an error', () => {
    const spent = { elapsedMs: 1, steps: 1, cpuSeconds: 1 };
    assert.throws(() => budgetProgress(spent, { ms: 0 }), /budgetProgress: the budget's ms must be positive and finite, got 0/);
    assert.throws(() => budgetProgress(spent, { ms: 1, steps: Number.NaN }), /the budget's steps must be positive and finite, got NaN/);
  });
});

describe('a step\'s lrScale in the CPU Trainer', () => {
  test('scales every parameter\'s first Adam update by that factor', () => {
    const config = { ...TINY_CONFIG, samplesPerRay: 10 }, W = 12;
    const frames = syntheticFrames(config, { width: W, height: W, frames: 4, seed: 1 });
    const initial = AvatarModel.create(config, 2);
    const moved = (lrScale: number | undefined) => {
      const t = new Trainer(AvatarModel.create(config, 2), frames, { width: W, height: W, raysPerStep: 32, seed: 7 });
      t.step(lrScale === undefined ? {} : { lrScale });
      return Object.fromEntries(PARAM_NAMES.map((n) => [n, t.model.params[n].map((x, i) => x - initial.params[n][i]!)]));
    };
    const full = moved(undefined), quarter = moved(0.25);
    for (const name of PARAM_NAMES) {
      let checked = 0;
      for (let i = 0; i < full[name]!.length; i++) {
        const a = full[name]![i]!, b = quarter[name]![i]!;
        // Adam's first update is about lr x sign(gradient); below 1e-4 float32 rounding of the parameter blurs the ratio.
        if (Math.abs(a) < 1e-4) continue;
        checked++;
        assert.ok(Math.abs(b / a - 0.25) < 1e-2, `${name}[${i}]: moved ${b} at 0.25x against ${a}`);
      }
      assert.ok(checked > 0, `${name}: no parameter moved`);
    }
    const t = new Trainer(initial, frames, { width: W, height: W });
    assert.throws(() => t.step({ lrScale: 0 }), /lrScale must be in \(0, 1000\], got 0/);
    assert.throws(() => t.step({ lrScale: Number.NaN }), /lrScale must be in \(0, 1000\], got NaN/);
  });
});
