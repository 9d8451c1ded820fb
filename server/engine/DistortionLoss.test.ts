import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distortionLoss, type DistortionInputs } from './DistortionLoss';
import { seededRandom } from '../../shared/coefficients/seededRandom';

/** Three rays (one with no samples), some sigmas below 0 (relu's dead zone), the last ray cut short by termination. */
function rays(seed: number): DistortionInputs {
  const rand = seededRandom(seed), counts = [7, 0, 9], offsets = [0];
  for (const c of counts) offsets.push(offsets.at(-1)! + c);
  const S = offsets.at(-1)!, t = new Float32Array(S), dt = new Float32Array(S);
  for (let r = 0; r < counts.length; r++) {
    let at = rand() * 3;
    for (let i = offsets[r]!; i < offsets[r + 1]!; i++) { dt[i] = 0.5 + rand(); t[i] = at; at += dt[i]! + (rand() < 0.3 ? 2 : 0); }
  }
  return {
    sigma: Float32Array.from({ length: S }, () => 4 * rand() - 1), deltas: Float32Array.from({ length: S }, () => 0.2 + 0.3 * rand()),
    t, dt, rayOffsets: Int32Array.from(offsets), used: Int32Array.of(7, 0, 6),
  };
}

/** The definition, in float64, with the double sum written out. */
function direct(x: DistortionInputs, sigma: ArrayLike<number>): number {
  const R = x.rayOffsets.length - 1;
  let total = 0;
  for (let r = 0; r < R; r++) {
    const s0 = x.rayOffsets[r]!, w: number[] = [];
    let T = 1;
    for (let i = 0; i < x.used[r]!; i++) {
      const a = Math.max(sigma[s0 + i]!, 0) * x.deltas[s0 + i]!;
      w.push(T * (1 - Math.exp(-a)));
      T *= Math.exp(-a);
    }
    for (let i = 0; i < w.length; i++) {
      for (let j = 0; j < w.length; j++) total += w[i]! * w[j]! * Math.abs(x.t[s0 + i]! - x.t[s0 + j]!);
      total += (w[i]! ** 2 * x.dt[s0 + i]!) / 3;
    }
  }
  return total / R;
}

test('the distortion loss is the double sum of its definition, averaged over the rays', () => {
  const x = rays(3), got = distortionLoss(x, 1, null), want = direct(x, x.sigma);
  assert.ok(Math.abs(got - want) < 1e-5 * want, `${got} vs ${want}`);
  assert.ok(want > 0.1);
});

test('its gradient matches central differences of the definition, and is zero in relu\'s dead zone and past termination', () => {
  const x = rays(5), weight = 0.7, dSigma = new Float32Array(x.sigma.length);
  distortionLoss(x, weight, dSigma);
  const sigma = Float64Array.from(x.sigma);
  for (let s = 0; s < sigma.length; s++) {
    const h = 1e-5, at = sigma[s]!;
    sigma[s] = at + h; const up = direct(x, sigma);
    sigma[s] = at - h; const down = direct(x, sigma);
    sigma[s] = at;
    const want = at > h ? (weight * (up - down)) / (2 * h) : 0;
    assert.ok(Math.abs(dSigma[s]! - want) < 1e-4 + 1e-3 * Math.abs(want), `sample ${s}: ${dSigma[s]} vs ${want}`);
  }
  assert.ok(x.sigma.some((v) => v < 0), 'some samples are in the dead zone');
  for (const s of [13, 14, 15]) assert.equal(dSigma[s], 0, `sample ${s} comes after termination`);
});

test('a ray whose weight sits in one sample scores less than one with the same opacity spread along it', () => {
  const base = { t: Float32Array.of(0, 1, 2, 3, 4, 5), dt: new Float32Array(6).fill(1), deltas: new Float32Array(6).fill(1), rayOffsets: Int32Array.of(0, 6), used: Int32Array.of(6) };
  const surface = distortionLoss({ ...base, sigma: Float32Array.of(0, 0, 3, 0, 0, 0) }, 1, null);
  const spread = distortionLoss({ ...base, sigma: Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.5, 0.5) }, 1, null);
  assert.ok(surface < spread / 4, `surface ${surface}, spread ${spread}`);
});
