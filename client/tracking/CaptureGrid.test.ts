import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureGrid } from './CaptureGrid';

/** Arrival times of a camera at `fps` for `seconds`, each frame early or late by up to `jitterMs` (a seeded LCG). */
function cameraFrames(fps: number, seconds: number, jitterMs: number, seed = 7): number[] {
  let state = seed;
  const random = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  return Array.from({ length: Math.round(fps * seconds) }, (_, i) => 1000 + (i * 1000) / fps + (random() * 2 - 1) * jitterMs);
}

function taken(grid: CaptureGrid, frames: number[]): number[] {
  return frames.filter((at) => grid.take(at));
}

test('a 30 fps camera that jitters by 8 ms, capped at 12, 25 and 30, gives the cap\'s rate', () => {
  const frames = cameraFrames(30, 20, 8);
  for (const cap of [12, 25, 30]) {
    const rate = taken(new CaptureGrid(cap), frames).length / 20;
    assert.ok(Math.abs(rate - cap) <= 0.2, `capped at ${cap}: ${rate} frames/s`);
  }
});

test('frames "that long after the last one" would not: the same camera capped at 12 gives 10 or fewer that way', () => {
  // The rule CaptureGrid replaced, kept here as the measure it is compared with.
  const frames = cameraFrames(30, 20, 8);
  let last = -Infinity;
  const spaced = frames.filter((at) => (at - last >= 1000 / 12 - 2 ? ((last = at), true) : false)).length / 20;
  assert.ok(spaced <= 10.1, `spaced: ${spaced} frames/s`);
});

test('a cap above the camera\'s rate takes every frame, and never two grid points for one frame', () => {
  const frames = cameraFrames(30, 10, 8);
  assert.equal(taken(new CaptureGrid(60), frames).length, frames.length);
  assert.equal(taken(new CaptureGrid(30), frames).length >= frames.length - 2, true);
});

test('no window of a second holds more than the cap plus one frame', () => {
  const frames = cameraFrames(30, 20, 12);
  const got = taken(new CaptureGrid(10), frames);
  for (let i = 0; i < got.length; i++) {
    const inSecond = got.filter((at) => at >= got[i]! && at < got[i]! + 1000).length;
    assert.ok(inSecond <= 11, `${inSecond} frames in the second from ${got[i]!.toFixed(0)} ms`);
  }
});

test('after a pause the grid restarts at the next frame instead of bursting to catch up', () => {
  const grid = new CaptureGrid(10);
  const before = cameraFrames(30, 2, 0);
  taken(grid, before);
  // 5 s without frames (a hidden tab), then the camera resumes.
  const after = cameraFrames(30, 2, 0).map((at) => at + 7000);
  const resumed = taken(grid, after);
  assert.equal(resumed[0], after[0]);
  assert.ok(resumed[1]! - resumed[0]! >= 90, `the second frame after the pause comes a grid step later: ${resumed[1]! - resumed[0]!} ms`);
  assert.ok(Math.abs(resumed.length - 20) <= 1, `${resumed.length} frames in 2 s at 10 fps`);
});

test('a lowered cap takes effect at once, and a cap outside (0, 60] is refused', () => {
  const grid = new CaptureGrid(30);
  const frames = cameraFrames(30, 4, 5);
  taken(grid, frames.slice(0, 60));
  grid.maxFps = 5;
  assert.ok(Math.abs(taken(grid, frames.slice(60)).length - 10) <= 1, 'the last 2 s at 5 fps');
  assert.equal(grid.maxFps, 5);
  for (const bad of [0, -1, 61, Number.NaN]) {
    assert.throws(() => { grid.maxFps = bad; }, { name: 'RangeError', message: `maxFps must be in (0, 60], not ${bad}` });
    assert.throws(() => new CaptureGrid(bad), RangeError);
  }
  assert.equal(grid.maxFps, 5, 'a refused cap changes nothing');
});
