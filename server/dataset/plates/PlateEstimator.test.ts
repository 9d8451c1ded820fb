/**
 * The plate estimator on synthetic frames (test/helpers/syntheticPlates.ts): a
 * known room (a colour ramp across, bands down, so a fill that carries rows
 * across is checkable) and a person (head with hair at its sides, neck, shirt)
 * who sways the head over a still body and opens and closes the mouth, with
 * landmarks on the face oval.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { LANDMARK_COUNT } from '../../../shared/dataset/format';
import { PLATE_MAX_SAMPLES } from '../../../shared/dataset/plateSample';
import {
  BODY_X, MOUTH_BELOW_CENTRE, NECK, NECK_HALF_WIDTH, partAt, personAt, room, SHIRT, SKIN, syntheticPlateSample, type Person,
} from '../../../test/helpers/syntheticPlates';
import { PlateEstimator, type PlateSample, type Plates } from './PlateEstimator';

const W = 320;
const H = 180;
const sampleOf = (index: number, p: Person) => syntheticPlateSample(index, p, W, H);

async function estimate(count: number): Promise<{ plates: Plates; people: Person[] }> {
  const estimator = new PlateEstimator(W, H);
  const people = Array.from({ length: count }, (_, i) => personAt(i, count));
  people.forEach((p, i) => estimator.add(sampleOf(i * 5, p)));
  const plates = await estimator.estimate();
  assert.ok(plates);
  return { plates, people };
}

describe('the plate estimator on a synthetic moving person', () => {
  const people = Array.from({ length: 12 }, (_, i) => personAt(i, 12));
  let plates: Plates;
  before(async () => { ({ plates } = await estimate(12)); });
  const seen = (x: number, y: number, margin: number) => people.some((p) => {
    for (let dy = -margin; dy <= margin; dy += 1) for (let dx = -margin; dx <= margin; dx += 1) if (partAt(p, x + 0.5 + dx, y + 0.5 + dy)) return false;
    return true;
  });

  test('the clean plate recovers the room wherever it was ever visible', () => {
    let worst = 0; let counted = 0;
    for (let y = 0; y < H; y += 2) {
      for (let x = 0; x < W; x += 2) {
        if (!seen(x, y, 8)) continue;
        const truth = room(x, y); const o = (y * W + x) * 4;
        for (let c = 0; c < 3; c += 1) worst = Math.max(worst, Math.abs(plates.background[o + c]! - truth[c]!));
        counted += 1;
      }
    }
    assert.ok(counted > 5000, `only ${counted} visible pixels checked`);
    assert.equal(worst, 0, `the median over visible samples is off by ${worst}`);
  });

  test('behind the person the clean plate continues the room, not a silhouette of skin', () => {
    let error = 0; let n = 0; let skinLike = 0;
    for (let y = 0; y < H; y += 1) {
      for (let x = 0; x < W; x += 1) {
        if (seen(x, y, 0)) continue;
        const truth = room(x, y); const o = (y * W + x) * 4;
        // The bands' edges are steps that a smoothed fill softens over a few rows: judge the rows away from them.
        const inBand = y % 20;
        if (inBand >= 5 && inBand < 15) {
          error += Math.abs(plates.background[o]! - truth[0]!) + Math.abs(plates.background[o + 1]! - truth[1]!); n += 1;
        }
        const d = Math.hypot(plates.background[o]! - SKIN[0]!, plates.background[o + 1]! - SKIN[1]!, plates.background[o + 2]! - SKIN[2]!);
        if (d < 40) skinLike += 1;
      }
    }
    assert.ok(n > 500, `only ${n} never-seen pixels (the person should hide some of the room in every sample)`);
    assert.ok(error / n < 4, `mean red + green error behind the person ${(error / n).toFixed(1)}`);
    assert.equal(skinLike, 0, `${skinLike} never-seen pixels look like skin`);
  });

  test('the body plate holds the shirt and neck, and nothing of the room or the hair beside the face', () => {
    const alpha = (x: number, y: number) => plates.body[(Math.floor(y) * W + Math.floor(x)) * 4 + 3]! / 255;
    const colour = (x: number, y: number) => Array.from(plates.body.subarray((Math.floor(y) * W + Math.floor(x)) * 4, (Math.floor(y) * W + Math.floor(x)) * 4 + 3));
    assert.equal(alpha(5, 5), 0, 'a room corner');
    assert.ok(alpha(BODY_X + 60, 170) > 0.99, 'the shirt');
    assert.deepEqual(colour(BODY_X + 60, 170), SHIRT);
    // Hair beside the face, at eye level, where it is in most samples: head-layer territory.
    for (const side of [-1, 1]) {
      const x = BODY_X + side * 37;
      assert.ok(alpha(x, 70) < 0.05, `hair beside the face at (${x}, 70) has body alpha ${alpha(x, 70)}`);
      assert.ok(alpha(x, 70 - 30) < 0.05, `hair beside the face at (${x}, 40) has body alpha ${alpha(x, 40)}`);
    }
  });

  test('the body plate has no hole under the chin: the neck is solid from the mouth down to the shirt, whatever the head did', () => {
    const mouth = Math.ceil(people[0]!.cy + MOUTH_BELOW_CENTRE * people[0]!.ry) + 1;
    for (let x = BODY_X - NECK_HALF_WIDTH + 2; x <= BODY_X + NECK_HALF_WIDTH - 2; x += 1) {
      for (let y = mouth; y < 145; y += 1) {
        const o = (y * W + x) * 4;
        assert.ok(plates.body[o + 3]! >= 250, `body alpha ${plates.body[o + 3]} at (${x}, ${y})`);
        if (y >= 140) continue;
        // The fill is the neck's colour carried up, not the face's, the hair's or the room's.
        const d = Math.hypot(plates.body[o]! - NECK[0]!, plates.body[o + 1]! - NECK[1]!, plates.body[o + 2]! - NECK[2]!);
        assert.ok(d < 12, `colour ${Array.from(plates.body.subarray(o, o + 3))} at (${x}, ${y}) is not the neck's`);
      }
    }
  });

  test('the neck fill stays as narrow as a neck: beside it, inside the cheeks, the body plate is clear', () => {
    // The head sways 12 px either side; a fill as wide as the face oval (the cheeks) stays put while the
    // head moves, and sticks out beside the jaw of every head that sits off the median.
    const mouth = Math.ceil(people[0]!.cy + MOUTH_BELOW_CENTRE * people[0]!.ry) + 1;
    for (const side of [-1, 1]) {
      const x = BODY_X + side * 24;
      for (let y = mouth; y < mouth + 3; y += 1) {
        const a = plates.body[(y * W + x) * 4 + 3]! / 255;
        assert.ok(a < 0.05, `body alpha ${a.toFixed(2)} at (${x}, ${y}), beside the neck inside the cheek`);
      }
    }
  });

  test('estimating lets the event loop run (a server finishing an onboarding session keeps its calls flowing)', async () => {
    let turns = 0; let running = true;
    const turn = () => { turns += 1; if (running) setImmediate(turn); };
    setImmediate(turn);
    await estimate(6);
    running = false;
    // It yields after each sample's masks and every 16384 pixels of each median pass: dozens of turns here.
    assert.ok(turns >= 20, `the event loop turned ${turns} times while the plates were estimated`);
  });

  test('few samples give no plates, and samples are size-checked and bounded', async () => {
    const estimator = new PlateEstimator(W, H);
    estimator.add(sampleOf(0, personAt(0, 2)));
    estimator.add(sampleOf(1, personAt(1, 2)));
    assert.equal(await estimator.estimate(), null);
    assert.throws(() => estimator.add(sampleOf(1, personAt(1, 2))), /plate sample 1 was already added/);
    assert.throws(() => estimator.add({ ...sampleOf(2, personAt(1, 2)), person: new Uint8Array(10) }),
      new TypeError(`plate sample 2: person mask is 10 bytes, expected ${W * H} (${W}x${H})`));
    const small = new PlateEstimator(16, 16);
    const tiny = (index: number): PlateSample => ({ index, rgb: new Uint8Array(16 * 16 * 3), person: new Uint8Array(16 * 16), landmarks: new Float32Array(LANDMARK_COUNT * 2) });
    for (let i = 0; i < PLATE_MAX_SAMPLES; i += 1) small.add(tiny(i));
    assert.throws(() => small.add(tiny(PLATE_MAX_SAMPLES)), new TypeError(`more than ${PLATE_MAX_SAMPLES} plate samples`));
  });
});
