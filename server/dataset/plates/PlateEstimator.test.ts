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
import { headCut } from '../../../shared/dataset/headCut';
import { PLATE_MAX_SAMPLES } from '../../../shared/dataset/plateSample';
import {
  BODY_X, HAIR, MOUTH_BELOW_CENTRE, NECK, NECK_HALF_WIDTH, partAt, personAt, room, SHIRT, SKIN, syntheticPlateSample, type Person,
} from '../../../test/helpers/syntheticPlates';
import { PlateEstimator, type PlateSample, type Plates, underHeadEdge } from './PlateEstimator';

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
        // The fill is the neck's colour carried up, not the hair's or the room's. Above the lowest chin the plate
        // may hold the face's own skin: under the head's soft edge it is the person's median colour (what the
        // head leaves of the person there, underHeadEdge), and it shows only as much as that edge is see-through.
        const d = (colour: number[]) => Math.hypot(plates.body[o]! - colour[0]!, plates.body[o + 1]! - colour[1]!, plates.body[o + 2]! - colour[2]!);
        const belowEveryChin = y > Math.max(...people.map((p) => p.cy + p.ry + p.chinDrop));
        assert.ok(d(NECK) < 12 || (!belowEveryChin && d(SKIN) < 12), `colour ${Array.from(plates.body.subarray(o, o + 3))} at (${x}, ${y}) is neither the neck's nor the face's`);
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

describe('where the head cut crosses the person (long hair past the jaw)', () => {
  // A still person whose hair hangs beside the face down to the shirt: the head cut's feather runs through
  // solid hair there, so the head layer (trained to person x cut) is half see-through on that line.
  const person: Person = { cx: BODY_X, cy: 70, rx: 30, ry: 40, chinDrop: 0 };
  const withLongHair = (index: number): PlateSample => {
    const sample = syntheticPlateSample(index, person, W, H);
    for (let y = 100; y < 145; y += 1) {
      for (let x = 0; x < W; x += 1) {
        const beside = Math.abs(x + 0.5 - person.cx);
        if (beside <= person.rx || beside > person.rx + 10) continue;
        sample.person[y * W + x] = 255;
        sample.rgb.set(HAIR, (y * W + x) * 3);
      }
    }
    return sample;
  };

  test('head and body plate together cover the whole person: the room does not show through along the cut', async () => {
    const estimator = new PlateEstimator(W, H);
    for (let i = 0; i < 6; i += 1) estimator.add(withLongHair(i));
    const plates = (await estimator.estimate())!;
    const sample = withLongHair(0);
    const keep = headCut(sample.landmarks, W, H);
    let worst = 1; let where = ''; let crossings = 0;
    for (let i = 0; i < W * H; i += 1) {
      if (sample.person[i] !== 255) continue;
      const head = keep[i]!; // the head layer's alpha: its training mask, person x cut
      if (head > 0.2 && head < 0.8) crossings += 1;
      const covered = head + (1 - head) * (plates.body[i * 4 + 3]! / 255);
      if (covered < worst) { worst = covered; where = `(${i % W}, ${Math.floor(i / W)}), head alpha ${head.toFixed(2)}`; }
    }
    assert.ok(crossings > 20, `the cut's feather crosses the hair at only ${crossings} pixels`);
    // The old body alpha, person x (1 - cut), left 1 - 0.75 of the person to the room where the cut was one half.
    assert.ok(worst > 0.97, `head over body covers only ${worst.toFixed(3)} of the person at ${where}`);
  });

  test('the body alpha is what the head leaves of the person, and the cut\'s share where the head is nearly opaque', () => {
    assert.equal(underHeadEdge(1, 0.5), 1);
    assert.equal(underHeadEdge(0, 0.5), 0);
    assert.equal(underHeadEdge(0.6, 0), 0.6);
    assert.ok(Math.abs(underHeadEdge(0.5, 0.5) - (0.5 - 0.25) / 0.75) < 1e-12);
    // Nearly opaque head: 0/0 in the ratio; the body keeps person x (1 - cut).
    assert.ok(Math.abs(underHeadEdge(1, 0.99) - 0.01) < 1e-12);
  });
});
