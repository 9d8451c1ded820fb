// The distortion loss's gradient on the GPU (kernels/wgsl/distortion) against the CPU
// trainer's (server/engine/DistortionLoss.ts, in doubles: the reference). It lives in test/
// because kernels/ may not import server/, not even in a test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { distortionInputs, distortionLoss } from '../../server/engine/DistortionLoss';
import { rng, uniform } from '../../kernels/testUtil';
import { encodeDistortionBackward } from '../../kernels/wgsl/distortion';
import { openTestGpu } from '../../kernels/wgsl/testGpu';

const ctx = await openTestGpu();

/**
 * R rays as a march leaves them: random origins and unnormalised directions, samples at
 * whole steps along each ray with gaps (skipped empty cells), random density (a quarter
 * negative, so relu's zero gradient is used), early termination at a random sample.
 */
function marchedRays(seed: number, R: number, step: number) {
  const rand = rng(seed), offsets = new Int32Array(R + 1), used = new Int32Array(R);
  for (let r = 0; r < R; r++) offsets[r + 1] = offsets[r]! + Math.floor(rand() * 40);
  const S = offsets[R]!, positions = new Float32Array(3 * S), dirs = uniform(3 * R, -1, 1, rand);
  for (let r = 0; r < R; r++) {
    const n = offsets[r + 1]! - offsets[r]!, o = uniform(3, -1, 1, rand);
    used[r] = rand() < 0.3 ? n : Math.floor(rand() * (n + 1));
    const norm = Math.hypot(dirs[3 * r]!, dirs[3 * r + 1]!, dirs[3 * r + 2]!);
    let k = rand() * 3;
    for (let i = offsets[r]!; i < offsets[r + 1]!; i++) {
      k += rand() < 0.2 ? 1 + Math.floor(rand() * 4) : 1;
      for (let c = 0; c < 3; c++) positions[3 * i + c] = o[c]! + (dirs[3 * r + c]! / norm) * k * step;
    }
  }
  const sigma = uniform(S, -2, 6, rand), deltas = uniform(S, 0.02, 0.4, rand);
  return { R, S, offsets, used, positions, dirs, sigma, deltas };
}

describe('the distortion loss\'s gradient on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  if (!ctx) return;

  test('adds into dSigma what the CPU trainer adds, over rays with gaps, early termination and negative density', async () => {
    const step = 0.0125, weight = 0.3, x = marchedRays(91, 96, step);
    const initial = uniform(x.S, -1, 1, rng(92));
    const want = Float32Array.from(initial);
    const cpu = distortionInputs({ sigma: x.sigma, deltas: x.deltas, rayOffsets: x.offsets, positions: x.positions, rayDirs: x.dirs, composite: { samplesUsed: x.used } }, step);
    assert.ok(distortionLoss(cpu, weight, want) > 0.1, 'the rays\' distortion is too small to test anything');
    const b = {
      sigma: ctx.upload('test sigma', x.sigma), delta: ctx.upload('test delta', x.deltas), positions: ctx.upload('test positions', x.positions),
      dirs: ctx.upload('test dirs', x.dirs), rayOffsets: ctx.upload('test offsets', x.offsets), samplesUsed: ctx.upload('test used', x.used),
      dSigma: ctx.upload('test dSigma', initial),
    };
    const encoder = ctx.device.createCommandEncoder({ label: 'test distortion encoder' });
    encodeDistortionBackward(ctx, encoder, b, { rays: x.R, samples: x.S, weight, step });
    ctx.device.queue.submit([encoder.finish()]);
    const got = new Float32Array(await ctx.read(b.dSigma, 4 * x.S));
    for (const buffer of Object.values(b)) buffer.destroy();
    let changed = 0, worst = 0, scale = 0;
    for (let i = 0; i < x.S; i++) {
      const added = want[i]! - initial[i]!;
      scale = Math.max(scale, Math.abs(added));
      if (added !== 0) changed++;
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    assert.ok(changed > x.S / 4, `only ${changed} of ${x.S} samples get a distortion gradient`);
    // float32 on the GPU against doubles: within 1e-4 of the largest gradient added.
    assert.ok(worst <= 1e-4 * scale + 1e-7, `worst difference ${worst} against gradients up to ${scale}`);
    const beyond = x.offsets.findIndex((o, r) => r < x.R && x.used[r]! < x.offsets[r + 1]! - o);
    const tail = x.offsets[beyond]! + x.used[beyond]!;
    assert.equal(got[tail], initial[tail], 'a sample after termination keeps its dSigma');
  });

  test('checks its dimensions and buffers, and a zero weight encodes nothing', () => {
    const small = ctx.storage('test small', 4), encoder = ctx.device.createCommandEncoder({ label: 'test distortion limits' });
    const b = { sigma: small, delta: small, positions: small, dirs: small, rayOffsets: small, samplesUsed: small, dSigma: small };
    assert.throws(() => encodeDistortionBackward(ctx, encoder, b, { rays: 1, samples: 1, weight: 1, step: 0.01 }),
      { name: 'RangeError', message: 'distortionBackward: the positions buffer holds 4 bytes, the op needs 12' });
    assert.throws(() => encodeDistortionBackward(ctx, encoder, b, { rays: 0, samples: 0, weight: -1, step: 0.01 }),
      { name: 'RangeError', message: 'distortionBackward: weight must be a finite number >= 0, got -1' });
    assert.throws(() => encodeDistortionBackward(ctx, encoder, b, { rays: 0, samples: 0, weight: 1, step: 0 }),
      { name: 'RangeError', message: 'distortionBackward: step must be a finite number > 0, got 0' });
    const big = ctx.storage('test big', 64);
    encodeDistortionBackward(ctx, encoder, { ...b, positions: big, dirs: big, sigma: big, delta: big, dSigma: big, rayOffsets: big, samplesUsed: big }, { rays: 2, samples: 2, weight: 0, step: 0.01 });
    encoder.finish();
    small.destroy(); big.destroy();
  });
});
