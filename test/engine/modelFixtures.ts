// Tiny configurations and helpers shared by the engine tests.
import type { AvatarConfig } from '../../server/engine/AvatarModelTypes';
import { DEFAULT_CONFIG } from '../../server/engine/AvatarModelTypes';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { seededRandom } from '../../shared/coefficients/seededRandom';

export const TINY_CONFIG: AvatarConfig = {
  ...DEFAULT_CONFIG,
  expressionCount: 2,
  motionRes: 4,
  appearanceRes: 5,
  deformHidden: 5,
  densityHidden: 6,
  colorHidden: 7,
  samplesPerRay: 8,
  occupancyRes: 4,
};

/** A model whose grids are random (zero grids would hide every grid gradient path). */
export function randomModel(config: AvatarConfig, seed: number, gridScale = 0.5): AvatarModel {
  const m = AvatarModel.create(config, seed);
  const rand = seededRandom(seed + 1000);
  for (const name of ['motionMean', 'motionBases', 'appearance'] as const) {
    const t = m.params[name];
    for (let i = 0; i < t.length; i++) t[i] = (2 * rand() - 1) * gridScale;
  }
  return m;
}

/** The synthetic-scene training configuration (small grids and MLPs for a 1-minute test). */
export const SYNTH_CONFIG: AvatarConfig = {
  ...DEFAULT_CONFIG, expressionCount: 2, motionRes: 16, appearanceRes: 32,
  deformHidden: 32, densityHidden: 32, colorHidden: 32, samplesPerRay: 48, occupancyRes: 24,
};
