import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RunClock, RunBounds } from './RunBounds';

/** A clock the test moves by hand. */
function fakeClock(): RunClock & { ms: number; cpu: number } {
  const c = { ms: 1000, cpu: 5, now: () => c.ms, cpuSeconds: () => c.cpu };
  return c;
}

test('a run is done when any of its own bounds is spent, counted from start()', () => {
  const clock = fakeClock();
  const b = new RunBounds({ minutes: 1, steps: 10, cpuSeconds: 30 }, { elapsedMs: 0, steps: 0 }, clock);
  clock.ms += 50_000; clock.cpu += 20; // loading: not counted once the run starts
  b.start();
  assert.equal(b.done(9), false);
  assert.equal(b.done(10), true, 'ten steps');
  clock.cpu += 30;
  assert.equal(b.workDone(0), true, 'thirty CPU seconds');
  clock.cpu -= 30;
  clock.ms += 60_000;
  assert.equal(b.timeUp(), true, 'one minute');
  assert.equal(b.workDone(0), false, 'time is not work');
  assert.equal(b.done(0), true);
});

test('a resumed run counts its own steps for --steps and the checkpoint\'s for the tail', () => {
  const clock = fakeClock();
  const b = new RunBounds({ minutes: 10, steps: 100 }, { elapsedMs: 600_000, steps: 300 }, clock);
  assert.equal(b.workDone(399), false);
  assert.equal(b.workDone(400), true);
  assert.deepEqual(b.tailBudget, { ms: 1_200_000, steps: 400 });
  // The checkpoint's 300 steps count here: 350 of 400 is the furthest share (time: 600 of 1200 s).
  assert.equal(b.tailProgress(350), 350 / 400);
  clock.ms += 540_000;
  assert.equal(b.tailProgress(350), 1_140_000 / 1_200_000, 'the time share leads once it is further');
});

test('the bar shows the bound furthest spent, in its own unit', () => {
  const clock = fakeClock();
  const b = new RunBounds({ minutes: 24 * 60, steps: 3 }, { elapsedMs: 0, steps: 7 }, clock);
  clock.ms += 2_000;
  assert.deepEqual(b.barProgress(8), [1, 3], 'one step of three, not 2 s of a day');
  const c = new RunBounds({ minutes: 1, cpuSeconds: 100 }, { elapsedMs: 0, steps: 0 }, clock);
  clock.ms += 30_000; clock.cpu += 10;
  assert.deepEqual(c.barProgress(0), [30, 60], 'half the time against a tenth of the CPU');
});

test('bounds that are not positive and finite are refused', () => {
  const clock = fakeClock();
  assert.throws(() => new RunBounds({ minutes: 0 }, { elapsedMs: 0, steps: 0 }, clock), /minutes must be positive and finite, got 0/);
  assert.throws(() => new RunBounds({ minutes: 1, steps: Number.NaN }, { elapsedMs: 0, steps: 0 }, clock), /steps must be positive and finite, got NaN/);
  assert.throws(() => new RunBounds({ minutes: 1 }, { elapsedMs: -1, steps: 0 }, clock), /must be non-negative, got -1 ms and 0 steps/);
  assert.throws(() => new RunBounds({ minutes: 1 }, { elapsedMs: 0, steps: 1.5 }, clock), /must be non-negative, got 0 ms and 1.5 steps/);
});
