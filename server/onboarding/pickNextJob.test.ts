import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobState, TrainingJob } from './TrainingJobTypes';
import { pickNextJob } from './pickNextJob';

const job = (id: string, owner: string, state: JobState = 'queued') => ({ id, owner, state }) as TrainingJob;

test('the user with the fewest running jobs goes first, then the one who started least recently, then the oldest job', () => {
  // ann has one running: bob's job goes before ann's older one.
  assert.equal(pickNextJob([job('a1', 'ann', 'running'), job('a2', 'ann'), job('b1', 'bob')], new Map([['ann', 1]]))?.id, 'b1');
  // Nobody running: bob started longest ago (ann just now), so bob's; each user's oldest job first.
  assert.equal(pickNextJob([job('a2', 'ann'), job('b2', 'bob'), job('b3', 'bob')], new Map([['ann', 5], ['bob', 4]]))?.id, 'b2');
  // A user who never started goes before those who did; full ties go to the user who queued first.
  assert.equal(pickNextJob([job('a2', 'ann'), job('c1', 'cid')], new Map([['ann', 1]]))?.id, 'c1');
  assert.equal(pickNextJob([job('a1', 'ann'), job('b1', 'bob')], new Map())?.id, 'a1');
  // Ended and running jobs are never picked.
  assert.equal(pickNextJob([job('a1', 'ann', 'done'), job('b1', 'bob', 'failed'), job('c1', 'cid', 'running')], new Map()), undefined);
});
