import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceKernels, RenderRaysScene } from '../KernelsTypes';
import { marchRaysRef } from '../reference/march';
import { densityAtRef, renderRaysRef } from '../reference/render';
import { assertClose, rng, uniform } from '../testUtil';

/** A small random scene: odd hidden widths (padding paths), C = 3, F = 2. */
export function randomScene(seed: number, over: Partial<RenderRaysScene> = {}): RenderRaysScene {
  const rand = rng(seed), C = 3, F = 2, Hd = 5, Hc = 19, G = 6, B = 5, A = 9;
  const encA = 3 * C * (1 + 2 * F), encV = 3 * (1 + 2 * F);
  const occupancy = new Uint8Array(G * G * G);
  for (let i = 0; i < occupancy.length; i++) occupancy[i] = rand() < 0.6 ? 1 : 0;
  const box = (lo: number[], hi: number[]) => ({ min: Float32Array.from(lo), max: Float32Array.from(hi) });
  return {
    occupancy, gridRes: G, offsets: uniform(B * B * B * 3, -0.1, 0.1, rand), offsetRes: B,
    appearance: uniform(A * A * A * C, -1.5, 1.5, rand), appearanceRes: A, channels: C, frequencies: F,
    densW0: uniform(Hd * encA, -0.4, 0.4, rand), densB0: uniform(Hd, -0.2, 0.4, rand), densW1: uniform(Hd, -1, 2, rand), densB1: 0.3,
    colorW0: uniform(Hc * (encA + encV), -0.3, 0.3, rand), colorB0: uniform(Hc, -0.2, 0.2, rand),
    colorW1: uniform(3 * Hc, -1, 1, rand), colorB1: uniform(3, -0.5, 0.5, rand), densityHidden: Hd, colorHidden: Hc,
    motionBox: box([-1.1, -1, -0.9], [1, 1.2, 1]), appearanceBox: box([-1.2, -1.1, -1.3], [1.2, 1.3, 1.1]),
    step: 0.1, maxSamples: 40, stepDensity: 0.5, tEps: 1e-3, weightEps: 1e-3, background: Float32Array.from([1, 0.9, 0.8]),
    ...over,
  };
}

/** Rays from a camera at z = 4 towards random points of the box (some miss it). */
export function randomRays(n: number, seed: number): { origins: Float32Array; dirs: Float32Array } {
  const rand = rng(seed), origins = new Float32Array(3 * n), dirs = new Float32Array(3 * n);
  for (let r = 0; r < n; r++) {
    const o = [0.3 * (rand() - 0.5), 0.3 * (rand() - 0.5), 4], t = [2.8 * (rand() - 0.5), 2.8 * (rand() - 0.5), 0];
    const d = t.map((v, a) => v - o[a]!), len = Math.hypot(...d);
    origins.set(o, 3 * r);
    dirs.set(d.map((v) => v / len), 3 * r);
  }
  return { origins, dirs };
}

export function renderSuite(k: InferenceKernels): void {
  test('renderRays: empty occupancy or zero density gives the background', async () => {
    const { origins, dirs } = randomRays(50, 3);
    for (const over of [{ occupancy: new Uint8Array(216) }, { densW1: new Float32Array(5), densB1: -1 }]) {
      const s = randomScene(1, over), color = new Float32Array(150).fill(NaN);
      const st = await k.renderRays(origins, dirs, s, color);
      assert.equal(st.shaded, 0);
      for (let r = 0; r < 50; r++) assert.deepEqual([...color.subarray(3 * r, 3 * r + 3)], [...s.background]);
    }
  });

  test('renderRays matches the float64 reference (weight threshold on and off, early termination)', async () => {
    const { origins, dirs } = randomRays(300, 4);
    // maxSamples 6: the cap holds across the march's chunks of 4.
    for (const over of [{}, { weightEps: 0, tEps: 0 }, { stepDensity: 3, tEps: 0.05 }, { maxSamples: 6, tEps: 0 }]) {
      const s = randomScene(2, over), a = new Float32Array(900), b = new Float32Array(900);
      const st = await k.renderRays(origins, dirs, s, a), sr = renderRaysRef(origins, dirs, s, b);
      assert.equal(st.samples, st.density, 'the march stops where the shading stops');
      assert.ok(sr.shaded > 100 && Math.abs(st.shaded - sr.shaded) <= 2, `shaded ${st.shaded} vs ${sr.shaded}`);
      assert.ok(st.density >= sr.density, 'density head runs at least up to termination');
      // With early termination the march must stop well short of the occupied cells' end.
      const kept = marchRaysRef(origins, dirs, s.appearanceBox, s.occupancy, s.gridRes, s.step, s.maxSamples).rayOffsets[300]!;
      if (s.tEps > 0) assert.ok(st.samples < 0.9 * kept, `${st.samples} samples marched of the ${kept} the occupancy keeps`);
      else assert.equal(st.samples, kept, 'without termination the march keeps what marchRays keeps');
      assertClose(a, b, { abs: 2e-4, rel: 0 }, `renderRays ${JSON.stringify(Object.keys(over))}`);
    }
  });

  test('renderRays writes each ray\'s transmittance when asked: 1 for a miss, and color - T * background matches the reference with a black background', async () => {
    const { origins, dirs } = randomRays(300, 9);
    const s = randomScene(2, { stepDensity: 3, tEps: 0.05 }), n = 300;
    const color = new Float32Array(3 * n), t = new Float32Array(n).fill(NaN), plain = new Float32Array(3 * n);
    await k.renderRays(origins, dirs, s, color, t);
    await k.renderRays(origins, dirs, s, plain);
    assert.deepEqual([...color], [...plain], 'asking for transmittance changes no colour');
    const black = new Float32Array(3 * n), tRef = new Float32Array(n);
    renderRaysRef(origins, dirs, { ...s, background: new Float32Array(3) }, black, tRef);
    assertClose(t, tRef, { abs: 2e-4, rel: 0 }, 'transmittance');
    let misses = 0, covered = 0;
    for (let r = 0; r < n; r++) {
      if (t[r] === 1) misses++;
      if (t[r]! < 0.5) covered++;
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(color[3 * r + c]! - t[r]! * s.background[c]! - black[3 * r + c]!) < 3e-4, `ray ${r} channel ${c}`);
    }
    assert.ok(misses > 10 && covered > 10, `some rays miss (${misses}) and some are mostly covered (${covered})`);
    const empty = randomScene(2, { occupancy: new Uint8Array(216) }), te = new Float32Array(n).fill(NaN);
    await k.renderRays(origins, dirs, empty, new Float32Array(3 * n), te);
    assert.ok(te.every((v) => v === 1), 'every ray of an empty scene leaves all its weight to the background');
  });

  test('densityAt matches the float64 reference at points inside and outside the boxes', async () => {
    const rand = rng(7), P = 37, points = uniform(3 * P, -1.6, 1.6, rand);
    for (const over of [{}, { frequencies: 4, channels: 4, appearance: uniform(9 * 9 * 9 * 4, -1.5, 1.5, rand), densW0: uniform(5 * 108, -0.3, 0.3, rand), colorW0: uniform(19 * (108 + 27), -0.3, 0.3, rand) }]) {
      const s = randomScene(5, over), a = new Float32Array(P).fill(NaN), b = new Float32Array(P);
      await k.densityAt(points, s, a);
      densityAtRef(points, s, b);
      assert.ok(Math.max(...b) - Math.min(...b) > 0.5, `densities vary over the points: ${Math.min(...b)}..${Math.max(...b)}`);
      assertClose(a, b, { abs: 1e-4, rel: 1e-4 }, `densityAt ${JSON.stringify(Object.keys(over))}`);
    }
  });
}
