import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../config';
import { remainingMinutes, trainerArgs, trainerEnvOf } from './trainerArgs';

const options = { minutes: 10, res: 256, model: 'fast' as const };

test('a fresh job trains its whole budget from scratch, with the queue\'s report and snapshot periods', () => {
  assert.deepEqual(trainerArgs({ dataset: 'd', out: 'o.vxa', options, trainedMs: undefined, reportSeconds: 10, snapshotSeconds: 20 }),
    ['d', '--out', 'o.vxa', '--minutes', '10.0000', '--res', '256', '--model', 'fast', '--force', '--report-every', '10', '--snapshot-every', '20']);
});

test('a resumed job trains what is left of its budget, and the encoder, fidelity and checkpoint period are passed when set', () => {
  const args = trainerArgs({ dataset: 'd', out: 'o.vxa', options: { ...options, encoder: true, fidelity: true }, trainedMs: 150_000, reportSeconds: 5, snapshotSeconds: 8, checkpointSeconds: 30 });
  assert.deepEqual(args, ['d', '--out', 'o.vxa', '--minutes', '7.5000', '--res', '256', '--model', 'fast', '--resume',
    '--report-every', '5', '--snapshot-every', '8', '--checkpoint-every', '30', '--encoder', '--fidelity']);
  assert.equal(remainingMinutes(options, 11 * 60_000), 0.01, 'a spent budget still gives the CLI its smallest run (to write the final avatar)');
});

test('trainers get the server\'s face model and render scale, whether they came from the environment or from code', () => {
  const config = loadConfig({ VOXFACE_DEV: '1' });
  const env = trainerEnvOf({ ...config, faceModelPath: '/srv/models/face_landmarker.task', avatarRenderScale: 0.75 });
  // What the trainer's own loadConfig then reads: the server's settings.
  const trainer = loadConfig({ VOXFACE_DEV: '1', ...env });
  assert.equal(trainer.faceModelPath, '/srv/models/face_landmarker.task');
  assert.equal(trainer.faceModelUrl, config.faceModelUrl);
  assert.equal(trainer.avatarRenderScale, 0.75);
});
