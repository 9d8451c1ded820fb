import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideCropWindow, type Box } from '../../shared/dataset/cropWindow';
import { TEST_FRACTION } from '../../shared/dataset/format';
import {
  CheckWindow, framingVerdict, lightVerdict, meanLuma, promptAt, promptSchedule, type Picture,
} from './captureGuide';

/** A width x height RGBA picture whose pixel colour is `colour(x, y)`. */
function picture(width: number, height: number, colour: (x: number, y: number) => [number, number, number]): Picture {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const [r, g, b] = colour(x, y);
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

test('the prompt schedule covers the whole recording in order, without gaps or overlaps', () => {
  for (const total of [8, 40, 60]) {
    const schedule = promptSchedule(total);
    assert.equal(schedule.length, 10);
    assert.equal(schedule[0]!.startSec, 0);
    assert.equal(schedule[schedule.length - 1]!.endSec, total);
    schedule.forEach((prompt, i) => {
      assert.ok(prompt.endSec > prompt.startSec, `${prompt.text} has a positive length`);
      if (i > 0) assert.equal(prompt.startSec, schedule[i - 1]!.endSec);
    });
  }
});

test('prompts keep their share of the recording whatever its length', () => {
  const short = promptSchedule(8);
  const long = promptSchedule(60);
  short.forEach((prompt, i) => {
    const other = long[i]!;
    assert.equal(other.text, prompt.text);
    assert.ok(Math.abs((other.endSec - other.startSec) - (prompt.endSec - prompt.startSec) * 7.5) < 1e-9);
  });
});

test('the held-out last 15% of the recording asks for nothing new: it is all the final neutral prompt', () => {
  const schedule = promptSchedule(40);
  const last = schedule[schedule.length - 1]!;
  assert.match(last.text, /neutral/i);
  assert.ok(last.startSec <= (1 - TEST_FRACTION) * 40, `the last prompt starts at ${last.startSec} s`);
  for (const total of [8, 40, 60]) {
    const times = promptSchedule(total);
    assert.equal(promptAt(times, (1 - TEST_FRACTION) * total).text, last.text);
  }
});

test('the prompt at a time is the one whose interval holds it, clamped at both ends', () => {
  const schedule = promptSchedule(40);
  assert.equal(promptAt(schedule, -1), schedule[0]);
  assert.equal(promptAt(schedule, 0), schedule[0]);
  assert.equal(promptAt(schedule, schedule[1]!.startSec), schedule[1]);
  assert.equal(promptAt(schedule, schedule[1]!.startSec - 0.01), schedule[0]);
  assert.equal(promptAt(schedule, 39.99), schedule[9]);
  assert.equal(promptAt(schedule, 100), schedule[9]);
});

test('mean luma weighs red, green and blue as Rec. 601 and reads only the given area', () => {
  const halves = picture(40, 20, (x) => (x < 20 ? [0, 0, 0] : [255, 255, 255]));
  assert.equal(meanLuma(halves, { x: 20, y: 0, width: 20, height: 20 }, 1), 255);
  assert.equal(meanLuma(halves, { x: 0, y: 0, width: 20, height: 20 }, 1), 0);
  assert.ok(Math.abs(meanLuma(halves, undefined, 1) - 127.5) < 1e-9);
  assert.ok(Math.abs(meanLuma(picture(4, 4, () => [255, 0, 0]), undefined, 1) - 0.299 * 255) < 1e-9);
  assert.ok(Math.abs(meanLuma(picture(4, 4, () => [0, 0, 255]), undefined, 1) - 0.114 * 255) < 1e-9);
  // An area reaching past the edge is clamped to the picture.
  assert.equal(meanLuma(halves, { x: 30, y: -10, width: 100, height: 100 }, 1), 255);
  assert.throws(() => meanLuma(halves, { x: 50, y: 0, width: 10, height: 10 }), /outside/);
});

test('a dim face is too dark, a blown-out one too bright, ordinary light is fine', () => {
  const face = { x: 10, y: 10, width: 20, height: 20 };
  // A bright background must not rescue a dark face: only the face box counts.
  const dimFace = picture(40, 40, (x, y) => (x >= 10 && x < 30 && y >= 10 && y < 30 ? [35, 30, 28] : [250, 250, 250]));
  assert.equal(lightVerdict(meanLuma(dimFace, face)), 'dark');
  assert.equal(lightVerdict(meanLuma(picture(40, 40, () => [250, 245, 240]), face)), 'bright');
  assert.equal(lightVerdict(meanLuma(picture(40, 40, () => [180, 140, 120]), face)), 'ok');
  assert.equal(lightVerdict(49.9), 'dark');
  assert.equal(lightVerdict(50), 'ok');
  assert.equal(lightVerdict(220), 'ok');
  assert.equal(lightVerdict(220.1), 'bright');
});

test('framing asks for a centred face between a fifth and a half of the frame height', () => {
  const box = (cx: number, cy: number, h: number): Box => ({ minX: cx - h * 0.4, maxX: cx + h * 0.4, minY: cy - h / 2, maxY: cy + h / 2 });
  assert.equal(framingVerdict(box(320, 240, 180), 640, 480), 'ok');
  assert.equal(framingVerdict(box(320, 240, 300), 640, 480), 'too-close');
  assert.equal(framingVerdict(box(320, 240, 60), 640, 480), 'too-small');
  assert.equal(framingVerdict(box(120, 240, 180), 640, 480), 'off-centre');
  assert.equal(framingVerdict(box(320, 400, 150), 640, 480), 'off-centre');
});

test('the live check is ready after about a second with a face in most frames', () => {
  const centred: Box = { minX: 260, maxX: 380, minY: 170, maxY: 320 };
  const checks = new CheckWindow(640, 480);
  assert.equal(checks.verdict.ready, false);
  for (let t = 0; t < 700; t += 100) checks.add({ timeMs: t, box: centred, luma: 120 });
  assert.equal(checks.verdict.ready, false, 'not ready before the window has passed');
  for (let t = 700; t <= 1000; t += 100) checks.add({ timeMs: t, box: centred, luma: 120 });
  assert.deepEqual(checks.verdict, { faceFound: true, light: 'ok', framing: 'ok', ready: true, good: true });
  // Three frames without a face in the last ten: under 80% found.
  for (let t = 1100; t <= 1300; t += 100) checks.add({ timeMs: t, box: null, luma: 120 });
  assert.equal(checks.verdict.ready, false);
  assert.equal(checks.verdict.faceFound, false);
});

test('ready but badly lit or placed is not good', () => {
  const checks = new CheckWindow(640, 480);
  const small: Box = { minX: 300, maxX: 340, minY: 220, maxY: 270 };
  for (let t = 0; t <= 1000; t += 100) checks.add({ timeMs: t, box: small, luma: 30 });
  assert.deepEqual(checks.verdict, { faceFound: true, light: 'dark', framing: 'too-small', ready: true, good: false });
});

test('the crop is decided from the last second of face boxes only', () => {
  const checks = new CheckWindow(640, 480);
  const early: Box = { minX: 20, maxX: 140, minY: 100, maxY: 250 };
  checks.add({ timeMs: 0, box: early, luma: 120 });
  const recent: Box[] = [];
  for (let t = 500; t <= 1600; t += 100) {
    const box = { minX: 260 + t / 100, maxX: 380 + t / 100, minY: 170, maxY: 320 };
    recent.push(box);
    checks.add({ timeMs: t, box, luma: 120 });
    checks.add({ timeMs: t + 50, box: null, luma: 120 });
  }
  // Window (600, 1650]: boxes from t = 700 on; the early box and the t = 500, 600 ones have left it.
  const expected = decideCropWindow(recent.slice(2), 640, 480);
  assert.deepEqual(checks.crop(), expected);
  assert.notDeepEqual(checks.crop(), decideCropWindow([early, ...recent], 640, 480));
});
