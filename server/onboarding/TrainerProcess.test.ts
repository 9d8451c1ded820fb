import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fidelityReason, parseTrainerLine, stderrTail } from './TrainerProcess';

test('trainer lines parse into progress, snapshot and finished reports; anything else is ignored', () => {
  assert.deepEqual(parseTrainerLine('{"step":120,"elapsedMs":9000,"psnr":17.5,"trainPsnr":20.1,"loss":0.05}'),
    { kind: 'progress', step: 120, elapsedMs: 9000, psnr: 17.5, trainPsnr: 20.1, loss: 0.05 });
  assert.deepEqual(parseTrainerLine('{"step":300,"elapsedMs":20000,"snapshot":"/elsewhere/x.vxa","heldOutPsnr":18.9,"baselinePsnr":16.9,"heldOutFaceSsim":0.71,"baselineFaceSsim":0.6}'),
    { kind: 'snapshot', step: 300, elapsedMs: 20000, heldOutPsnr: 18.9, baselinePsnr: 16.9, heldOutFaceSsim: 0.71, baselineFaceSsim: 0.6 });
  // An older trainer's snapshot has no face SSIM; one outside [-1, 1] is not a measure.
  assert.deepEqual(parseTrainerLine('{"step":300,"elapsedMs":20000,"snapshot":"x","heldOutPsnr":18.9,"baselinePsnr":16.9,"baselineFaceSsim":1.5}'),
    { kind: 'snapshot', step: 300, elapsedMs: 20000, heldOutPsnr: 18.9, baselinePsnr: 16.9, heldOutFaceSsim: null, baselineFaceSsim: null });
  assert.deepEqual(parseTrainerLine('{"done":true,"heldOutPsnr":20.8}'), { kind: 'finished', heldOutPsnr: 20.8 });
  // Non-finite or missing figures become null; a run stopped to save its checkpoint has not finished.
  assert.deepEqual(parseTrainerLine('{"step":1,"elapsedMs":5,"psnr":"high","loss":null}'),
    { kind: 'progress', step: 1, elapsedMs: 5, psnr: null, trainPsnr: null, loss: null });
  for (const line of ['{"done":true,"interrupted":true}', 'training 40% |####', '{"step":', '{"elapsedMs":5}', '{"step":"1","elapsedMs":5}', ''])
    assert.equal(parseTrainerLine(line), undefined, line);
});

test('a finished line carries train --fidelity\'s figures when they are sound, else why they are missing', () => {
  const figures = { mouthPx: 4.1, eyesPx: 3.6, facePx: 2.9, lipOpeningPx: 5.2, comparedFrames: 30, nearestFrameMouthPx: 3.2 };
  assert.deepEqual(parseTrainerLine(JSON.stringify({ done: true, heldOutPsnr: 20.8, fidelity: figures })),
    { kind: 'finished', heldOutPsnr: 20.8, fidelity: { mouthPx: 4.1, eyesPx: 3.6, lipOpeningPx: 5.2, comparedFrames: 30, nearestFrameMouthPx: 3.2 } });
  assert.deepEqual(parseTrainerLine(JSON.stringify({ done: true, heldOutPsnr: 20.8, fidelityError: 'Chromium not found at /usr/bin/chromium' })),
    { kind: 'finished', heldOutPsnr: 20.8, fidelity: { error: 'no browser to re-track with beside the trainer' } }, 'in the owner\'s words: no server path');
  // No face found in any frame: the distances come out null.
  assert.deepEqual(parseTrainerLine(JSON.stringify({ done: true, heldOutPsnr: 20.8, fidelity: { ...figures, mouthPx: null, comparedFrames: 0 } })),
    { kind: 'finished', heldOutPsnr: 20.8, fidelity: { error: 'no face found in the avatar\'s renders' } });
  // The nearest training frames without a face: the avatar's figures stand, without the comparison.
  assert.deepEqual(parseTrainerLine(JSON.stringify({ done: true, heldOutPsnr: 20.8, fidelity: { ...figures, nearestFrameMouthPx: null } })),
    { kind: 'finished', heldOutPsnr: 20.8, fidelity: { mouthPx: 4.1, eyesPx: 3.6, lipOpeningPx: 5.2, comparedFrames: 30, nearestFrameMouthPx: null } });
  for (const bad of [{ ...figures, mouthPx: -1 }, { ...figures, eyesPx: 1e9 }, { ...figures, comparedFrames: 2.5 }, 'good', null]) {
    assert.deepEqual(parseTrainerLine(JSON.stringify({ done: true, heldOutPsnr: 20.8, fidelity: bad })),
      { kind: 'finished', heldOutPsnr: 20.8, fidelity: { error: 'the trainer reported malformed figures' } }, JSON.stringify(bad));
  }
  assert.deepEqual(['cannot fetch face_landmarker.task from https://x: fetch failed', 'interrupted', 'timed out after 120 s', 'x'.repeat(10_000)].map(fidelityReason),
    ['the face model could not be loaded', 'the measurement took too long', 'the measurement took too long', 'the measurement failed']);
});

test('the stderr tail keeps the last lines with progress-bar redraws collapsed', () => {
  const raw = `start\nbar 10%\rbar 50%\rbar 100%\n${Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n')}\n`;
  const tail = stderrTail(raw, 3).split('\n');
  assert.deepEqual(tail, ['line 27', 'line 28', 'line 29']);
  assert.equal(stderrTail('a\rb\rc\n', 5), 'c');
});
