// Bad input reaches the native addon as TypeError/RangeError with exact messages,
// never as a crash or an out-of-bounds read.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNative } from './native';

const nat = loadNative();
const f32 = (n: number) => new Float32Array(n);

function throwsExactly(fn: () => unknown, type: typeof TypeError | typeof RangeError, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal((err as Error).message, message);
    return true;
  });
}

describe('native binding input checks', () => {
  const grid = f32(2 * 3 * 4 * 2), pts = f32(6);

  test('wrong buffer types are TypeErrors', () => {
    throwsExactly(() => nat.gridSample3d(new Float64Array(48) as never, 2, 3, 4, 2, pts, 2, 1), TypeError, 'gridSample3d: grid must be a Float32Array');
    throwsExactly(() => nat.gridSample3d([0, 1] as never, 2, 3, 4, 2, pts, 2, 1), TypeError, 'gridSample3d: grid must be a Float32Array');
    throwsExactly(() => nat.composite(f32(1), f32(3), f32(1), new Uint32Array(2) as never, f32(3), 1, 1, 0), TypeError, 'composite: rayOffsets must be a Int32Array');
    throwsExactly(() => nat.marchRays(f32(3), f32(3), 1, f32(3), f32(3), new Int8Array(8) as never, 2, 0.1, 4), TypeError, 'marchRays: occupancy must be a Uint8Array');
    throwsExactly(() => nat.dense(f32(2), f32(2), f32(1), 1, 2, 1, 3 as never), TypeError, 'dense: activation must be a string');
    throwsExactly(() => nat.gridSample3d(grid, '2' as never, 3, 4, 2, pts, 2, 1), TypeError, 'gridSample3d: D must be a number');
    throwsExactly(() => nat.adamStep(f32(1), f32(1), f32(1), f32(1), 0.1, 0.9, 0.99, 1e-8, 1, 1 as never), TypeError, 'adamStep: masked must be a boolean');
  });

  test('wrong argument counts are TypeErrors', () => {
    throwsExactly(() => (nat.gridSample3d as (...a: unknown[]) => unknown)(grid), TypeError, 'gridSample3d: expected 8 arguments, got 1');
    throwsExactly(() => (nat.gridSample3dBackward as (...a: unknown[]) => unknown)(), TypeError, 'gridSample3dBackward: expected 9-10 arguments, got 0');
  });

  test('wrong lengths are RangeErrors naming the expected size', () => {
    throwsExactly(() => nat.gridSample3d(f32(47), 2, 3, 4, 2, pts, 2, 1), RangeError, 'gridSample3d: grid has length 47, expected 48 (D*H*W*C)');
    throwsExactly(() => nat.gridSample3d(grid, 2, 3, 4, 2, f32(5), 2, 1), RangeError, 'gridSample3d: points has length 5, expected 6 (N*3)');
    throwsExactly(() => nat.gridSample3dBackward(grid, 2, 3, 4, 2, pts, 2, 1, f32(4), f32(47)), RangeError, 'gridSample3dBackward: dGrid has length 47, expected 48 (D*H*W*C)');
    throwsExactly(() => nat.dense(f32(6), f32(6), f32(2), 2, 3, 3, 'relu'), RangeError, 'dense: W has length 6, expected 9 (Out*In)');
    throwsExactly(() => nat.denseBackward(f32(6), f32(9), f32(5), f32(6), 2, 3, 3, 'relu', true), RangeError, 'denseBackward: y has length 5, expected 6 (N*Out)');
    throwsExactly(() => nat.blendVolumes(f32(4), f32(7), f32(2), 2, 4), RangeError, 'blendVolumes: bases has length 7, expected 8 (E*V)');
    throwsExactly(() => nat.l1Loss(f32(3), f32(4)), RangeError, 'l1Loss: b has length 4, expected 3 (length of a)');
    throwsExactly(() => nat.adamStep(f32(3), f32(3), f32(2), f32(3), 0.1, 0.9, 0.99, 1e-8, 1, false), RangeError, 'adamStep: m has length 2, expected 3 (length of param)');
  });

  test('non-integer, negative, non-finite and out-of-range sizes and parameters are RangeErrors', () => {
    throwsExactly(() => nat.gridSample3d(grid, 2.5, 3, 4, 2, pts, 2, 1), RangeError, 'gridSample3d: D must be an integer, got 2.5');
    throwsExactly(() => nat.gridSample3d(grid, 2, 3, 4, 2, pts, -2, 1), RangeError, 'gridSample3d: N must be a non-negative integer, got -2');
    throwsExactly(() => nat.gridSample3d(grid, 0, 3, 4, 2, pts, 2, 1), RangeError, 'gridSample3d: D must be a positive integer, got 0');
    throwsExactly(() => nat.gridSample3d(grid, 2, 3, 4, 2, pts, NaN, 1), RangeError, 'gridSample3d: N must be finite, got NaN');
    throwsExactly(() => nat.gridSample3d(grid, 2, 3, 4, 2, pts, 2, 3), RangeError, 'gridSample3d: stride must be 1, 2 or 4, got 3');
    throwsExactly(() => nat.gridSample3d(grid, 1e6, 1e6, 1e6, 2, pts, 2, 1), RangeError, 'gridSample3d: tensor of 2e+18 elements is too large');
    throwsExactly(() => nat.dense(f32(2), f32(2), f32(1), 1, 2, 1, 'tanh'), RangeError, "dense: activation must be one of none, relu, leakyRelu, sigmoid, got 'tanh'");
    throwsExactly(() => nat.marchRays(f32(3), f32(3), 1, f32(3), f32(3), new Uint8Array(8), 2, 0, 4), RangeError, 'marchRays: step must be positive, got 0');
    throwsExactly(() => nat.adamStep(f32(1), f32(1), f32(1), f32(1), 0.1, 1, 0.99, 1e-8, 1, false), RangeError, 'adamStep: beta1 must be in [0, 1), got 1');
    throwsExactly(() => nat.adamStep(f32(1), f32(1), f32(1), f32(1), 0.1, 0.9, 0.99, 1e-8, 0, false), RangeError, 'adamStep: t must be an integer >= 1, got 0');
  });

  test('adamStep refuses overlapping arrays (it updates them through restrict pointers)', () => {
    const buf = new Float32Array(8), a = buf.subarray(0, 4), b = buf.subarray(3, 7), c = buf.subarray(4, 8);
    throwsExactly(() => nat.adamStep(a, f32(4), f32(4), a, 0.1, 0.9, 0.99, 1e-8, 1, false), RangeError, 'adamStep: param and v must not overlap');
    throwsExactly(() => nat.adamStep(f32(4), a, b, f32(4), 0.1, 0.9, 0.99, 1e-8, 1, false), RangeError, 'adamStep: grad and m must not overlap');
    // Adjacent views of one buffer are distinct arrays.
    nat.adamStep(a, c, f32(4), f32(4), 0.1, 0.9, 0.99, 1e-8, 1, false);
  });

  test('inconsistent ray offsets are RangeErrors, not out-of-bounds reads', () => {
    const S = 4;
    const call = (off: number[], used?: number[]) => {
      const o = Int32Array.from(off), R = off.length - 1;
      if (!used) return nat.composite(f32(S), f32(3 * S), f32(S), o, f32(3), R, S, 0);
      return nat.compositeBackward(f32(S), f32(3 * S), f32(S), o, f32(3 * R), Int32Array.from(used), f32(3 * R), R, S);
    };
    throwsExactly(() => call([1, 2, 4]), RangeError, 'composite: rayOffsets[0] must be 0, got 1');
    throwsExactly(() => call([0, 3, 2, 4]), RangeError, 'composite: rayOffsets must be non-decreasing (at index 2)');
    throwsExactly(() => call([0, 2, 9]), RangeError, 'composite: rayOffsets[R] must equal S = 4, got 9');
    throwsExactly(() => call([0, 2, 4], [2, 3]), RangeError, 'compositeBackward: samplesUsed[1] = 3 is outside [0, samples of the ray]');
  });

  test('valid calls with zero points succeed', () => {
    assert.equal(nat.gridSample3d(grid, 2, 3, 4, 2, f32(0), 0, 4).out.length, 0);
    assert.equal(nat.dense(f32(0), f32(6), f32(2), 0, 3, 2, 'none').y.length, 0);
  });
  describe('the scene of renderRays and densityAt is one object read by field name', () => {
    // A valid RenderRaysScene: G=1, B=2, A=2, C=1, F=0 (encA = 3, encV = 3), Hd = Hc = 1.
    const box = () => ({ min: Float32Array.from([-1, -1, -1]), max: Float32Array.from([1, 1, 1]) });
    const scene = (): Record<string, unknown> => ({
      occupancy: new Uint8Array(1), gridRes: 1, offsets: f32(24), offsetRes: 2, appearance: f32(8), appearanceRes: 2, channels: 1, frequencies: 0,
      densW0: f32(3), densB0: f32(1), densW1: f32(1), densB1: 0, colorW0: f32(6), colorB0: f32(1), colorW1: f32(3), colorB1: f32(3),
      densityHidden: 1, colorHidden: 1, motionBox: box(), appearanceBox: box(),
      step: 0.1, maxSamples: 8, stepDensity: 1, tEps: 0, weightEps: 0, background: f32(3),
    });
    /** renderRays on one ray with the scene's fields replaced (undefined deletes one), or with `edit` applied to it. */
    const render = (over: Record<string, unknown>, edit?: (s: Record<string, unknown>) => void) => {
      const s = scene();
      for (const [k, v] of Object.entries(over)) if (v === undefined) delete s[k]; else s[k] = v;
      edit?.(s);
      return () => nat.renderRays(f32(3), Float32Array.from([0, 0, 1]), 1, s as never, f32(3));
    };
    const density = (over: Record<string, unknown>, points = f32(6), sigma = f32(2)) =>
      () => nat.densityAt(points, 2, { ...scene(), ...over } as never, sigma);

    test('a valid scene renders, with or without transmittance, and fields it does not read are ignored', () => {
      const color = f32(3).fill(NaN), transmittance = f32(1).fill(NaN);
      const st = nat.renderRays(f32(3), Float32Array.from([0, 0, 1]), 1, { ...scene(), note: 'extra' } as never, color, transmittance);
      assert.deepEqual(st, { samples: 0, density: 0, shaded: 0 }, 'the one cell is empty');
      assert.deepEqual([...color, ...transmittance], [0, 0, 0, 1], 'the background, all of the ray left to it');
      assert.doesNotThrow(render({}));
      assert.doesNotThrow(density({}));
    });

    test('a missing field is a TypeError naming scene.<field>', () => {
      throwsExactly(render({ colorW0: undefined }), TypeError, 'renderRays: scene.colorW0 is missing');
      throwsExactly(render({ gridRes: undefined }), TypeError, 'renderRays: scene.gridRes is missing');
      throwsExactly(render({ motionBox: undefined }), TypeError, 'renderRays: scene.motionBox is missing');
      throwsExactly(render({}, (s) => delete (s['appearanceBox'] as Record<string, unknown>)['max']), TypeError, 'renderRays: scene.appearanceBox.max is missing');
      throwsExactly(density({ background: undefined }), TypeError, 'densityAt: scene.background is missing');
    });

    test('a field of the wrong type is a TypeError naming it', () => {
      throwsExactly(render({ occupancy: new Int8Array(1) }), TypeError, 'renderRays: scene.occupancy must be a Uint8Array');
      throwsExactly(render({ offsets: [0, 1] }), TypeError, 'renderRays: scene.offsets must be a Float32Array');
      throwsExactly(render({ gridRes: '1' }), TypeError, 'renderRays: scene.gridRes must be a number');
      throwsExactly(render({ densB1: null }), TypeError, 'renderRays: scene.densB1 must be a number');
      throwsExactly(render({ motionBox: f32(6) }), TypeError, 'renderRays: scene.motionBox must be an object');
      throwsExactly(render({ appearanceBox: { min: new Float64Array(3), max: f32(3) } }), TypeError, 'renderRays: scene.appearanceBox.min must be a Float32Array');
      throwsExactly(() => nat.renderRays(f32(3), f32(3), 1, null as never, f32(3)), TypeError, 'renderRays: scene must be an object');
      throwsExactly(() => nat.densityAt(f32(3), 1, [] as never, f32(1)), TypeError, 'densityAt: scene must be an object');
    });

    test('a field of the wrong length is a RangeError naming it and the expected size', () => {
      throwsExactly(render({ offsets: f32(23) }), RangeError, 'renderRays: scene.offsets has length 23, expected 24 (offsetRes^3*3)');
      throwsExactly(render({ occupancy: new Uint8Array(8) }), RangeError, 'renderRays: scene.occupancy has length 8, expected 1 (gridRes^3)');
      throwsExactly(render({ appearance: f32(16) }), RangeError, 'renderRays: scene.appearance has length 16, expected 8 (appearanceRes^3*channels)');
      throwsExactly(render({ colorW0: f32(5) }), RangeError, 'renderRays: scene.colorW0 has length 5, expected 6 (colorHidden*(encA+encV))');
      throwsExactly(render({ colorW1: f32(1) }), RangeError, 'renderRays: scene.colorW1 has length 1, expected 3 (3*colorHidden)');
      throwsExactly(render({ background: f32(4) }), RangeError, 'renderRays: scene.background has length 4, expected 3 (3)');
      // Sizes are read first: a larger frequency count makes the same weights too short.
      throwsExactly(render({ frequencies: 1 }), RangeError, 'renderRays: scene.densW0 has length 3, expected 9 (densityHidden*encA)');
      throwsExactly(render({ motionBox: { min: f32(2), max: f32(3) } }), RangeError, 'renderRays: scene.motionBox.min has length 2, expected 3 (3)');
      throwsExactly(density({ densW0: f32(2) }), RangeError, 'densityAt: scene.densW0 has length 2, expected 3 (densityHidden*encA)');
    });

    test('a box whose max does not exceed its min is a RangeError naming the box', () => {
      throwsExactly(render({ motionBox: { min: f32(3), max: Float32Array.from([1, 0, 1]) } }), RangeError, 'renderRays: scene.motionBox: max must exceed min on every axis');
      throwsExactly(render({ appearanceBox: { min: f32(3), max: Float32Array.from([1, 1, NaN]) } }), RangeError, 'renderRays: scene.appearanceBox: max must exceed min on every axis');
      throwsExactly(density({ appearanceBox: { min: box().max, max: box().min } }), RangeError, 'densityAt: scene.appearanceBox: max must exceed min on every axis');
    });

    test('sizes and parameters out of range are RangeErrors naming the field', () => {
      throwsExactly(render({ gridRes: 0 }), RangeError, 'renderRays: scene.gridRes must be a positive integer, got 0');
      throwsExactly(render({ offsetRes: 1.5 }), RangeError, 'renderRays: scene.offsetRes must be an integer, got 1.5');
      throwsExactly(render({ channels: 65 }), RangeError, 'renderRays: scene.channels must be at most 64, got 65');
      throwsExactly(render({ frequencies: 17 }), RangeError, 'renderRays: scene.frequencies must be at most 16, got 17');
      throwsExactly(render({ maxSamples: 2 ** 20 + 1 }), RangeError, 'renderRays: scene.maxSamples must be at most 1048576, got 1048577');
      throwsExactly(render({ step: 0 }), RangeError, 'renderRays: scene.step must be positive, got 0');
      throwsExactly(render({ stepDensity: -1 }), RangeError, 'renderRays: scene.stepDensity must be non-negative, got -1');
      throwsExactly(render({ densB1: NaN }), RangeError, 'renderRays: scene.densB1 must be finite, got NaN');
      throwsExactly(render({ tEps: Infinity }), RangeError, 'renderRays: scene.tEps must be finite, got Infinity');
    });

    test('the positional arguments around the scene keep their checks', () => {
      throwsExactly(() => nat.renderRays(f32(3), f32(3), 1, scene() as never, f32(4)), RangeError, 'renderRays: color has length 4, expected 3 (R*3)');
      throwsExactly(() => nat.renderRays(f32(3), f32(3), 1, scene() as never, f32(3), f32(2)), RangeError, 'renderRays: transmittance has length 2, expected 1 (R)');
      throwsExactly(() => (nat.renderRays as (...a: unknown[]) => unknown)(f32(3), f32(3), 1, scene()), TypeError, 'renderRays: expected 5-6 arguments, got 4');
      throwsExactly(density({}, f32(6), f32(3)), RangeError, 'densityAt: sigma has length 3, expected 2 (P)');
      throwsExactly(density({}, f32(5)), RangeError, 'densityAt: points has length 5, expected 6 (P*3)');
      throwsExactly(() => (nat.densityAt as (...a: unknown[]) => unknown)(f32(6), 2, scene(), f32(2), f32(2)), TypeError, 'densityAt: expected 4 arguments, got 5');
    });
  });

  test('bakeMotion checks its weights and output buffer', () => {
    // M=2, C=1, m=3, F=0: encM = 3; H = 2.
    const bake = (over: Record<number, unknown>) => {
      const args: unknown[] = [f32(8), 2, 1, 3, 0, f32(6), f32(2), f32(6), f32(3), 2, f32(81)];
      for (const [i, v] of Object.entries(over)) args[Number(i)] = v;
      return () => (nat.bakeMotion as (...a: unknown[]) => unknown)(...args);
    };
    assert.doesNotThrow(bake({}));
    throwsExactly(bake({ 10: f32(80) }), RangeError, 'bakeMotion: offsets has length 80, expected 81 (m^3*3)');
    throwsExactly(bake({ 0: f32(7) }), RangeError, 'bakeMotion: motion has length 7, expected 8 (M^3*C)');
    throwsExactly(bake({ 5: f32(4) }), RangeError, 'bakeMotion: W0 has length 4, expected 6 (H*3C(1+2F))');
    throwsExactly(bake({ 4: 17 }), RangeError, 'bakeMotion: F must be at most 16, got 17');
    throwsExactly(bake({ 6: new Float64Array(2) }), TypeError, 'bakeMotion: b0 must be a Float32Array');
  });
});
