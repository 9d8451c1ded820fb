// Render benchmark: one JSON line with ms per frame at 256 and 512 px for the inference
// form, samples per ray, native threads, and the exact model's time at 256 px measured in
// the same run (the baseline ratio). Avatar: `node --import tsx test/engine/render.bench.ts [file.vxav]`,
// else a synthetic-scene avatar trained here for 15 s (SYNTH_CONFIG).
import { cpuThreads } from '../../kernels/cpu';
import { readAvatarFile } from '../../server/engine/AvatarFile';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { renderExact, StreamingRenderer } from '../../server/engine/Renderer';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { SYNTH_CONFIG } from './modelFixtures';

const file = process.argv[2];
let model: AvatarModel;
if (file) model = readAvatarFile(file);
else {
  process.stderr.write('training a 15 s synthetic avatar for the benchmark...\n');
  const train = syntheticFrames(SYNTH_CONFIG, { width: 48, height: 48, frames: 30, seed: 1 });
  const t = new Trainer(AvatarModel.create(SYNTH_CONFIG, 1), train, { width: 48, height: 48, raysPerStep: 1024 });
  t.train({ maxMs: 15_000 });
  model = t.model;
}
const E = model.config.expressionCount;
const frames = Array.from({ length: 8 }, (_, i) => ({
  coefficients: Float32Array.from({ length: E }, (_, e) => 0.5 + 0.4 * Math.sin(i + e)),
  pose: { rotation: [0.05 * Math.sin(i), 0.15 * Math.cos(i), 0], translation: [0, 0, 0], scale: 1 },
}));

function bench(px: number, n: number) {
  const r = new StreamingRenderer(model, { width: px, height: px });
  r.render(frames[0]!.coefficients, frames[0]!.pose);
  let samples = 0, shaded = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const f = frames[i % frames.length]!;
    r.render(f.coefficients, f.pose);
    samples += r.lastStats.samples;
    shaded += r.lastStats.shadedSamples;
  }
  const ms = (performance.now() - t0) / n;
  return { ms, samplesPerRay: samples / n / (px * px), shadedPerRay: shaded / n / (px * px) };
}

const b256 = bench(256, 10), b512 = bench(512, 3);
const t0 = performance.now();
renderExact(model, frames[0]!.coefficients, frames[0]!.pose, { width: 256, height: 256 });
const exactMs = performance.now() - t0;
process.stdout.write(`${JSON.stringify({
  bench: 'render', config: { E, motionRes: model.config.motionRes, appearanceRes: model.config.appearanceRes, hidden: model.config.colorHidden, samplesPerRayMax: model.config.samplesPerRay },
  ms256: +b256.ms.toFixed(1), ms512: +b512.ms.toFixed(1), fps256: +(1000 / b256.ms).toFixed(1),
  samplesPerRay256: +b256.samplesPerRay.toFixed(2), shadedPerRay256: +b256.shadedPerRay.toFixed(2), samplesPerRay512: +b512.samplesPerRay.toFixed(2),
  threads: cpuThreads(), exactMs256: Math.round(exactMs), speedupVsExact: +(exactMs / b256.ms).toFixed(1),
})}\n`);
