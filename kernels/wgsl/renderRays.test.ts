// What is specific to the GPU path of renderRays/densityAt (the shared suite, through
// wgsl.test.ts, checks the ops themselves): a resident GpuScene across frames, the stats
// buffer, buffers bound at the rays' count, the heads' width limit, close(). On
// SwiftShader (about 1 GFLOP/s), so the scenes are the suite's small ones.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RenderRaysScene, RenderRaysStats } from '../KernelsTypes';
import { densityAtRef, renderRaysRef } from '../reference/render';
import { randomRays, randomScene } from '../suite/render.suite';
import { assertClose, rng, uniform } from '../testUtil';
import type { GpuContext } from './GpuContext';
import { GpuScene, maxGpuHidden } from './GpuScene';
import { encodeDensityAt, encodeRenderRays, readRenderRaysStats, renderRaysOnGpu } from './renderRays';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();

/** The parts of a scene a frame changes, drawn at random (the suite's scenes have Hd = 5, Hc = 19, B = 5, G = 6). */
function otherFrame(s: RenderRaysScene, seed: number): RenderRaysScene {
  const rand = rng(seed), occupancy = new Uint8Array(s.occupancy.length);
  for (let i = 0; i < occupancy.length; i++) occupancy[i] = rand() < 0.7 ? 1 : 0;
  return {
    ...s, occupancy, offsets: uniform(s.offsets.length, -0.1, 0.1, rand), densB0: uniform(s.densityHidden, -0.1, 0.6, rand),
    colorB0: uniform(s.colorHidden, -0.3, 0.3, rand), background: Float32Array.from([0.1, 0.5, 0.3]),
  };
}

function assertStats(actual: RenderRaysStats, expected: RenderRaysStats, what: string): void {
  // float32 against the reference's float64: a ray may cross tEps a sample apart, as `shaded` may.
  assert.equal(actual.samples, actual.density, `${what}: the march stops where the shading stops`);
  assert.ok(Math.abs(actual.density - expected.density) <= 2, `${what}: density ${actual.density} vs ${expected.density}`);
  assert.ok(Math.abs(actual.shaded - expected.shaded) <= 2, `${what}: shaded ${actual.shaded} vs ${expected.shaded}`);
}

function runTests(ctx: GpuContext): void {
  const submit = (label: string, encode: (encoder: GPUCommandEncoder) => void) => {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${label}` });
    encode(encoder);
    ctx.device.queue.submit([encoder.finish()]);
  };
  const floats = async (buffer: GPUBuffer, n: number) => new Float32Array(await ctx.read(buffer, 4 * n));

  test('a resident GpuScene renders two frames in a row, each against its own biases, offsets, occupancy and background (nothing stale)', async () => {
    const R = 200, P = 40, { origins, dirs } = randomRays(R, 4), points = uniform(3 * P, -1.4, 1.4, rng(11));
    const frames = [randomScene(2), otherFrame(randomScene(2), 12)];
    const scene = GpuScene.create(ctx, frames[0]!, 'two-frame scene');
    const rays = { origins: ctx.upload('test origins', origins), dirs: ctx.upload('test dirs', dirs), count: R };
    const pointBuffer = ctx.upload('test points', points);
    const out = frames.map((_, f) => ({
      color: ctx.storage(`test color ${f}`, 12 * R), transmittance: ctx.storage(`test transmittance ${f}`, 4 * R),
      stats: ctx.storage(`test stats ${f}`, 12), sigma: ctx.storage(`test sigma ${f}`, 4 * P),
    }));
    try {
      // Both frames submitted before any readback, as a call's renderer does.
      frames.forEach((frame, f) => {
        if (f > 0) {
          scene.writeFrame(frame);
          scene.writeOffsets(frame.offsets);
          scene.writeOccupancy(frame.occupancy);
        }
        submit(`frame ${f}`, (encoder) => {
          encodeDensityAt(ctx, encoder, scene, { points: pointBuffer, count: P }, out[f]!.sigma);
          encodeRenderRays(ctx, encoder, scene, rays, out[f]!);
        });
      });
      const refColors: Float32Array[] = [];
      for (const [f, frame] of frames.entries()) {
        const color = new Float32Array(3 * R), t = new Float32Array(R), sigma = new Float32Array(P);
        const expected = renderRaysRef(origins, dirs, frame, color, t);
        densityAtRef(points, frame, sigma);
        refColors.push(color);
        assertClose(await floats(out[f]!.color, 3 * R), color, { abs: 2e-4, rel: 0 }, `frame ${f} color`);
        assertClose(await floats(out[f]!.transmittance, R), t, { abs: 2e-4, rel: 0 }, `frame ${f} transmittance`);
        assertClose(await floats(out[f]!.sigma, P), sigma, { abs: 1e-4, rel: 1e-4 }, `frame ${f} densityAt`);
        assertStats(await readRenderRaysStats(ctx, out[f]!.stats), expected, `frame ${f}`);
      }
      let change = 0;
      for (let i = 0; i < 3 * R; i++) change = Math.max(change, Math.abs(refColors[0]![i]! - refColors[1]![i]!));
      assert.ok(change > 0.1, `the two frames differ (by up to ${change}), so a stale frame would show`);
    } finally {
      scene.close();
      for (const b of [rays.origins, rays.dirs, pointBuffer, ...out.flatMap((o) => Object.values(o))]) b.destroy();
    }
  });

  test('encodeRenderRays renders exactly rays.count rays from longer buffers, clears its stats buffer each dispatch, and a zero direction is a miss', async () => {
    const n = 120, R = 90, { origins, dirs } = randomRays(n, 9);
    dirs.fill(0, 0, 3);
    const s = randomScene(2, { stepDensity: 3, tEps: 0.05 }), scene = GpuScene.create(ctx, s, 'count scene');
    const sentinel = new Float32Array(3 * n).fill(-7);
    const rays = { origins: ctx.upload('test origins', origins), dirs: ctx.upload('test dirs', dirs), count: R };
    const color = ctx.upload('test color', sentinel), stats = ctx.storage('test stats', 12);
    try {
      // Twice into one stats buffer: it holds the last dispatch's counts, not their sum.
      submit('count', (encoder) => {
        encodeRenderRays(ctx, encoder, scene, rays, { color, stats });
        encodeRenderRays(ctx, encoder, scene, rays, { color, stats });
      });
      const got = await floats(color, 3 * n), expected = new Float32Array(3 * R);
      const refStats = renderRaysRef(origins.subarray(0, 3 * R), dirs.subarray(0, 3 * R), s, expected);
      assertClose(got.subarray(0, 3 * R), expected, { abs: 2e-4, rel: 0 }, 'the first rays.count rays');
      assert.deepEqual([...got.subarray(0, 3)], [...s.background], 'a zero direction composites to the background');
      assert.ok(got.subarray(3 * R).every((v) => v === -7), 'rays past rays.count are not written');
      assertStats(await readRenderRaysStats(ctx, stats), refStats, 'stats');
      assert.ok(refStats.shaded > 50, `the rays shade samples (${refStats.shaded})`);
    } finally {
      scene.close();
      for (const b of [rays.origins, rays.dirs, color, stats]) b.destroy();
    }
  });

  test(`heads ${maxGpuHidden} wide match the reference; ${maxGpuHidden + 1} is a RangeError naming the limit`, async () => {
    const rand = rng(21), encA = 45, encV = 15;
    const wide = (H: number): Partial<RenderRaysScene> => ({
      densityHidden: H, colorHidden: H, densW0: uniform(H * encA, -0.15, 0.15, rand), densB0: uniform(H, -0.1, 0.2, rand),
      densW1: uniform(H, -0.3, 0.6, rand), colorW0: uniform(H * (encA + encV), -0.1, 0.1, rand), colorB0: uniform(H, -0.1, 0.1, rand),
      colorW1: uniform(3 * H, -0.3, 0.3, rand),
    });
    const R = 60, { origins, dirs } = randomRays(R, 4), s = randomScene(2, wide(maxGpuHidden));
    const got = new Float32Array(3 * R), expected = new Float32Array(3 * R);
    const st = await renderRaysOnGpu(ctx, origins, dirs, s, got), sr = renderRaysRef(origins, dirs, s, expected);
    assertClose(got, expected, { abs: 2e-4, rel: 0 }, `${maxGpuHidden}-wide heads`);
    assertStats(st, sr, `${maxGpuHidden}-wide heads`);
    assert.ok(sr.shaded > 50, `the wide heads shade samples (${sr.shaded})`);
    const tooWide = randomScene(2, wide(maxGpuHidden + 1));
    const message = `GpuScene: densityHidden must be at most ${maxGpuHidden} on the GPU (each thread holds a head's hidden layer), got ${maxGpuHidden + 1}`;
    assert.throws(() => GpuScene.create(ctx, tooWide), { name: 'RangeError', message });
    await assert.rejects(renderRaysOnGpu(ctx, origins, dirs, tooWide, got), { name: 'RangeError', message });
  });

  test('GpuScene labels its buffers, scenes of one shape share their shader source, close() is idempotent, and a closed scene refuses work with InvalidStateError', () => {
    const scene = GpuScene.create(ctx, randomScene(3), 'closing scene');
    for (const b of [scene.params, scene.frame, scene.tensors, scene.occupancy, scene.offsets]) assert.match(b.label, /^test closing scene /);
    const same = GpuScene.create(ctx, randomScene(4), 'same shape'), other = GpuScene.create(ctx, randomScene(4, { frequencies: 1, densW0: new Float32Array(5 * 27), colorW0: new Float32Array(19 * 36) }), 'other shape');
    assert.equal(same.shapeWgsl, scene.shapeWgsl, 'one pipeline serves every avatar of a shape');
    assert.notEqual(other.shapeWgsl, scene.shapeWgsl);
    assert.throws(() => GpuScene.create(ctx, randomScene(4, { frequencies: 1 })), { name: 'RangeError', message: 'GpuScene: densW0 has length 225, expected 135 (Hd*encA)' });
    same.close();
    other.close();
    scene.close();
    scene.close();
    assert.equal(scene.isClosed, true);
    const message = 'InvalidStateError: GpuScene closing scene is closed';
    const encoder = ctx.device.createCommandEncoder({ label: 'test closed encoder' });
    const buffer = ctx.storage('test unused', 12);
    try {
      assert.throws(() => encodeRenderRays(ctx, encoder, scene, { origins: buffer, dirs: buffer, count: 1 }, { color: buffer }), { message });
      assert.throws(() => encodeDensityAt(ctx, encoder, scene, { points: buffer, count: 1 }, buffer), { message });
      assert.throws(() => scene.writeFrame(randomScene(3)), { message });
    } finally {
      buffer.destroy();
    }
  });
}

if (ctx) {
  after(() => ctx.close());
  runTests(ctx);
} else {
  // CI installs chromium (its SwiftShader ICD), so there this is a failure, not a skip.
  test('the WGSL backend finds a Vulkan adapter', { skip: process.env['CI'] ? false : 'no Vulkan adapter here' }, () => {
    throw new Error('no Vulkan adapter: install Debian\'s chromium (SwiftShader ICD) or set VK_ICD_FILENAMES');
  });
}
