// The GPU check's timing part, one function (timeRenderRays): renderRays on a scene of the
// product's sizes (DEFAULT_CONFIG: 65^3 x 4 appearance, 64-wide heads, 32^3 occupancy,
// 65^3 baked offsets) for 1, 8, 32 and 128 concurrent avatars, and the CPU backend on the
// same scene in the same run. A stand-in until bench:render-gpu exists: each avatar's
// frame is one call of the Kernels-shaped op (upload scene and rays, one submission, read
// the colour back), all of a tick's calls in flight together.
import type { InferenceKernels, RenderRaysScene } from '../../kernels/KernelsTypes';
import { uniform } from '../../kernels/testUtil';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { modelDims } from '../../server/engine/AvatarModel';
import { DEFAULT_CONFIG } from '../../server/engine/AvatarModelTypes';
import { cameraRays } from '../../server/engine/Pose';
import { compare } from './opChecks';

export interface TimingOptions {
  readonly width: number;
  readonly height: number;
  readonly avatarCounts: readonly number[];
  /** Wall time the whole timing part may take; counts that would not fit are skipped. */
  readonly budgetMs: number;
  readonly log?: (line: string) => void;
}

export interface TickTiming {
  readonly avatars: number;
  readonly ticks?: number;
  /** Wall time of one tick (every avatar's frame), averaged over the ticks. */
  readonly msPerTick?: number;
  readonly msPerAvatarFrame?: number;
  /** Avatars this path would hold at 30 fps, from msPerTick (linear). */
  readonly avatarsAt30fps?: number;
  readonly skipped?: string;
  readonly error?: string;
}

export interface TimingReport {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly rays: number;
  readonly scene: Record<string, number>;
  /** Bytes each call uploads (scene tensors and rays). */
  readonly uploadBytesPerFrame: number;
  readonly cpu: { readonly msPerFrame: number; readonly frames: number; readonly samplesPerRay: number; readonly shadedPerRay: number } | { readonly error: string } | null;
  /** The GPU's first frame against the CPU backend's (colour, max abs difference). */
  readonly maxAbsDiffVsCpu: number | null;
  readonly gpu: readonly TickTiming[];
  readonly error?: string;
}

/**
 * A scene of the product's sizes with random tensors shaped like a trained head's: an
 * occupied ellipsoid (30% of the occupancy grid), density heads that make rays entering
 * it opaque, small baked offsets. At 320x180 (cpuKernels, measured here): 16.7 k of the
 * 57.6 k rays meet it, with 33 kept samples and 8.8 shaded per such ray (a trained KatieHill
 * avatar: 26.3 and 11.4 per cast ray, docs/engine.md), counted before renderRays' march
 * stopped at termination (its `samples` now count only the samples marched).
 */
export function realisticScene(seed = 1): RenderRaysScene {
  const c = DEFAULT_CONFIG, d = modelDims(c), rand = seededRandom(seed);
  const A = c.appearanceRes + 1, C = c.appearanceChannels, G = c.occupancyRes, B = 2 * c.motionRes + 1;
  const Hd = c.densityHidden, Hc = c.colorHidden;
  const occupancy = new Uint8Array(G * G * G);
  for (let z = 0; z < G; z++)
    for (let y = 0; y < G; y++)
      for (let x = 0; x < G; x++) {
        const u = (i: number) => ((i + 0.5) / G) * 2 - 1;
        occupancy[(z * G + y) * G + x] = (u(x) / 0.8) ** 2 + (u(y) / 0.9) ** 2 + (u(z) / 0.8) ** 2 <= 1 ? 1 : 0;
      }
  const box = (b: { min: readonly number[]; max: readonly number[] }) => ({ min: Float32Array.from(b.min), max: Float32Array.from(b.max) });
  return {
    occupancy, gridRes: G, offsets: uniform(B * B * B * 3, -0.02, 0.02, rand), offsetRes: B,
    appearance: uniform(A * A * A * C, -1, 1, rand), appearanceRes: A, channels: C, frequencies: c.frequencies,
    densW0: uniform(Hd * d.encA, -0.3, 0.3, rand), densB0: uniform(Hd, -0.2, 0.2, rand), densW1: uniform(Hd, -0.5, 0.5, rand), densB1: 1,
    colorW0: uniform(Hc * (d.encA + d.encV), -0.3, 0.3, rand), colorB0: uniform(Hc, -0.2, 0.2, rand),
    colorW1: uniform(3 * Hc, -0.5, 0.5, rand), colorB1: uniform(3, -0.2, 0.2, rand), densityHidden: Hd, colorHidden: Hc,
    motionBox: box(c.motionBox), appearanceBox: box(c.appearanceBox),
    step: d.step, maxSamples: d.maxSamples, stepDensity: d.step * c.densityScale, tEps: 1e-3, weightEps: 0,
    background: Float32Array.of(1, 1, 1),
  };
}

function sceneBytes(s: RenderRaysScene): number {
  return Object.values(s).reduce<number>((n, v) => n + (ArrayBuffer.isView(v) ? v.byteLength : 0), 0) + 4 * (6 + 6);
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** renderRays per frame on the CPU backend and per tick of N concurrent avatars on `gpu`. */
export async function timeRenderRays(gpu: InferenceKernels, cpu: InferenceKernels | null, o: TimingOptions): Promise<TimingReport> {
  const log = o.log ?? (() => {});
  const start = performance.now(), left = () => o.budgetMs - (performance.now() - start);
  const scene = realisticScene(), rays = o.width * o.height;
  const { origins, dirs } = cameraRays(DEFAULT_CONFIG.camera, o.width, o.height);
  const base = {
    path: 'Kernels.renderRays per avatar (uploads scene and rays, one submission, reads the colour back); a tick awaits all avatars',
    width: o.width, height: o.height, rays,
    scene: {
      appearanceRes: scene.appearanceRes, channels: scene.channels, frequencies: scene.frequencies, densityHidden: scene.densityHidden,
      colorHidden: scene.colorHidden, gridRes: scene.gridRes, offsetRes: scene.offsetRes, maxSamples: scene.maxSamples,
    },
    uploadBytesPerFrame: sceneBytes(scene) + origins.byteLength + dirs.byteLength,
  };

  let cpuReport: TimingReport['cpu'] = null, cpuColor: Float32Array | null = null;
  if (cpu) {
    try {
      cpuColor = new Float32Array(3 * rays);
      const first = await cpu.renderRays(origins, dirs, scene, cpuColor);
      // A tenth of the budget at most, 2 to 10 frames.
      let frames = 0;
      const t0 = performance.now(), scratch = new Float32Array(3 * rays);
      while (frames < 2 || (frames < 10 && performance.now() - t0 < o.budgetMs / 10)) {
        await cpu.renderRays(origins, dirs, scene, scratch);
        frames++;
      }
      cpuReport = { msPerFrame: round((performance.now() - t0) / frames), frames, samplesPerRay: round(first.samples / rays), shadedPerRay: round(first.shaded / rays) };
      log(`cpu: ${cpuReport.msPerFrame} ms per ${o.width}x${o.height} frame (${cpuReport.samplesPerRay} samples, ${cpuReport.shadedPerRay} shaded per ray)`);
    } catch (err) {
      cpuReport = { error: message(err) };
      cpuColor = null;
    }
  }

  const gpuColor = new Float32Array(3 * rays);
  try {
    await gpu.renderRays(origins, dirs, scene, gpuColor);
  } catch (err) {
    log(`gpu: renderRays failed: ${message(err)}`);
    return { ...base, cpu: cpuReport, maxAbsDiffVsCpu: null, gpu: [], error: message(err) };
  }
  const maxAbsDiffVsCpu = cpuColor ? compare(gpuColor, cpuColor, { abs: 0, rel: 0 }).maxAbsError : null;

  const colors: Float32Array[] = [];
  const tick = (n: number) => {
    while (colors.length < n) colors.push(new Float32Array(3 * rays));
    return Promise.all(colors.slice(0, n).map((c) => gpu.renderRays(origins, dirs, scene, c)));
  };
  const timings: TickTiming[] = [];
  let perAvatarMs = 0;
  for (const n of o.avatarCounts) {
    // Skip what would not fit: a warm-up tick and two timed ones at the last count's cost per avatar.
    const predicted = 3 * n * perAvatarMs;
    if (perAvatarMs > 0 && predicted > left()) {
      timings.push({ avatars: n, skipped: `predicted ${Math.round(predicted)} ms, ${Math.round(left())} ms of the budget left` });
      log(`gpu: ${n} avatars skipped (predicted ${Math.round(predicted)} ms)`);
      continue;
    }
    try {
      await tick(n);
      let ticks = 0;
      const t0 = performance.now();
      while (ticks < 2 || (ticks < 20 && performance.now() - t0 < Math.min(2000, left() / 4))) {
        await tick(n);
        ticks++;
      }
      const msPerTick = (performance.now() - t0) / ticks;
      perAvatarMs = msPerTick / n;
      timings.push({ avatars: n, ticks, msPerTick: round(msPerTick), msPerAvatarFrame: round(perAvatarMs, 3), avatarsAt30fps: round((n * 1000) / 30 / msPerTick, 1) });
      log(`gpu: ${n} avatars: ${round(msPerTick)} ms per tick (${ticks} ticks)`);
    } catch (err) {
      timings.push({ avatars: n, error: message(err) });
      break;
    }
  }
  return { ...base, cpu: cpuReport, maxAbsDiffVsCpu, gpu: timings };
}
