/**
 * An avatar built by the test: the engine's trainer fits the synthetic head scene
 * (whose mouth opens with coefficient 0 and brows move with coefficient 1), and the
 * file says those bases are driven by jawOpen and browInnerUp, so a real tracked
 * face drives it in a call. Trained once per process and cached in the system's
 * temporary folder (keyed by the settings), because it takes tens of seconds.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AvatarModel } from '../../server/engine/AvatarModel';
import type { AvatarConfig } from '../../server/engine/AvatarModelTypes';
import { writeAvatarFile } from '../../server/engine/AvatarFile';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { SYNTH_CONFIG } from '../engine/modelFixtures';

export const SYNTHETIC_AVATAR_CONFIG: AvatarConfig = { ...SYNTH_CONFIG, expressionNames: ['jawOpen', 'browInnerUp'] };

export function syntheticAvatarFile(trainMs = 20_000, size = 48): string {
  const dir = join(tmpdir(), 'voxface-test-avatars');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `synthetic-${trainMs}-${size}.vxa`);
  if (existsSync(path)) return path;
  const frames = syntheticFrames(SYNTHETIC_AVATAR_CONFIG, { width: size, height: size, frames: 40, seed: 1 });
  const trainer = new Trainer(AvatarModel.create(SYNTHETIC_AVATAR_CONFIG, 1), frames, { width: size, height: size, raysPerStep: 1024 });
  trainer.train({ maxMs: trainMs });
  writeAvatarFile(path, trainer.model);
  return path;
}
