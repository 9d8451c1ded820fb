import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAvatar, encodeAvatar } from '../../server/engine/AvatarFile';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { psnr } from '../../server/engine/Metrics';
import { LIVE, REALTIME, render, renderExact, StreamingRenderer } from '../../server/engine/Renderer';
import { syntheticFrames, type SyntheticFrame } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { SYNTH_CONFIG } from './modelFixtures';

const size = { width: 64, height: 64 };
const rgb = (a: Uint8Array) => Float32Array.from({ length: (a.length / 4) * 3 }, (_, i) => a[Math.floor(i / 3) * 4 + (i % 3)]! / 255);
let model: AvatarModel;
let held: SyntheticFrame[];

describe('Renderer on a briefly trained avatar', () => {
  before(() => {
    // 250 steps (~25 s), counted rather than timed so the model, and so the measured PSNRs,
    // do not depend on machine speed; the comparisons need a non-trivial deformation.
    const train = syntheticFrames(SYNTH_CONFIG, { width: 48, height: 48, frames: 30, seed: 1 });
    const trainer = new Trainer(AvatarModel.create(SYNTH_CONFIG, 1), train, { width: 48, height: 48, raysPerStep: 1024 });
    trainer.train({ maxSteps: 250 });
    model = trainer.model;
    held = syntheticFrames(SYNTH_CONFIG, { width: 64, height: 64, frames: 2, seed: 2 });
  });

  test('fp16 grids in the avatar file change the exact render by less than 1/2 of a grey level', () => {
    const half = decodeAvatar(encodeAvatar(model));
    for (const f of held) {
      const a = rgb(renderExact(model, f.coefficients, f.pose, size)), b = rgb(renderExact(half, f.coefficients, f.pose, size));
      const p = psnr(a, b);
      process.stderr.write(`${JSON.stringify({ fp16VsFp32Psnr: p })}\n`);
      // Measured 78-83 dB; 60 dB is already below one 8-bit step of RMS error.
      assert.ok(p > 60, `fp16 vs fp32 ${p} dB`);
    }
  });

  test('the inference form matches the exact model: occupancy exact to 55 dB, baked motion to 33 dB', () => {
    const fast = new StreamingRenderer(model, size), untermed = new StreamingRenderer(model, { ...size, tEps: 0 }), bakeOnly = new StreamingRenderer(model, { ...size, noOccupancy: true, tEps: 0 });
    const coarse = new StreamingRenderer(model, { ...size, noOccupancy: true, tEps: 0, bakeFactor: 1 });
    for (const f of held) {
      const exact = rgb(renderExact(model, f.coefficients, f.pose, size));
      const inf = rgb(fast.render(f.coefficients, f.pose)), baked = rgb(bakeOnly.render(f.coefficients, f.pose));
      const coarseP = psnr(exact, rgb(coarse.render(f.coefficients, f.pose)));
      const m = { inferenceVsExact: psnr(exact, inf), bakeOnly: psnr(exact, baked), occupancyOnly: psnr(baked, inf), bakeFactor1: coarseP, vsGroundTruth: psnr(inf, f.image) };
      process.stderr.write(`${JSON.stringify(m)}\n`);
      // Measured for this model: see the report line (35.5 and 37.8 dB at 250 steps; 38-46 dB for other training lengths: the
      // deformation sharpens with training), bake factor 1 about 6 dB lower, occupancy ~64 dB.
      assert.ok(m.occupancyOnly > 55, `occupancy/early termination ${m.occupancyOnly} dB`);
      assert.ok(m.inferenceVsExact > 33, `inference vs exact ${m.inferenceVsExact} dB`);
      assert.ok(m.bakeOnly > coarseP, 'a finer bake is closer to the exact model');
      untermed.render(f.coefficients, f.pose);
      const kept = untermed.lastStats.samples;
      assert.ok(fast.lastStats.samples < kept && fast.lastStats.shadedSamples < kept, `early termination stops the march (${fast.lastStats.samples} of ${kept}) and the colour work`);
    }
  });

  test('each realtime approximation stays within its measured cost against the exact model', () => {
    const base = new StreamingRenderer(model, size);
    const steps = {
      bake1: new StreamingRenderer(model, { ...size, bakeFactor: 1 }),
      weightEps: new StreamingRenderer(model, { ...size, bakeFactor: 1, weightEps: REALTIME.weightEps! }),
      realtime: new StreamingRenderer(model, { ...size, ...REALTIME }),
    };
    for (const f of held) {
      const exact = rgb(renderExact(model, f.coefficients, f.pose, size));
      const m: Record<string, number> = { defaultVsExact: psnr(exact, rgb(base.render(f.coefficients, f.pose))) };
      for (const [k, r] of Object.entries(steps)) m[`${k}VsExact`] = psnr(exact, rgb(r.render(f.coefficients, f.pose)));
      process.stderr.write(`${JSON.stringify(m)}\n`);
      // Measured on this 32-wide, motionRes-16 model at 64 px: default 35.5 dB, bake factor 1
      // 30.5 dB, weightEps 2e-3 -0.01 dB, half-resolution rays + upscale 27.5 dB (a 32 px
      // render of a 64 px image: the cost is larger here than at 256 px, see the bench).
      // Occupancy slices lag only across a sequence, not measured by this per-frame test.
      assert.ok(m.defaultVsExact! > 33, `default vs exact ${m.defaultVsExact} dB`);
      assert.ok(m.bake1VsExact! > 28, `bake factor 1 vs exact ${m.bake1VsExact} dB`);
      assert.ok(m.weightEpsVsExact! > m.bake1VsExact! - 0.5, `weightEps costs ${m.bake1VsExact! - m.weightEpsVsExact!} dB`);
      assert.ok(m.realtimeVsExact! > 25, `realtime vs exact ${m.realtimeVsExact} dB`);
    }
    assert.equal(steps.realtime.renderSize.width, 32);
  });

  test('rays are cast only inside the avatar\'s projected bounds, and the picture is the same as casting every ray', () => {
    // A 16:9 call frame: the head fills the height, the sides are background.
    const wide = { width: 112, height: 63 };
    const bounded = new StreamingRenderer(model, { ...wide, ...LIVE, occupancySlices: 1 });
    const everyRay = new StreamingRenderer(model, { ...wide, ...LIVE, occupancySlices: 1, noOccupancy: true });
    for (const f of held) {
      const a = bounded.render(f.coefficients, f.pose).slice();
      const share = bounded.lastStats.rays / bounded.lastStats.pixels;
      const b = everyRay.render(f.coefficients, f.pose);
      const p = psnr(rgb(b), rgb(a));
      process.stderr.write(`${JSON.stringify({ raysCastShare: share, boundedVsEveryRay: p })}\n`);
      assert.equal(everyRay.lastStats.rays, everyRay.lastStats.pixels);
      assert.ok(share > 0.1 && share < 0.85, `rays cast on ${(share * 100).toFixed(1)}% of the pixels`);
      // noOccupancy also marches the empty cells, so the two could differ by samples in cells
      // whose density is below the occupancy threshold: measured identical (Infinity dB) here, with
      // rays cast on 72-74% of the pixels.
      assert.ok(p > 40, `bounded vs every ray ${p} dB`);
    }
    // A head turned away to the side moves its bounds, not the picture's content: the
    // bounds follow the pose (a translated head is still fully inside them).
    const f = held[0]!, moved = { ...f.pose, translation: [0.6, 0, 0] };
    const a = rgb(bounded.render(f.coefficients, moved)), b = rgb(everyRay.render(f.coefficients, moved));
    assert.ok(psnr(b, a) > 40, 'a translated head is rendered whole');
  });

  test('the live preset (half-resolution rays, termination at transmittance 1e-2) costs at most half a dB against the ground truth', () => {
    const big = { width: 256, height: 256 };
    const frames = syntheticFrames(SYNTH_CONFIG, { ...big, frames: 2, seed: 2 });
    const realtime = new StreamingRenderer(model, { ...big, ...REALTIME }), live = new StreamingRenderer(model, { ...big, ...LIVE });
    for (const f of frames) {
      const gtRealtime = psnr(f.image, rgb(realtime.render(f.coefficients, f.pose)));
      const gtLive = psnr(f.image, rgb(live.render(f.coefficients, f.pose)));
      process.stderr.write(`${JSON.stringify({ gtRealtime, gtLive })}\n`);
      // Measured: 28.79 / 29.86 dB for LIVE vs 28.98 / 30.08 for REALTIME (-0.2 dB) on this
      // briefly trained synthetic avatar; the real KatieHill avatar loses nothing measurable.
      assert.ok(gtLive > gtRealtime - 0.5, `LIVE ${gtLive.toFixed(2)} dB vs REALTIME ${gtRealtime.toFixed(2)} dB against the ground truth`);
      assert.ok(gtLive < gtRealtime + 0.5);
    }
    assert.equal(live.renderSize.width, 128, 'one ray per two output pixels per axis');
  });

  test('the streaming renderer reuses its output buffer and is deterministic', () => {
    const r = new StreamingRenderer(model, size), f = held[0]!;
    const a = r.render(f.coefficients, f.pose), copy = a.slice();
    const b = r.render(held[1]!.coefficients, held[1]!.pose);
    assert.equal(a, b, 'same buffer');
    assert.notDeepEqual(copy, b.slice(), 'different frames differ');
    assert.deepEqual(r.render(f.coefficients, f.pose), copy);
    const once = render(model, f.coefficients, f.pose, size);
    assert.equal(once.length, 64 * 64 * 4);
    assert.deepEqual(once, copy);
  });

  test('rejects bad sizes and coefficient counts', () => {
    assert.throws(() => new StreamingRenderer(model, { width: 0, height: 4 }), new RangeError('renderer: width and height must be positive integers, got 0x4'));
    assert.throws(() => new StreamingRenderer(model, size).render(new Float32Array(5), held[0]!.pose), new RangeError('render: expected 2 coefficients, got 5'));
  });
});
