// GPU render benchmark: one JSON line. N avatar sessions on one GPU device (one
// GpuContext, as the GPU render host holds), each a GpuStreamingRenderer with the LIVE
// preset in the call framing, every session's next frame drawn each tick by one
// GpuFrameBatch, as the host draws them (two queue submissions a tick for all N, one
// readback of all probes, one of all frames; the submissions counted on the queue);
// ms per tick and per frame for each N, the adapter's name, and the CPU backend's LIVE
// frame at the same size in the same run (the baseline: ratio = CPU ms / GPU ms per
// frame at N = 1). The first frame of each backend is compared (PSNR) so a fast wrong
// answer cannot pass for a result.
//
// `npm run bench:render-gpu -- [--avatars 1,8,32,128] [--size 640x360] [--frames 20]
//  [--avatar file.vxa] [--allow-software] [--render-scale s] [--step-scale s] [--t-eps e]`
// (the last three override LIVE's); without a file, a DEFAULT_CONFIG avatar is
// trained on the synthetic scene for BENCH_TRAIN_S seconds (default 25). On a software
// adapter (SwiftShader, about 1 GFLOP/s: correctness only) the run is reduced to 1 and 2
// avatars at 96x54 and 2 frames unless sizes are given.
import { parseArgs } from 'node:util';
import { GpuContext } from '../../kernels/wgsl/GpuContext';
import { passTimesByOp } from '../../kernels/wgsl/GpuPassTimes';
import type { HeadPose } from '../../server/engine/AvatarModelTypes';
import { framingCamera } from '../../server/engine/Framing';
import { GpuFrameBatch } from '../../server/engine/GpuFrameBatch';
import { GpuStreamingRenderer } from '../../server/engine/GpuRenderer';
import { psnr } from '../../server/engine/Metrics';
import { LIVE, type RendererOptions, StreamingRenderer } from '../../server/engine/Renderer';
import { benchAvatar } from './benchAvatar';

const { values: args } = parseArgs({
  options: {
    avatars: { type: 'string' }, size: { type: 'string' }, frames: { type: 'string' },
    avatar: { type: 'string' }, 'allow-software': { type: 'boolean', default: false },
    // LIVE's settings overridden, to see what a frame's GPU time follows (rays, samples a ray, termination).
    'render-scale': { type: 'string' }, 'step-scale': { type: 'string' }, 't-eps': { type: 'string' },
  },
});

const ctx = await GpuContext.create({ allowSoftware: args['allow-software'], label: 'bench', passTimes: true });
if (!ctx) {
  process.stderr.write(`bench:render-gpu: no ${args['allow-software'] ? '' : 'hardware '}GPU adapter (on SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json and --allow-software)\n`);
  process.exit(2);
}
const software = ctx.adapter.software;
const counts = (args.avatars ?? (software ? '1,2' : '1,8,32,128')).split(',').map(Number);
const [width, height] = (args.size ?? (software ? '96x54' : '640x360')).split('x').map(Number) as [number, number];
const frameCount = Number(args.frames ?? (software ? 2 : 20));
if (!counts.every((n) => Number.isInteger(n) && n >= 1 && n <= 1024) || !(width > 0 && height > 0) || !(frameCount >= 1))
  throw new RangeError(`bench:render-gpu: bad --avatars/--size/--frames (${JSON.stringify(args)})`);

const model = benchAvatar(args.avatar);

const E = model.config.expressionCount;
/** A call's smooth expression and pose stream; avatar `a` runs it with its own phase. */
function frameAt(i: number, a: number): { coefficients: Float32Array; pose: HeadPose } {
  const p = 0.3 * i + 0.7 * a;
  return {
    coefficients: Float32Array.from({ length: E }, (_, e) => (e < 2 ? 0.5 + 0.4 * Math.sin(p + e) : 0.1 * Math.sin(p + e))),
    pose: { rotation: [0.05 * Math.sin(p), 0.15 * Math.cos(p), 0], translation: [0, 0, 0], scale: 1 },
  };
}
const rgb = (a: Uint8Array) => Float32Array.from({ length: (a.length / 4) * 3 }, (_, i) => a[Math.floor(i / 3) * 4 + (i % 3)]! / 255);
const preset = { ...LIVE };
for (const [flag, key] of [['render-scale', 'renderScale'], ['step-scale', 'stepScale'], ['t-eps', 'tEps']] as const) {
  const v = args[flag];
  if (v === undefined) continue;
  const x = Number(v);
  if (!(x > 0 && x <= 16)) throw new RangeError(`bench:render-gpu: --${flag} must be a number in (0, 16], got ${v}`);
  preset[key] = x;
}
const options: RendererOptions = { width, height, camera: framingCamera(model.config.camera, width, height), ...preset };

// The CPU baseline: the same frames on the native kernels, in this process.
const cpu = new StreamingRenderer(model, options);
const cpuFirst = cpu.render(frameAt(0, 0).coefficients, frameAt(0, 0).pose).slice();
let t0 = performance.now();
for (let i = 1; i <= frameCount; i++) cpu.render(frameAt(i, 0).coefficients, frameAt(i, 0).pose);
const cpuMs = (performance.now() - t0) / frameCount;

// Every submission the device's queue takes (the host counts them the same way).
const queue = ctx.device.queue, queueSubmit = queue.submit;
let submissions = 0;
queue.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
  submissions++;
  return queueSubmit.call(this, buffers);
};
const batch = new GpuFrameBatch(ctx, 'bench batch');

const runs: {
  avatars: number; msPerTick: number; msPerFrame: number; fpsPerAvatar: number; submissionsPerTick: number;
  stageMs: { bake: number; occupancy: number; rays: number; upscale: number }; raysPerFrame: number; samplesPerFrame: number;
  /** One timed tick's GPU ms by op (summed over the sessions) and its first-to-last span. */
  gpuMsByOp: Record<string, number>; gpuSpanMs: number;
}[] = [];
let matchPsnr = NaN;
for (const n of counts) {
  const renderers = Array.from({ length: n }, () => new GpuStreamingRenderer(ctx, model, options));
  try {
    // Warm-up (pipelines compile once per device; occupancy starts afresh after it).
    await Promise.all(renderers.map((r) => r.warmUp(frameAt(0, 0).pose)));
    const first = await renderers[0]!.render(frameAt(0, 0).coefficients, frameAt(0, 0).pose);
    if (Number.isNaN(matchPsnr)) matchPsnr = psnr(rgb(first), rgb(cpuFirst));
    t0 = performance.now();
    const submittedBefore = submissions;
    const stage = { bake: 0, occupancy: 0, rays: 0, upscale: 0 };
    let raysPerFrame = 0, samplesPerFrame = 0;
    for (let i = 1; i <= frameCount; i++) {
      await batch.render(renderers.map((renderer, a) => ({ renderer, ...frameAt(i, a) })));
      const s = renderers[0]!.lastStats;
      for (const k of Object.keys(stage) as (keyof typeof stage)[]) stage[k] += s.stageMs[k] / frameCount;
      raysPerFrame += s.rays / frameCount;
      samplesPerFrame += s.samples / frameCount;
    }
    const msPerTick = (performance.now() - t0) / frameCount, submissionsPerTick = (submissions - submittedBefore) / frameCount;
    // One more tick with every pass timed on the device (after the timed ticks: the
    // timestamp writes are not in their figures): GPU ms a tick by op, and the span.
    let gpuMsByOp: Record<string, number> = {}, gpuSpanMs = NaN;
    if (ctx.passTimes) {
      ctx.passTimes.start();
      await batch.render(renderers.map((renderer, a) => ({ renderer, ...frameAt(frameCount + 1, a) })));
      const timed = await ctx.passTimes.stop();
      gpuMsByOp = Object.fromEntries(passTimesByOp(timed.passes, ctx.label).map((o) => [o.op, o.ms]));
      gpuSpanMs = timed.spanMs;
    }
    runs.push({
      gpuMsByOp, gpuSpanMs,
      avatars: n, msPerTick, msPerFrame: msPerTick / n, fpsPerAvatar: 1000 / msPerTick, submissionsPerTick,
      // Where a tick's time goes (the batch's own split: encoding phase 1, waiting for its
      // probes and merging them, encoding phase 2, waiting for the frames), and the work.
      stageMs: stage, raysPerFrame, samplesPerFrame,
    });
    process.stderr.write(`  GPU ms a tick by op: ${JSON.stringify(gpuMsByOp, (_k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}, span ${gpuSpanMs.toFixed(2)} ms\n`);
    process.stderr.write(`${n} avatar(s): ${msPerTick.toFixed(1)} ms per tick, ${(msPerTick / n).toFixed(2)} ms per frame; stages ${JSON.stringify(stage, (_k, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}; ${raysPerFrame.toFixed(0)} rays, ${(samplesPerFrame / Math.max(1, raysPerFrame)).toFixed(1)} samples a ray\n`);
  } finally {
    for (const r of renderers) r.close();
  }
}
batch.close();
ctx.close();

const round = (v: number, d = 2) => Number(v.toFixed(d));
console.log(JSON.stringify({
  bench: 'render-gpu', adapter: ctx.adapter.description, vendor: ctx.adapter.vendor, software, size: `${width}x${height}`, frames: frameCount,
  preset: { renderScale: preset.renderScale, stepScale: preset.stepScale, tEps: preset.tEps },
  // Figures from a software adapter prove the path runs; they say nothing about a GPU's speed.
  speedFiguresCount: !software,
  cpuMsPerFrame: round(cpuMs), gpuVsCpuFirstFramePsnr: Number.isFinite(matchPsnr) ? round(matchPsnr) : 'identical',
  runs: runs.map((r) => ({ avatars: r.avatars, msPerTick: round(r.msPerTick), msPerFrame: round(r.msPerFrame), fpsPerAvatar: round(r.fpsPerAvatar, 1), submissionsPerTick: r.submissionsPerTick,
    stageMs: Object.fromEntries(Object.entries(r.stageMs).map(([k, v]) => [k, round(v)])), raysPerFrame: Math.round(r.raysPerFrame), samplesPerRay: round(r.samplesPerFrame / Math.max(1, r.raysPerFrame), 1),
    gpuMsByOp: Object.fromEntries(Object.entries(r.gpuMsByOp).map(([k, v]) => [k, round(v, 3)])), gpuSpanMs: Number.isFinite(r.gpuSpanMs) ? round(r.gpuSpanMs) : null })),
  baselineRatio: runs[0] ? round(cpuMs / runs[0].msPerFrame) : null,
}));
