// bakeMotion on the GPU beyond the shared suite: the call's way of running it (blended on
// the GPU, baked from the resident volume into a resident offsets buffer, several avatars
// and frames in one submission) and its size limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeformMlp } from '../KernelsTypes';
import { cpuKernels } from '../cpu';
import { bakeMotionRef } from '../reference/bake';
import { blendVolumesRef } from '../reference/blend';
import { assertClose, rng, uniform } from '../testUtil';
import { bakeMotionLimits, bakeMotionOnGpu, encodeBakeMotion, type BakeMotionDims } from './bakeMotion';
import { encodeBlendVolumes } from './blendVolumes';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();
// The shared suite's bakeMotion tolerance.
const tol = { abs: 1e-5, rel: 1e-4 };

function deformMlp(seed: number, C: number, F: number, H: number): DeformMlp {
  const rand = rng(seed), enc = 3 * C * (1 + 2 * F);
  return {
    frequencies: F, hidden: H, W0: uniform(H * enc, -0.5, 0.5, rand), b0: uniform(H, -0.3, 0.3, rand),
    W1: uniform(3 * H, -1, 1, rand), b1: uniform(3, -0.2, 0.2, rand),
  };
}

/** An avatar's motion model and deformation MLP, resident on the GPU as a call keeps them. */
function residentAvatar(seed: number, E: number, M: number, C: number, F: number, H: number, m: number) {
  const rand = rng(seed), V = M ** 3 * C, deform = deformMlp(seed + 1, C, F, H);
  const mean = uniform(V, -1, 1, rand), bases = uniform(E * V, -0.5, 0.5, rand);
  const g = ctx!;
  const buffers = {
    mean: g.upload(`avatar ${seed} motion mean`, mean), bases: g.upload(`avatar ${seed} motion bases`, bases),
    motion: g.storage(`avatar ${seed} motion`, 4 * V), W0: g.upload(`avatar ${seed} W0`, deform.W0), b0: g.upload(`avatar ${seed} b0`, deform.b0),
    W1: g.upload(`avatar ${seed} W1`, deform.W1), b1: g.upload(`avatar ${seed} b1`, deform.b1), offsets: g.storage(`avatar ${seed} offsets`, 12 * m ** 3),
  };
  const dims: BakeMotionDims = { motionRes: M, channels: C, bakeRes: m, frequencies: F, hidden: H };
  return {
    buffers, dims,
    /** blendVolumes then bakeMotion for one frame's coefficients, into `encoder`. */
    encodeFrame(encoder: GPUCommandEncoder, coeff: Float32Array) {
      const coeffBuffer = g.upload(`avatar ${seed} coefficients`, coeff);
      encodeBlendVolumes(g, encoder, { mean: buffers.mean, bases: buffers.bases, coeff: coeffBuffer, out: buffers.motion }, E, V);
      encodeBakeMotion(g, encoder, buffers, dims);
    },
    /** The float64 reference of the same frame: blendVolumes, then bakeMotion of its float32 result. */
    expected(coeff: Float32Array): Float32Array {
      const out = new Float32Array(3 * m ** 3);
      bakeMotionRef(Float32Array.from(blendVolumesRef(mean, bases, coeff)), { d: M, h: M, w: M, c: C }, m, deform, out);
      return out;
    },
    destroy: () => Object.values(buffers).forEach((b) => b.destroy()),
  };
}

describe('bakeMotion on the GPU', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());

  test('blend then bake of two avatars and two frames in one submission on resident buffers equal the float64 reference', async () => {
    const g = ctx!, E = 6;
    // The model's deformation MLP width (64) and an odd one; bake grids finer and coarser than the volume.
    const a = residentAvatar(1, E, 9, 2, 4, 64, 13), b = residentAvatar(2, E, 5, 3, 2, 23, 4);
    const rand = rng(3), frame1 = uniform(E, 0, 1, rand), frame2 = uniform(E, 0, 1, rand), frameB = uniform(E, 0, 1, rand);
    const snapshot = g.storage('frame 1 offsets snapshot', a.buffers.offsets.size);
    const queue = g.device.queue, submit = queue.submit.bind(queue);
    let submissions = 0;
    queue.submit = (commands) => { submissions++; submit(commands); };
    try {
      const encoder = g.device.createCommandEncoder({ label: 'test two avatars encoder' });
      a.encodeFrame(encoder, frame1);
      // What reads the offsets later in the submission (renderRays in a call) sees frame 1...
      encoder.copyBufferToBuffer(a.buffers.offsets, 0, snapshot, 0, snapshot.size);
      b.encodeFrame(encoder, frameB);
      // ...and the next frame overwrites them in place.
      a.encodeFrame(encoder, frame2);
      assert.equal(submissions, 0, 'encoding submits nothing');
      queue.submit([encoder.finish()]);
      assert.equal(submissions, 1);
    } finally {
      queue.submit = submit;
    }
    const bytes = 12 * 13 ** 3;
    const [got1, got2, gotB] = await Promise.all([g.read(snapshot, bytes), g.read(a.buffers.offsets, bytes), g.read(b.buffers.offsets, 12 * 4 ** 3)]);
    const want1 = a.expected(frame1), want2 = a.expected(frame2);
    assert.ok(want1.some((v, i) => Math.abs(v - want2[i]!) > 1e-3), 'the two frames bake to different offsets');
    assertClose(new Float32Array(got1), want1, tol, 'avatar A frame 1');
    assertClose(new Float32Array(got2), want2, tol, 'avatar A frame 2');
    assertClose(new Float32Array(gotB), b.expected(frameB), tol, 'avatar B');
    a.destroy();
    b.destroy();
    snapshot.destroy();
  });

  test('sizes outside the limits are RangeErrors naming the limit', () => {
    const g = ctx!, a = residentAvatar(4, 2, 3, 2, 1, 8, 2);
    const encoder = g.device.createCommandEncoder({ label: 'test limits encoder' });
    const run = (dims: Partial<BakeMotionDims>) => () => encodeBakeMotion(g, encoder, a.buffers, { ...a.dims, ...dims });
    assert.deepEqual(bakeMotionLimits, { channels: 64, frequencies: 16, bakeRes: 1024, hidden: 64 });
    assert.throws(run({ hidden: 65 }), { name: 'RangeError', message: /^bakeMotion: hidden must be an integer in \[1, 64\] \(the hidden units are one thread's accumulators\), got 65$/ });
    assert.throws(run({ channels: 65 }), { name: 'RangeError', message: /^bakeMotion: channels must be an integer in \[1, 64\], got 65$/ });
    assert.throws(run({ frequencies: 17 }), { name: 'RangeError', message: /^bakeMotion: frequencies must be an integer in \[0, 16\], got 17$/ });
    assert.throws(run({ bakeRes: 1025 }), { name: 'RangeError', message: /^bakeMotion: bakeRes must be an integer in \[1, 1024\], got 1025$/ });
    assert.throws(run({ bakeRes: 2.5 }), { name: 'RangeError', message: /bakeRes must be an integer/ });
    assert.throws(run({ motionRes: 0 }), { name: 'RangeError', message: /^bakeMotion: motionRes must be a positive integer, got 0$/ });
    // Within the op's limits but not one binding's: 12 GiB of offsets at m = 1024.
    const limit = g.device.limits.maxStorageBufferBindingSize;
    assert.throws(run({ bakeRes: 1024 }), { name: 'RangeError', message: new RegExp(`^bakeMotion: offsets needs 12884901888 bytes, over the device's maxStorageBufferBindingSize \\(${limit}\\)$`) });
    // Buffers smaller than the dims say are caught here, not as a GPU validation error later.
    assert.throws(run({ bakeRes: 3 }), { name: 'RangeError', message: /^bakeMotion: the offsets buffer holds 96 bytes, the bake needs 324$/ });
    assert.throws(run({ hidden: 9 }), { name: 'RangeError', message: /^bakeMotion: the W0 buffer holds 576 bytes, the bake needs 648$/ });
    a.destroy();
  });

  test('the adapter checks the volume is a cube and every length, as the CPU op does', async () => {
    const g = ctx!, d = deformMlp(5, 2, 1, 4), motion = new Float32Array(27 * 2);
    await assert.rejects(bakeMotionOnGpu(g, motion, { d: 3, h: 3, w: 2, c: 2 }, 2, d, new Float32Array(24)),
      { name: 'RangeError', message: 'bakeMotion: the motion volume must be a cube, got 3x3x2' });
    await assert.rejects(bakeMotionOnGpu(g, motion, { d: 3, h: 3, w: 3, c: 2 }, 2, d, new Float32Array(23)),
      { name: 'RangeError', message: 'bakeMotion: offsets has length 23, expected 24 (m^3*3)' });
    await assert.rejects(bakeMotionOnGpu(g, motion, { d: 3, h: 3, w: 3, c: 2 }, 2, { ...d, b0: new Float32Array(3) }, new Float32Array(24)),
      { name: 'RangeError', message: 'bakeMotion: b0 has length 3, expected 4 (H)' });
  });

  test('at the limits (C = 64, F = 16, hidden 64) the bake runs and agrees with the CPU op', async () => {
    // Both ops take the octaves by the double-angle recurrence, which doubles a rounding
    // error at each of 16 octaves: measured 2e-2 from the float64 reference for either op
    // here, but 2.3e-5 between them.
    const M = 3, C = 64, F = 16, H = 64, m = 2, shape = { d: M, h: M, w: M, c: C };
    const motion = uniform(M ** 3 * C, -2, 2, rng(6)), d = deformMlp(7, C, F, H);
    const gpu = new Float32Array(3 * m ** 3), cpu = new Float32Array(3 * m ** 3);
    await bakeMotionOnGpu(ctx!, motion, shape, m, d, gpu);
    cpuKernels.bakeMotion(motion, shape, m, d, cpu);
    assert.ok(cpu.some((v) => Math.abs(v) > 0.05), 'offsets are not all near zero');
    assertClose(gpu, cpu, { abs: 1e-3, rel: 1e-4 }, 'bakeMotion at the limits');
  });
});
