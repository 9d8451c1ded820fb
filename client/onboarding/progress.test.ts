import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainingProgress } from '../../shared/onboarding/TrainingJobTypes';
import type { OnboardingJob } from './OnboardingApi';
import { fidelityText, formatDuration, isUsable, qualityText, trainingFraction } from './progressView';

const progress = (over: Partial<TrainingProgress> = {}): TrainingProgress => ({
  stage: 'training', step: 100, psnr: 21.04, trainPsnr: 22, loss: 0.05, elapsedMs: 120_000, etaMs: 360_000, ...over,
});

const job = (over: Partial<OnboardingJob> = {}): OnboardingJob => ({
  id: 'job-1', owner: 'u1', avatarId: 'av-1', options: { minutes: 8, res: 256, model: 'default' },
  state: 'running', attempts: 0, createdAt: '2025-11-25T12:00:00Z', updatedAt: '2025-11-25T12:02:00Z', progress: progress(), ...over,
});

test('the training bar is the share of the budget spent, full once done', () => {
  assert.equal(trainingFraction(progress()), 0.25);
  assert.equal(trainingFraction(progress({ stage: 'queued', elapsedMs: 0, etaMs: 0 })), 0);
  assert.equal(trainingFraction(progress({ stage: 'done', elapsedMs: 470_000, etaMs: 10_000 })), 1);
});

test('durations read as seconds, then minutes and seconds', () => {
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(35_400), '35 s');
  assert.equal(formatDuration(245_000), '4 min 05 s');
  assert.equal(formatDuration(-5), '0 s');
});

test('an avatar is usable when the server says so, or once its job is done on a server that does not say', () => {
  assert.equal(isUsable(job()), false);
  assert.equal(isUsable(job({ usable: false })), false);
  assert.equal(isUsable(job({ usable: true })), true);
  assert.equal(isUsable(job({ state: 'done', progress: progress({ stage: 'done' }) })), true);
});

test('quality is shown against the usable threshold when the server sends one', () => {
  assert.equal(qualityText(job()), '21.0 dB');
  assert.equal(qualityText(job({ usablePsnr: 22 })), '21.0 dB (usable from 22.0 dB)');
  assert.equal(qualityText(job({ progress: progress({ psnr: null }), usablePsnr: 22 })), 'not measured yet (usable from 22.0 dB)');
  assert.equal(qualityText(job({ usablePsnr: 22, installedPsnr: 22.46 })), '21.0 dB (usable from 22.0 dB; in the call: 22.5 dB)');
  assert.equal(qualityText(job({ usablePsnr: 22, faceSsim: 0.7049, usableFaceSsim: 0.63 })), '21.0 dB, face SSIM 0.70 (usable from 22.0 dB and face SSIM 0.63)');
  assert.equal(qualityText(job({ usablePsnr: 22, faceSsim: null, usableFaceSsim: null })), '21.0 dB (usable from 22.0 dB)', 'no face oval: the PSNR rule alone');
});

test('the expression fidelity shows once training ends, against a real frame\'s score, or why it is missing', () => {
  const measuring = { options: { minutes: 8, res: 256, model: 'default' as const, fidelity: true } };
  assert.equal(fidelityText(job()), null, 'a job without the option shows nothing');
  assert.equal(fidelityText(job(measuring)), 'measured when training ends');
  assert.equal(fidelityText(job({ ...measuring, state: 'done', fidelity: { mouthPx: 4.07, eyesPx: 3.6, lipOpeningPx: 5.24, nearestFrameMouthPx: 3.21, comparedFrames: 30 } })),
    'mouth 4.1 px from your recording (a real frame of you: 3.2 px); lips open to within 5.2 px, eyes 3.6 px, over 30 frames');
  assert.equal(fidelityText(job({ ...measuring, state: 'done', fidelity: { mouthPx: 4.07, eyesPx: 3.6, lipOpeningPx: 5.24, nearestFrameMouthPx: null, comparedFrames: 30 } })),
    'mouth 4.1 px from your recording; lips open to within 5.2 px, eyes 3.6 px, over 30 frames');
  assert.equal(fidelityText(job({ ...measuring, state: 'done', fidelity: { error: 'no browser to re-track with beside the trainer' } })),
    'not measured: no browser to re-track with beside the trainer');
  assert.equal(fidelityText(job({ ...measuring, state: 'done' })), null, 'a job done before the option existed shows nothing');
  assert.equal(fidelityText(job({ ...measuring, state: 'failed' })), null, 'nor one that failed');
});
