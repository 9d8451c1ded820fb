import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { OneEuroFilter } from './OneEuroFilter';
import { seededRandom } from '../../shared/coefficients/seededRandom';

const RATE_HZ = 30;
const DT = 1 / RATE_HZ;

function gaussian(random: () => number): number {
  // Box-Muller; 1 - random() keeps the logarithm's argument in (0, 1].
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function variance(values: number[]): number {
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  return values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length;
}

/** Filtered-minus-raw at the end of a ramp of `slopePerSec`, once the filter has settled. */
function rampLag(beta: number, slopePerSec: number): number {
  const filter = new OneEuroFilter(1, { minCutoff: 1, beta, dCutoff: 1 });
  let last = 0;
  let raw = 0;
  for (let n = 0; n < 5 * RATE_HZ; n++) {
    raw = slopePerSec * n * DT;
    last = filter.filter([raw], n * DT)[0] ?? NaN;
  }
  return raw - last;
}

describe('OneEuroFilter', () => {
  test('a constant signal passes through unchanged on every channel, even with irregular timing', () => {
    const constants = [0, 0.37, -12.5, 1e6];
    const filter = new OneEuroFilter(constants.length, { minCutoff: 1, beta: 0.5, dCutoff: 1 });
    const random = seededRandom(1);
    let time = 0;
    for (let n = 0; n < 300; n++) {
      time += 0.001 + random() * 0.1;
      assert.deepEqual(Array.from(filter.filter(constants, time)), constants);
    }
  });

  test('with beta 0 it is a low-pass that cuts white-noise variance as much as theory predicts', () => {
    const minCutoff = 1;
    const filter = new OneEuroFilter(1, { minCutoff, beta: 0, dCutoff: 1 });
    const random = seededRandom(2);
    const raw: number[] = [];
    const filtered: number[] = [];
    for (let n = 0; n < 20000; n++) {
      const sample = 0.5 + 0.05 * gaussian(random);
      raw.push(sample);
      filtered.push(filter.filter([sample], n * DT)[0] ?? NaN);
    }
    // An exponential smoother with factor a passes a/(2-a) of white-noise variance.
    const a = 1 / (1 + 1 / (2 * Math.PI * minCutoff * DT));
    const expectedRatio = a / (2 - a);
    const ratio = variance(filtered.slice(100)) / variance(raw.slice(100));
    assert.ok(Math.abs(ratio - expectedRatio) < 0.2 * expectedRatio, `ratio ${ratio}, expected ${expectedRatio}`);
    assert.ok(ratio < 0.15);
  });

  test('with a speed-adaptive beta it still removes most of the noise on a still signal', () => {
    const filter = new OneEuroFilter(1, { minCutoff: 1, beta: 0.5, dCutoff: 1 });
    const random = seededRandom(3);
    const raw: number[] = [];
    const filtered: number[] = [];
    for (let n = 0; n < 20000; n++) {
      const sample = 0.5 + 0.01 * gaussian(random);
      raw.push(sample);
      filtered.push(filter.filter([sample], n * DT)[0] ?? NaN);
    }
    const ratio = variance(filtered.slice(100)) / variance(raw.slice(100));
    assert.ok(ratio < 0.3, `variance ratio ${ratio}`);
  });

  test('with beta 0 it lags a ramp by the textbook amount for an exponential smoother', () => {
    const slope = 10;
    const a = 1 / (1 + 1 / (2 * Math.PI * DT));
    const expectedLag = (slope * DT * (1 - a)) / a;
    const lag = rampLag(0, slope);
    assert.ok(Math.abs(lag - expectedLag) < 0.01 * expectedLag, `lag ${lag}, expected ${expectedLag}`);
  });

  test('a higher beta lags a fast ramp much less', () => {
    const slope = 10;
    const lowBetaLag = rampLag(0, slope);
    const highBetaLag = rampLag(1, slope);
    assert.ok(highBetaLag > 0, 'the filter should trail the ramp, not overshoot it');
    assert.ok(highBetaLag < lowBetaLag / 3, `lag ${highBetaLag} vs ${lowBetaLag}`);
  });

  test('channels are filtered independently', () => {
    const filter = new OneEuroFilter(2, { minCutoff: 1, beta: 1, dCutoff: 1 });
    for (let n = 0; n < 100; n++) {
      const out = filter.filter([7, n], n * DT);
      assert.equal(out[0], 7);
    }
  });

  test('a sample that does not advance time returns the previous output and reset starts afresh', () => {
    const filter = new OneEuroFilter(1, { minCutoff: 1, beta: 0, dCutoff: 1 });
    filter.filter([0], 1);
    const moved = filter.filter([10], 1 + DT)[0];
    assert.ok(moved !== undefined && moved > 0 && moved < 10);
    assert.equal(filter.filter([99], 1 + DT)[0], moved);
    assert.equal(filter.filter([99], 0.5)[0], moved);
    filter.reset();
    assert.equal(filter.isEmpty, true);
    assert.equal(filter.filter([42], 0.1)[0], 42);
  });

  test('invalid parameters and inputs are rejected with exact messages', () => {
    const ok = { minCutoff: 1, beta: 0, dCutoff: 1 };
    assert.throws(() => new OneEuroFilter(0, ok), { name: 'RangeError', message: 'channels must be a positive integer; got 0' });
    assert.throws(() => new OneEuroFilter(1, { ...ok, minCutoff: 0 }), {
      name: 'RangeError',
      message: 'minCutoff must be a positive finite number of Hz; got 0',
    });
    assert.throws(() => new OneEuroFilter(1, { ...ok, beta: -1 }), {
      name: 'RangeError',
      message: 'beta must be a non-negative finite number; got -1',
    });
    assert.throws(() => new OneEuroFilter(1, { ...ok, dCutoff: NaN }), {
      name: 'RangeError',
      message: 'dCutoff must be a positive finite number of Hz; got NaN',
    });
    const filter = new OneEuroFilter(2, ok);
    assert.throws(() => filter.filter([1], 0), { name: 'RangeError', message: 'expected 2 values; got 1' });
    assert.throws(() => filter.filter([1, 2], NaN), { name: 'TypeError', message: 'timestampSec must be a finite number; got NaN' });
  });
});
