import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkUsableRule, recordSnapshot, usablePsnrOf, type SnapshotScores, type UsableRule } from './snapshotVerdict';
import { QUALITY_POINTS, type TrainingJob } from './TrainingJobTypes';

const RULE: UsableRule = { psnrFloor: 18, marginDb: 1.5, faceSsimMargin: 0.03 };
type VerdictFields = Pick<TrainingJob, 'baselinePsnr' | 'usablePsnr' | 'faceSsim' | 'usableFaceSsim' | 'baselineFaceSsim' | 'installedPsnr' | 'quality'>;
const freshJob = (): VerdictFields => ({ baselinePsnr: null, usablePsnr: 18, installedPsnr: null, quality: [] });
const scores = (s: Partial<SnapshotScores>): SnapshotScores => ({ elapsedMs: 20_000, psnr: 21, baselinePsnr: 17, faceSsim: 0.7, baselineFaceSsim: 0.6, ...s });

test('a snapshot is usable when its PSNR clears the floor and the mean image + margin, and its face SSIM the mean image\'s + margin', () => {
  const job = freshJob();
  assert.equal(recordSnapshot(job, scores({}), RULE), true);
  assert.equal(job.usablePsnr, 18.5);
  assert.equal(job.usableFaceSsim, 0.63);
  assert.equal(job.baselineFaceSsim, 0.6);
  assert.equal(job.faceSsim, 0.7);
  assert.deepEqual(job.quality, [{ elapsedMs: 20_000, psnr: 21, faceSsim: 0.7 }]);
});

test('a snapshot whose PSNR is enough but whose face is no better than the mean image\'s is not usable', () => {
  // The mean image blurs the face; PSNR can prefer a blur, SSIM does not (docs/onboarding.md).
  assert.equal(recordSnapshot(freshJob(), scores({ faceSsim: 0.62 }), RULE), false);
  assert.equal(recordSnapshot(freshJob(), scores({ faceSsim: 0.63 }), RULE), true, 'at the threshold');
});

test('a snapshot whose face is good but whose PSNR is below either threshold is not usable', () => {
  assert.equal(recordSnapshot(freshJob(), scores({ psnr: 18.4 }), RULE), false, 'below the mean image + margin');
  assert.equal(recordSnapshot(freshJob(), scores({ psnr: 17.9, baselinePsnr: 10 }), RULE), false, 'below the floor');
  assert.equal(usablePsnrOf(RULE, null), 18);
  assert.equal(usablePsnrOf(RULE, 20), 21.5);
});

test('without face figures (no face oval in the held-out frames, an older trainer) the PSNR rule alone decides', () => {
  const job = freshJob();
  assert.equal(recordSnapshot(job, scores({ faceSsim: null, baselineFaceSsim: null }), RULE), true);
  assert.equal(job.usableFaceSsim, null);
  assert.equal(job.faceSsim, null);
});

test('a later snapshot is installed only when its PSNR beats the installed version\'s; the baselines carry over', () => {
  const job = { ...freshJob(), installedPsnr: 21 };
  assert.equal(recordSnapshot(job, scores({ psnr: 21 }), RULE), false, 'not better');
  assert.equal(recordSnapshot(job, scores({ psnr: 21.2, baselinePsnr: null, baselineFaceSsim: null }), RULE), true);
  assert.equal(job.baselinePsnr, 17, 'the last known baseline');
  assert.equal(job.usableFaceSsim, 0.63);
});

test('the quality chart keeps the last QUALITY_POINTS snapshots', () => {
  const job = freshJob();
  for (let i = 0; i < QUALITY_POINTS + 5; i++) recordSnapshot(job, scores({ elapsedMs: i }), RULE);
  assert.equal(job.quality.length, QUALITY_POINTS);
  assert.equal(job.quality[0]!.elapsedMs, 5);
});

test('a rule with a number that is not finite, or a face margin outside [-2, 2], is refused', () => {
  assert.throws(() => checkUsableRule({ ...RULE, marginDb: Number.NaN }), { name: 'RangeError', message: 'usable rule: marginDb must be a finite number, got NaN' });
  assert.throws(() => checkUsableRule({ ...RULE, faceSsimMargin: 3 }), { name: 'RangeError', message: 'usable rule: faceSsimMargin must be in [-2, 2], got 3' });
  assert.deepEqual(checkUsableRule(RULE), RULE);
});
