/**
 * An avatar file with an expression encoder for the e2e test and the bench (issue 16):
 * the synthetic-scene avatar (syntheticAvatar.ts, trained once and cached) with an
 * encoder attached: standardisation from synthetic faces (canonical mesh, mouth and brows
 * moved, random in-plane poses), a random network, and a projection that makes every code
 * value move coefficient 0 (the mouth's basis), so a code visibly drives the render. Its
 * joint training is test/engine/encoderTraining.test.ts's subject, not this file's.
 */
import { join } from 'node:path';
import { ExpressionEncoder } from '../../server/encoder/ExpressionEncoder';
import { expressionInputSpec } from '../../server/encoder/fitEncoder';
import { readAvatarFileContents, writeAvatarFile } from '../../server/engine/AvatarFile';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { inputStatistics, poseNormalizedLandmarks } from '../../shared/expression/expressionInput';
import { normalizer, randomImagePose, syntheticLandmarks } from '../engine/encoderFixtures';
import { syntheticAvatarFile } from './syntheticAvatar';

/** Writes the encoder avatar into `dir` and returns its path. */
export function encoderAvatarFile(dir: string): string {
  const { model, plates } = readAvatarFileContents(syntheticAvatarFile());
  const spec = expressionInputSpec(normalizer);
  const rand = seededRandom(3);
  const inputs = Array.from({ length: 40 }, () => poseNormalizedLandmarks(syntheticLandmarks(rand(), rand(), randomImagePose(rand)), spec)!);
  const encoder = ExpressionEncoder.create(spec, inputStatistics(inputs, 2 * spec.landmarkIds.length), model.config.expressionCount, { seed: 5 });
  for (let k = 0; k < encoder.codeSize; k++) encoder.params.projection[k] = 0.3;
  const path = join(dir, 'coded.vxa');
  writeAvatarFile(path, model, { ...(plates ? { plates } : {}), encoder });
  return path;
}
