import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadJobsFile } from './jobsFile';

const job = (id: string, over: Record<string, unknown> = {}) => ({
  id, owner: 'u1', avatarId: `av-${id}`, dataset: '/d', workDir: '/w', createdAt: 't', updatedAt: 't',
  options: { minutes: 1, res: 64, model: 'fast', fidelity: true }, state: 'done', attempts: 0, progress: {}, ...over,
});

test('a job\'s unreadable fidelity is dropped and the job kept; a bad fidelity option drops the record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'voxface-jobs-'));
  try {
    const path = join(dir, 'jobs.json');
    const good = { mouthPx: 4.1, eyesPx: 3.6, lipOpeningPx: 5.2, nearestFrameMouthPx: 3.2, comparedFrames: 30 };
    writeFileSync(path, JSON.stringify({ version: 1, jobs: [
      job('a', { fidelity: good }), job('b', { fidelity: 'great' }), job('c', { fidelity: { ...good, mouthPx: -3 } }),
      job('d', { fidelity: { error: 'x'.repeat(300) } }), job('e', { options: { minutes: 1, res: 64, model: 'fast', fidelity: 'false' } }),
    ] }));
    const { jobs } = loadJobsFile(path);
    assert.deepEqual(jobs.map((j) => [j.id, j.fidelity]), [['a', good], ['b', undefined], ['c', undefined], ['d', undefined]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
