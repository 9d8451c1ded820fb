// The avatar the render benchmarks draw: a file when given, else a DEFAULT_CONFIG
// (production: E = 51, 64-wide heads, 64^3 appearance, 64 samples) avatar trained on the
// synthetic scene for BENCH_TRAIN_S seconds (default 25), so occupancy and the samples a
// ray keeps look like a trained avatar's, not a random one's.
import { readAvatarFile } from '../../server/engine/AvatarFile';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { DEFAULT_CONFIG } from '../../server/engine/AvatarModelTypes';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';

export function benchAvatar(file?: string): AvatarModel {
  if (file) return readAvatarFile(file);
  const s = Number(process.env.BENCH_TRAIN_S ?? 25);
  process.stderr.write(`training a ${s} s DEFAULT_CONFIG synthetic avatar for the benchmark...\n`);
  const train = syntheticFrames(DEFAULT_CONFIG, { width: 48, height: 48, frames: 30, seed: 1 });
  const t = new Trainer(AvatarModel.create(DEFAULT_CONFIG, 1), train, { width: 48, height: 48, raysPerStep: 1024 });
  t.train({ maxMs: s * 1000 });
  return t.model;
}
