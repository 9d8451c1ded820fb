// The GPU check's training part (timeTraining): GpuTrainer on the synthetic head scene
// (the machine has no dataset), held-out PSNR every `evalEvery` steps, until a "usable"
// bar (max(18 dB, the mean training image's PSNR + 1.5): the onboarding's bar before it
// read the face, kept here because the synthetic scene has no face oval for
// snapshotVerdict.ts's face SSIM, its figures in docs/gpu.md were measured on it, and the
// product's square-only rule, +0 dB, would say little) or the budget. Reports ms per
// step (training only: the evaluations are timed apart) and the time to usable. On
// SwiftShader a tiny run proves the path (correctness only, never speed); a figure
// counts only from a real GPU.
// `node --import tsx scripts/gpu-check/trainTiming.ts [WxH] [rays] [budgetS] [config]`
// runs it alone on VK_ICD_FILENAMES's adapter (software allowed).
import { GpuContext } from '../../kernels/wgsl/GpuContext';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { type AvatarConfig, DEFAULT_CONFIG, FAST_CONFIG } from '../../server/engine/AvatarModelTypes';
import { GpuTrainer } from '../../server/engine/GpuTrainer';
import { meanImage, psnr } from '../../server/engine/Metrics';
import { syntheticFrames } from '../../server/engine/SyntheticScene';

export interface TrainTimingOptions {
  readonly config: AvatarConfig;
  readonly width: number;
  readonly height: number;
  readonly raysPerStep: number;
  readonly budgetMs: number;
  /** Synthetic frames, the last 4 held out (default 24): rendering them is CPU work, 34 s for 4 at 256 px on this 2-core machine. */
  readonly frames?: number;
  /** Steps between held-out evaluations (default 25). */
  readonly evalEvery?: number;
  readonly log?: (line: string) => void;
}

export interface TrainTimingReport {
  readonly width: number;
  readonly height: number;
  readonly raysPerStep: number;
  readonly config: { readonly appearanceRes: number; readonly motionRes: number; readonly expressionCount: number; readonly colorHidden: number };
  readonly usablePsnr: number;
  readonly baselinePsnr: number;
  readonly steps: number;
  /** Training wall time per step (march readback included; evaluations excluded). */
  readonly msPerStep: number;
  /** Training time until the held-out PSNR first reached usablePsnr (null: not within the budget). */
  readonly msToUsable: number | null;
  readonly stepsToUsable: number | null;
  readonly curve: readonly { readonly step: number; readonly trainMs: number; readonly heldOutPsnr: number }[];
  readonly samplesPerRay: number;
  readonly error?: string;
}

export async function timeTraining(ctx: GpuContext, o: TrainTimingOptions): Promise<TrainTimingReport> {
  const log = o.log ?? (() => {}), evalEvery = o.evalEvery ?? 25;
  const count = o.frames ?? 24;
  if (!Number.isInteger(count) || count < 5) throw new RangeError(`timeTraining: frames must be an integer >= 5, got ${count}`);
  const frames = syntheticFrames(o.config, { width: o.width, height: o.height, frames: count, seed: 1 });
  const train = frames.slice(0, count - 4), heldOut = frames.slice(count - 4);
  const mean = meanImage(train.map((f) => f.image));
  const baselinePsnr = heldOut.reduce((s, f) => s + psnr(mean, f.image), 0) / heldOut.length;
  const usablePsnr = Math.max(18, baselinePsnr + 1.5);
  const trainer = new GpuTrainer(ctx, AvatarModel.create(o.config, 1), train, { width: o.width, height: o.height, raysPerStep: o.raysPerStep, seed: 1 });
  const curve: { step: number; trainMs: number; heldOutPsnr: number }[] = [];
  let trainMs = 0, samples = 0, rays = 0, msToUsable: number | null = null, stepsToUsable: number | null = null, error: string | undefined;
  const t0 = performance.now();
  try {
    // At least one step, whatever the budget.
    while (trainer.stepCount === 0 || (performance.now() - t0 < o.budgetMs && msToUsable === null)) {
      const t = performance.now();
      const s = await trainer.trainStep();
      trainMs += performance.now() - t;
      samples += s.samples;
      rays += s.rays;
      if (trainer.stepCount % evalEvery === 0) {
        // Wait for the step's work before the clock stops: evaluate's readbacks would otherwise be charged with it.
        await ctx.device.queue.onSubmittedWorkDone();
        const heldOutPsnr = await trainer.evaluate(heldOut);
        curve.push({ step: trainer.stepCount, trainMs: Math.round(trainMs), heldOutPsnr: Math.round(heldOutPsnr * 100) / 100 });
        log(`training: step ${trainer.stepCount}, ${Math.round(trainMs)} ms, held-out ${heldOutPsnr.toFixed(2)} dB (usable at ${usablePsnr.toFixed(2)})`);
        if (heldOutPsnr >= usablePsnr) {
          msToUsable = Math.round(trainMs);
          stepsToUsable = trainer.stepCount;
        }
      }
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    trainer.close();
  }
  const c = o.config;
  return {
    width: o.width, height: o.height, raysPerStep: o.raysPerStep,
    config: { appearanceRes: c.appearanceRes, motionRes: c.motionRes, expressionCount: c.expressionCount, colorHidden: c.colorHidden },
    usablePsnr: Math.round(usablePsnr * 100) / 100, baselinePsnr: Math.round(baselinePsnr * 100) / 100,
    steps: trainer.stepCount, msPerStep: Math.round((trainMs / Math.max(1, trainer.stepCount)) * 10) / 10,
    msToUsable, stepsToUsable, curve, samplesPerRay: Math.round((samples / Math.max(1, rays)) * 10) / 10, ...(error ? { error } : {}),
  };
}

/** The configurations by name: the product's two, and a tiny one for SwiftShader. */
export const TRAIN_TIMING_CONFIGS: Readonly<Record<string, AvatarConfig>> = {
  default: DEFAULT_CONFIG,
  fast: FAST_CONFIG,
  tiny: { ...DEFAULT_CONFIG, expressionCount: 2, motionRes: 8, appearanceRes: 16, deformHidden: 16, densityHidden: 16, colorHidden: 16, samplesPerRay: 24, occupancyRes: 12 },
};

// Run when this file is executed, by name: bundled into check.mjs, import.meta.url is the
// bundle's, and comparing it with argv[1] would start this beside the check.
if (process.argv[1] && /trainTiming\.ts$/.test(process.argv[1])) {
  const [size = '24x24', raysArg = '256', budgetArg = '120', configName = 'tiny'] = process.argv.slice(2);
  const m = /^(\d+)x(\d+)$/.exec(size), config = TRAIN_TIMING_CONFIGS[configName];
  if (!m || !config) throw new RangeError(`usage: trainTiming.ts [WxH] [rays] [budgetS] [${Object.keys(TRAIN_TIMING_CONFIGS).join('|')}]`);
  const ctx = await GpuContext.create({ allowSoftware: true, label: 'train-timing' });
  if (!ctx) throw new Error('no WebGPU adapter');
  try {
    const report = await timeTraining(ctx, {
      config, width: Number(m[1]), height: Number(m[2]), raysPerStep: Number(raysArg), budgetMs: Number(budgetArg) * 1000,
      evalEvery: 10, log: (l) => process.stderr.write(`${l}\n`),
    });
    process.stdout.write(`${JSON.stringify({ adapter: ctx.adapter, ...report })}\n`);
  } finally {
    ctx.close();
  }
}
