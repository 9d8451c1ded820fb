import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { DEFAULT_CONFIG, FAST_CONFIG, validateConfig } from '../../server/engine/AvatarModelTypes';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { TRAIN_PRESETS } from '../../server/cli/train';

describe('fast preset', () => {
  test('is DEFAULT_CONFIG with 32-wide density and colour heads, validates, and is selectable', () => {
    validateConfig(FAST_CONFIG);
    assert.equal(FAST_CONFIG.densityHidden, 32);
    assert.equal(FAST_CONFIG.colorHidden, 32);
    assert.deepEqual({ ...FAST_CONFIG, densityHidden: DEFAULT_CONFIG.densityHidden, colorHidden: DEFAULT_CONFIG.colorHidden }, DEFAULT_CONFIG);
    assert.equal(TRAIN_PRESETS.fast, FAST_CONFIG);
    assert.equal(TRAIN_PRESETS.default, DEFAULT_CONFIG);
  });

  test('the full-size preset trains a few steps with finite, falling loss', () => {
    const frames = syntheticFrames(FAST_CONFIG, { width: 24, height: 24, frames: 4, seed: 3 });
    const model = AvatarModel.create(FAST_CONFIG, 1);
    const trainer = new Trainer(model, frames, { width: 24, height: 24, raysPerStep: 256, seed: 1 });
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) losses.push(trainer.step().loss);
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    const first = (losses[0]! + losses[1]!) / 2, last = (losses[6]! + losses[7]!) / 2;
    assert.ok(last < first, `loss should fall: ${losses.map((l) => l.toFixed(4))}`);
    assert.equal(model.params.densityW0.length % 32, 0);
  });
});
