import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { meanImage, psnr } from '../../server/engine/Metrics';
import { renderScene, syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import type { TrainingProgress } from '../../server/engine/TrainerTypes';
import { SYNTH_CONFIG } from './modelFixtures';

const W = 48;

describe('synthetic scene', () => {
  test('coefficient 0 opens the mouth, coefficient 1 moves the brows, and pose moves the head', () => {
    const pose = { rotation: [0, 0, 0], translation: [0, 0, 0], scale: 1 };
    const base = renderScene(SYNTH_CONFIG, [0, 0], pose, 32, 32);
    const mouth = renderScene(SYNTH_CONFIG, [1, 0], pose, 32, 32);
    const brow = renderScene(SYNTH_CONFIG, [0, 1], pose, 32, 32);
    const turned = renderScene(SYNTH_CONFIG, [0, 0], { ...pose, rotation: [0, 0.4, 0] }, 32, 32);
    // Rows changed per coefficient: the mouth is in the lower half, the brows upper.
    const changedRows = (a: Float32Array, b: Float32Array) => {
      const rows: number[] = [];
      for (let y = 0; y < 32; y++) {
        let d = 0;
        for (let i = y * 96; i < (y + 1) * 96; i++) d += Math.abs(a[i]! - b[i]!);
        if (d > 0.3) rows.push(y);
      }
      return rows;
    };
    const m = changedRows(base.image, mouth.image), b = changedRows(base.image, brow.image);
    assert.ok(m.length > 0 && Math.min(...m) >= 16, `mouth rows ${m}`);
    assert.ok(b.length > 0 && Math.max(...b) < 16, `brow rows ${b}`);
    assert.ok(psnr(base.image, turned.image) < 25, 'rotation should change the image');
    const centre = base.mask[16 * 32 + 16]!, corner = base.mask[0]!;
    assert.ok(centre > 0.99 && corner < 0.01, `mask centre ${centre}, corner ${corner}`);
  });
});

describe('Trainer', () => {
  test('training on the synthetic scene recovers held-out frames at 35 dB or better, far above the mean-image baseline', () => {
    // 120 frames (a 5 s capture's worth) and a fixed step count: training is deterministic
    // (seeded, thread-count independent kernels), so the bound is met or missed the same way
    // on every machine; ~100 s on 2 idle cores.
    const train = syntheticFrames(SYNTH_CONFIG, { width: W, height: W, frames: 120, seed: 1 });
    const held = syntheticFrames(SYNTH_CONFIG, { width: W, height: W, frames: 6, seed: 2 });
    const mean = meanImage(train.map((f) => f.image));
    const baseline = held.reduce((s, f) => s + psnr(mean, f.image), 0) / held.length;
    const trainer = new Trainer(AvatarModel.create(SYNTH_CONFIG, 1), train, { width: W, height: W, raysPerStep: 1024 });
    const lines: TrainingProgress[] = [];
    trainer.train({ maxSteps: 1800, reportEvery: 100, onProgress: (p) => lines.push(p) });
    const heldOut = trainer.evaluate(held);
    process.stderr.write(`${JSON.stringify({ syntheticHeldOutPsnr: heldOut, meanImageBaseline: baseline, steps: trainer.stepCount })}\n`);
    // Measured: 35.86 dB after 1800 steps (1400 steps: 34.6 dB; 40 frames plateau near 34 dB).
    assert.ok(heldOut > baseline + 8, `held-out ${heldOut.toFixed(2)} dB vs baseline ${baseline.toFixed(2)} dB`);
    assert.ok(heldOut >= 35, `held-out ${heldOut.toFixed(2)} dB`);
    assert.ok(lines.length >= 3, 'progress reported');
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i]!.step > lines[i - 1]!.step && lines[i]!.elapsedMs >= lines[i - 1]!.elapsedMs);
    assert.ok(lines.at(-1)!.loss < lines[0]!.loss, 'loss decreases');
    // Occupancy skipping is active: far fewer samples than the box allows.
    assert.ok(lines.at(-1)!.samplesPerRay < 0.6 * SYNTH_CONFIG.samplesPerRay, `samples/ray ${lines.at(-1)!.samplesPerRay}`);
  });

  test('rejects frames whose image or coefficients do not match', () => {
    const model = AvatarModel.create(SYNTH_CONFIG, 1);
    const frame = { coefficients: new Float32Array(2), pose: { rotation: [0, 0, 0], translation: [0, 0, 0], scale: 1 }, image: new Float32Array(5) };
    assert.throws(() => new Trainer(model, [frame], { width: 2, height: 2 }), new RangeError('Trainer: frame 0 image has 5 values, expected 12'));
    assert.throws(() => new Trainer(model, [], { width: 2, height: 2 }), new RangeError('Trainer: no training frames'));
  });
});
