/**
 * GpuFrameBatch in-process on SwiftShader: a tick of several avatar sessions on one
 * device goes out in the same number of queue submissions as a tick of one (counted on
 * the device's queue itself), its frames equal each session rendered alone and the CPU
 * backend's, and a tick may start while the previous tick's frames are still coming back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { readAvatarFileContents } from '../../server/engine/AvatarFile';
import type { AvatarModel } from '../../server/engine/AvatarModel';
import type { HeadPose } from '../../server/engine/AvatarModelTypes';
import { framingCamera } from '../../server/engine/Framing';
import { GpuFrameBatch } from '../../server/engine/GpuFrameBatch';
import { GpuStreamingRenderer } from '../../server/engine/GpuRenderer';
import { psnr } from '../../server/engine/Metrics';
import { LIVE, type RendererOptions, StreamingRenderer } from '../../server/engine/Renderer';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';

const ctx = await openTestGpu();
const W = 64, H = 36;

function toFloat(rgba: Uint8Array): Float32Array {
  const out = new Float32Array((rgba.length / 4) * 3);
  for (let p = 0, o = 0; p < rgba.length; p += 4) for (let c = 0; c < 3; c++) out[o++] = rgba[p + c]! / 255;
  return out;
}

/** Session `s`'s face at frame `i`: its own expression and head turn. */
function input(s: number, i: number): { coefficients: Float32Array; pose: HeadPose } {
  const p = 0.9 * s + 0.5 * i;
  return {
    coefficients: Float32Array.from([0.5 + 0.45 * Math.sin(p), 0.5 + 0.45 * Math.cos(p)]),
    pose: { rotation: [0.05 * Math.sin(p), 0.2 * Math.cos(p), 0], translation: [0, 0, 0], scale: 1 },
  };
}

/** Counts the device queue's submissions (the real queue's, whoever calls it). */
function countSubmissions(gpu: GpuContext): { readonly count: number; restore(): void } {
  const queue = gpu.device.queue, original = queue.submit;
  let count = 0;
  queue.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
    count++;
    return original.call(this, buffers);
  };
  return { get count() { return count; }, restore: () => { queue.submit = original; } };
}

describe('GpuFrameBatch: many sessions\' frames in one tick on one device', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  let model: AvatarModel;
  let options: RendererOptions;
  before(() => {
    model = readAvatarFileContents(syntheticAvatarFile()).model;
    options = { width: W, height: H, camera: framingCamera(model.config.camera, W, H), under: { kind: 'colour', rgb: [0.16, 0.44, 0.59] }, ...LIVE };
  });
  after(() => ctx?.close());

  test('three sessions take the same two submissions a tick as one, and their frames equal each session alone and the CPU backend\'s', async (t) => {
    const gpu = ctx!;
    const batch = new GpuFrameBatch(gpu, 'test batch');
    const together = [0, 1, 2].map(() => new GpuStreamingRenderer(gpu, model, options));
    const alone = [0, 1, 2].map(() => new GpuStreamingRenderer(gpu, model, options));
    const cpu = [0, 1, 2].map(() => new StreamingRenderer(model, options));
    const counter = countSubmissions(gpu);
    try {
      const perTick: number[] = [];
      for (let i = 0; i < 3; i++) {
        const before = counter.count;
        const tick = await batch.submit(together.map((renderer, s) => ({ renderer, ...input(s, i) })));
        const frames = (await tick.frames).map((f) => f.slice());
        perTick.push(counter.count - before);
        assert.equal(tick.submissions, counter.count - before, 'the batch counts what the queue saw');
        for (const [s, frame] of frames.entries()) {
          const single = await alone[s]!.render(input(s, i).coefficients, input(s, i).pose);
          assert.deepEqual(frame, single, `session ${s} frame ${i}: batched equals alone`);
          const reference = cpu[s]!.render(input(s, i).coefficients, input(s, i).pose);
          const score = psnr(toFloat(frame), toFloat(reference));
          t.diagnostic(`session ${s} frame ${i}: GPU batch vs CPU ${score.toFixed(1)} dB`);
          assert.ok(score >= 40, `session ${s} frame ${i} matches the CPU backend: ${score.toFixed(2)} dB`);
        }
        assert.notDeepEqual(frames[0], frames[1], 'the sessions draw different faces');
      }
      // One session's tick, counted the same way.
      const before = counter.count;
      await (await batch.submit([{ renderer: together[0]!, ...input(0, 3) }])).frames;
      const single = counter.count - before;
      t.diagnostic(`queue submissions per tick: 3 sessions ${perTick.join(', ')}; 1 session ${single}`);
      assert.deepEqual(perTick, [2, 2, 2]);
      assert.equal(single, 2);
    } finally {
      counter.restore();
      batch.close();
      for (const r of [...together, ...alone]) r.close();
    }
  });

  test('a tick starts while the previous tick\'s frames come back, and a session with a frame in flight is refused', async () => {
    const gpu = ctx!;
    const batch = new GpuFrameBatch(gpu, 'test batch');
    const [a, b, c] = [0, 1, 2].map(() => new GpuStreamingRenderer(gpu, model, options)) as [GpuStreamingRenderer, GpuStreamingRenderer, GpuStreamingRenderer];
    const check = [0, 1, 2].map(() => new GpuStreamingRenderer(gpu, model, options));
    try {
      const first = await batch.submit([{ renderer: a, ...input(0, 0) }]);
      await assert.rejects(batch.submit([{ renderer: a, ...input(0, 1) }]), { name: 'InvalidStateError', message: 'GpuFrameBatch: a renderer already has a frame in flight' });
      const second = await batch.submit([{ renderer: b, ...input(1, 0) }, { renderer: c, ...input(2, 0) }]);
      const [fa] = await first.frames;
      const [fb, fc] = await second.frames;
      for (const [s, frame] of [fa!, fb!, fc!].entries()) assert.deepEqual(frame, await check[s]!.render(input(s, 0).coefficients, input(s, 0).pose), `session ${s}`);
      // Free again once its frame is back.
      assert.equal((await batch.render([{ renderer: a, ...input(0, 1) }])).length, 1);
    } finally {
      batch.close();
      for (const r of [a, b, c, ...check]) r.close();
    }
  });

  test('a session closed between a tick\'s phases keeps its buffers until the tick lands: the other sessions\' frames are whole', async () => {
    const gpu = ctx!;
    const batch = new GpuFrameBatch(gpu, 'test batch');
    const [a, b] = [0, 1].map(() => new GpuStreamingRenderer(gpu, model, options)) as [GpuStreamingRenderer, GpuStreamingRenderer];
    const check = new GpuStreamingRenderer(gpu, model, options);
    try {
      // submit() runs to its probe readback before returning: the close lands between the phases.
      const submitted = batch.submit([{ renderer: a, ...input(0, 0) }, { renderer: b, ...input(1, 0) }]);
      a.close();
      const [, fb] = await (await submitted).frames;
      assert.deepEqual(fb, await check.render(input(1, 0).coefficients, input(1, 0).pose), 'b\'s frame is drawn');
      assert.equal(a.isClosed, true);
      await assert.rejects(a.render(input(0, 1).coefficients, input(0, 1).pose), /renderer closed/);
    } finally {
      batch.close();
      for (const r of [a, b, check]) r.close();
    }
  });
});
