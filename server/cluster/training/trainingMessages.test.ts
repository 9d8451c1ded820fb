import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterTrainingConfigFrom } from './clusterTrainingConfig';
import { initialJobRecord, sharedJobSchema, trainingJobDataSchema, trainingUpdateSchema } from './trainingMessages';

const DATA = {
  version: 1, id: 'job-abc_1', owner: 'alice', avatarId: 'av-one', dataset: 'datasets/av-one',
  options: { minutes: 1, res: 64, model: 'fast' }, usablePsnr: 18, createdAt: '2026-12-01T00:00:00.000Z',
};

test('job data naming a dataset inside the onboarding folder is accepted', () => {
  assert.equal(trainingJobDataSchema.safeParse(DATA).success, true);
});

test('job data whose dataset could leave the onboarding folder is refused', () => {
  for (const dataset of ['/etc', '../datasets/x', 'datasets/../../x', 'datasets/./x', 'datasets//x', 'datasets\\x', '']) {
    assert.equal(trainingJobDataSchema.safeParse({ ...DATA, dataset }).success, false, dataset);
  }
});

test('job data with a bad id, avatar id, option or an unknown field is refused', () => {
  for (const change of [{ id: 'job-a:b' }, { id: 'x' }, { avatarId: '../x' }, { options: { ...DATA.options, res: 8 } },
    { options: { ...DATA.options, model: 'huge' } }, { version: 2 }, { extra: 1 }]) {
    assert.equal(trainingJobDataSchema.safeParse({ ...DATA, ...change }).success, false, JSON.stringify(change));
  }
});

test('job data with the encoder and fidelity options is accepted (the onboarding settings reach trainer nodes)', () => {
  const parsed = trainingJobDataSchema.parse({ ...DATA, options: { ...DATA.options, encoder: true, fidelity: true } });
  assert.deepEqual(parsed.options, { minutes: 1, res: 64, model: 'fast', encoder: true, fidelity: true });
  assert.equal(trainingJobDataSchema.safeParse({ ...DATA, options: { ...DATA.options, fidelity: 'yes' } }).success, false);
});

test('a done job carries its fidelity figures or why they are missing, bounded', () => {
  const job = initialJobRecord(trainingJobDataSchema.parse(DATA));
  const figures = { mouthPx: 4.1, eyesPx: 3.6, lipOpeningPx: 5.2, nearestFrameMouthPx: 3.2, comparedFrames: 30 };
  assert.equal(sharedJobSchema.safeParse({ ...job, fidelity: figures }).success, true);
  assert.equal(sharedJobSchema.safeParse({ ...job, fidelity: { error: 'Chromium not found' } }).success, true);
  for (const fidelity of [{ ...figures, mouthPx: -1 }, { ...figures, comparedFrames: 0 }, { ...figures, extra: 1 }, { error: 'x'.repeat(201) }, 'good']) {
    assert.equal(sharedJobSchema.safeParse({ ...job, fidelity }).success, false, JSON.stringify(fidelity).slice(0, 80));
  }
});

test('a fresh job record is queued with its whole budget left, and is a valid update', () => {
  const job = initialJobRecord(trainingJobDataSchema.parse(DATA));
  assert.equal(job.state, 'queued');
  assert.equal(job.progress.etaMs, 60_000);
  assert.equal(sharedJobSchema.safeParse(job).success, true);
  assert.equal(trainingUpdateSchema.safeParse({ kind: 'progress', job }).success, true);
  assert.equal(trainingUpdateSchema.safeParse({ kind: 'progress', job: { ...job, workDir: '/srv/x' } }).success, false, 'no server paths');
  assert.equal(trainingUpdateSchema.safeParse({ kind: 'shout', job }).success, false);
});

test('the cluster training settings default to a 60 s checkpoint, 10 s progress and a 10 s lock, and refuse nonsense', () => {
  assert.deepEqual(clusterTrainingConfigFrom({}), { checkpointSeconds: 60, reportSeconds: 10, lockSeconds: 10 });
  assert.equal(clusterTrainingConfigFrom({ VOXFACE_TRAINER_LOCK_SECONDS: '4' }).lockSeconds, 4);
  assert.throws(() => clusterTrainingConfigFrom({ VOXFACE_TRAINER_LOCK_SECONDS: '1' }), /VOXFACE_TRAINER_LOCK_SECONDS must be a number in \[2, 600\], got '1'/);
  assert.throws(() => clusterTrainingConfigFrom({ VOXFACE_ONBOARDING_CHECKPOINT_SECONDS: 'soon' }), TypeError);
});
