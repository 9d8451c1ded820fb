// Render benchmark: one JSON line. The realtime preset (REALTIME) at 256 and 512 px, the
// renderer without approximations (StreamingRenderer defaults: bake factor 2, full-size
// rays, 1x steps) at 256 px measured in the same run as the baseline ratio, samples per
// cast ray, the share of the image's rays cast (only inside the avatar's projected
// bounds), native threads, and PSNR vs the exact model at 256 px for the preset and for
// each of its changes added one at a time. LIVE (what calls render with) is timed beside
// it at 256 px and in a 640x360 call frame (the call framing, composited onto an image
// under-layer as calls with plates are), with the ms of each stage of a frame.
// BENCH_LIVE_ONLY=1 measures only the 640x360 call frame (quick).
// With a dataset, held-out PSNR/SSIM against the ground truth at 256 px for REALTIME,
// LIVE (what a viewer sees) and REALTIME without its 1.5x ray steps.
// `node --import tsx test/engine/render.bench.ts [file.vxa [dataset]]`; without a file, a
// DEFAULT_CONFIG (production: E = 51, 64-wide heads, 64^3 appearance, 64 samples) avatar is
// trained on the synthetic scene for BENCH_TRAIN_S seconds (default 25).
import { cpuThreads } from '../../kernels/cpu';
import { DEFAULT_CONFIG } from '../../server/engine/AvatarModelTypes';
import { framingCamera } from '../../server/engine/Framing';
import { psnr } from '../../server/engine/Metrics';
import { LIVE, REALTIME, renderExact, type RendererOptions, StreamingRenderer } from '../../server/engine/Renderer';
import { rgbaToRgb, ssim } from '../../server/engine/Evaluate';
import { loadRealDataset } from '../../server/engine/RealDataset';
import { benchAvatar } from '../bench/benchAvatar';

const file = process.argv[2];
const model = benchAvatar(file);
const E = model.config.expressionCount;
// A smooth sequence (as a call's expression stream), so round-robin occupancy is exercised as in use.
const frames = Array.from({ length: 8 }, (_, i) => ({
  coefficients: Float32Array.from({ length: E }, (_, e) => (e < 2 ? 0.5 + 0.4 * Math.sin(0.3 * i + e) : 0.1 * Math.sin(0.3 * i + e))),
  pose: { rotation: [0.05 * Math.sin(0.3 * i), 0.15 * Math.cos(0.3 * i), 0], translation: [0, 0, 0], scale: 1 },
}));
const rgb = (a: Uint8Array) => Float32Array.from({ length: (a.length / 4) * 3 }, (_, i) => a[Math.floor(i / 3) * 4 + (i % 3)]! / 255);

function bench(px: number, n: number, o: Partial<RendererOptions>, height = px) {
  const r = new StreamingRenderer(model, { width: px, height, ...o });
  r.render(frames[0]!.coefficients, frames[0]!.pose);
  let samples = 0, shaded = 0, cast = 0;
  const stages = { bake: 0, occupancy: 0, rays: 0, upscale: 0 };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const f = frames[(i + 1) % frames.length]!;
    r.render(f.coefficients, f.pose);
    samples += r.lastStats.samples;
    shaded += r.lastStats.shadedSamples;
    cast += r.lastStats.rays;
    for (const k of Object.keys(stages) as (keyof typeof stages)[]) stages[k] += r.lastStats.stageMs[k];
  }
  const ms = (performance.now() - t0) / n, pixels = r.renderSize.width * r.renderSize.height;
  const stageMs = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, +(v / n).toFixed(2)]));
  return { ms, samplesPerRay: samples / Math.max(cast, 1), shadedPerRay: shaded / Math.max(cast, 1), raysCastShare: +(cast / n / pixels).toFixed(3), stageMs };
}

/** LIVE in the 640x360 call frame over a noise under-layer (the compositing path of avatars with plates). */
function callFrame(n: number) {
  const [w, h] = [640, 360], under = new Uint8Array(w * h * 3);
  for (let i = 0; i < under.length; i++) under[i] = (i * 2654435761) >>> 24;
  return bench(w, n, { ...LIVE, camera: framingCamera(model.config.camera, w, h), under: { kind: 'image', width: w, height: h, rgb: under } }, h);
}
if (process.env.BENCH_LIVE_ONLY === '1') {
  const c = callFrame(30);
  process.stdout.write(`${JSON.stringify({ bench: 'render', mode: 'LIVE 640x360 call frame', threads: cpuThreads(), ms640x360: +c.ms.toFixed(1), fps640x360: +(1000 / c.ms).toFixed(1),
    stageMs640x360: c.stageMs, raysCastShare640x360: c.raysCastShare, samplesPerRay: +c.samplesPerRay.toFixed(2) })}\n`);
  process.exit(0);
}

// Quality: render the whole sequence in order, PSNR of the last 3 frames vs the exact model.
const size = { width: 256, height: 256 };
const exact = frames.slice(5).map((f) => rgb(renderExact(model, f.coefficients, f.pose, size)));
function quality(o: Partial<RendererOptions>): number {
  const r = new StreamingRenderer(model, { ...size, ...o });
  let sum = 0;
  frames.forEach((f, i) => {
    const img = r.render(f.coefficients, f.pose);
    if (i >= 5) sum += psnr(exact[i - 5]!, rgb(img));
  });
  return +(sum / 3).toFixed(2);
}
const steps: [string, Partial<RendererOptions>][] = [
  ['default', {}],
  ['+bakeFactor1', { bakeFactor: 1 }],
  ['+weightEps', { bakeFactor: 1, weightEps: REALTIME.weightEps! }],
  ['+occupancySlices', { bakeFactor: 1, weightEps: REALTIME.weightEps!, occupancySlices: REALTIME.occupancySlices! }],
  ['+renderScale', { ...REALTIME, stepScale: 1 }],
  ['+stepScale(=REALTIME)', REALTIME],
  ['LIVE', LIVE],
];
const psnrVsExact = Object.fromEntries(steps.map(([k, o]) => [k, quality(o)]));

const prev = bench(256, 4, {}), b256 = bench(256, 20, REALTIME), b512 = bench(512, 6, REALTIME), live = bench(256, 20, LIVE);
const live640x360 = callFrame(20);

/** Held-out frames of a dataset against their ground truth at 256 px. */
async function groundTruth(dir: string | undefined) {
  if (!dir) return undefined;
  const ds = await loadRealDataset(dir, model.config, { res: 256 });
  const score = (o: Partial<RendererOptions>) => {
    const r = new StreamingRenderer(model, { width: 256, height: 256, ...o });
    let p = 0, s = 0;
    for (const f of ds.test) {
      const img = rgbaToRgb(r.render(f.coefficients, f.pose));
      p += psnr(img, f.image);
      s += ssim(img, f.image, 256, 256);
    }
    return { psnr: +(p / ds.test.length).toFixed(2), ssim: +(s / ds.test.length).toFixed(4) };
  };
  // The ray-step change alone, so its cost against the ground truth is measured too.
  return { frames: ds.test.length, REALTIME: score(REALTIME), LIVE: score(LIVE), realtimeStep1: score({ ...REALTIME, stepScale: 1 }) };
}
const heldOut256 = await groundTruth(process.argv[3]);
process.stdout.write(`${JSON.stringify({
  bench: 'render', mode: 'REALTIME', options: REALTIME,
  config: { E, motionRes: model.config.motionRes, appearanceRes: model.config.appearanceRes, hidden: model.config.colorHidden, samplesPerRayMax: model.config.samplesPerRay },
  ms256: +b256.ms.toFixed(1), ms512: +b512.ms.toFixed(1), fps256: +(1000 / b256.ms).toFixed(1), stageMs256: b256.stageMs,
  samplesPerRay256: +b256.samplesPerRay.toFixed(2), shadedPerRay256: +b256.shadedPerRay.toFixed(2), samplesPerRay512: +b512.samplesPerRay.toFixed(2),
  raysCastShare256: b256.raysCastShare,
  threads: cpuThreads(), defaultMs256: Math.round(prev.ms), speedupVsDefault: +(prev.ms / b256.ms).toFixed(1),
  psnrVsExact256: psnrVsExact,
  live: { options: LIVE, ms256: +live.ms.toFixed(1), fps256: +(1000 / live.ms).toFixed(1), stageMs256: live.stageMs, samplesPerRay256: +live.samplesPerRay.toFixed(2), speedupVsRealtime: +(b256.ms / live.ms).toFixed(2),
    ms640x360: +live640x360.ms.toFixed(1), stageMs640x360: live640x360.stageMs, raysCastShare640x360: live640x360.raysCastShare },
  ...(heldOut256 ? { heldOut256 } : {}),
})}\n`);
