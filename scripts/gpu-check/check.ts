// The prepared GPU check (issue 13, item 7), run by scripts/gpu-check/run.sh from the pack
// that scripts/gpu-check/pack.sh bundles (one ESM file, with its own Node and Vulkan
// loader) on a lent GPU machine, or here: `node --import tsx scripts/gpu-check/check.ts`.
// It takes the hardware adapter (a software one only with VOXFACE_GPU_CHECK_ALLOW_SOFTWARE=1,
// for rehearsals on SwiftShader), checks the WGSL inference ops against the float64
// references and the CPU backend, times renderRays, and writes one JSON object to
// $OUT/gpu-check.json (after every phase, so a run cut short still leaves what it had),
// printed as the last line of stdout. Progress goes to stderr.
//
// Environment: OUT (folder of gpu-check.json), VOXFACE_GPU_CHECK_ALLOW_SOFTWARE=1,
// VOXFACE_GPU_CHECK_SIZE=WxH (timing frame, default 320x180), VOXFACE_GPU_CHECK_AVATARS
// (default 1,8,32,128), VOXFACE_GPU_CHECK_BUDGET_S (timing budget, default 180),
// VOXFACE_GPU_CHECK_NO_CPU=1 (skip the CPU backend: run.sh sets it when this CPU lacks
// the addon's SIMD level), VOXFACE_GPU_CHECK_TRAIN_S (a timed GpuTrainer run on the
// synthetic scene after the timing, trainTiming.ts; default 0: skipped, as run.sh's
// default timeout leaves no room: give it ~120 and VOXFACE_GPU_CHECK_TIMEOUT_S 420),
// VOXFACE_GPU_CHECK_TRAIN_SIZE=WxH (default 128x128; the DEFAULT_CONFIG model, 1024 rays a step).
import { mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InferenceKernels } from '../../kernels/KernelsTypes';
import { GpuContext, type GpuAdapterSummary } from '../../kernels/wgsl/GpuContext';
import { createWgslKernels } from '../../kernels/wgsl/wgslKernels';
import { checkOps, deviceErrorScopes, type OpName, type OpReport } from './opChecks';
import { timeRenderRays, type TimingReport } from './renderTiming';
import { timeTraining, type TrainTimingReport } from './trainTiming';
import { DEFAULT_CONFIG } from '../../server/engine/AvatarModelTypes';

export interface CheckOptions {
  readonly allowSoftware: boolean;
  readonly width: number;
  readonly height: number;
  readonly avatarCounts: readonly number[];
  readonly budgetMs: number;
  readonly useCpu: boolean;
  /** Wall time of the training part (0: skipped), and its frame size. */
  readonly trainBudgetMs: number;
  readonly trainWidth: number;
  readonly trainHeight: number;
  /** Where the JSON goes (null: stdout only). */
  readonly jsonPath: string | null;
}

/** The options from the environment; throws RangeError naming a malformed variable. */
export function checkOptions(env: NodeJS.ProcessEnv): CheckOptions {
  const size = env['VOXFACE_GPU_CHECK_SIZE'] ?? '320x180', m = /^(\d{1,4})x(\d{1,4})$/.exec(size);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new RangeError(`VOXFACE_GPU_CHECK_SIZE must be WxH (e.g. 320x180), got ${size}`);
  const avatars = env['VOXFACE_GPU_CHECK_AVATARS'] ?? '1,8,32,128';
  const avatarCounts = avatars.split(',').map((s) => Number(s.trim()));
  if (!avatarCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 1024))
    throw new RangeError(`VOXFACE_GPU_CHECK_AVATARS must be a comma-separated list of integers in [1, 1024], got ${avatars}`);
  const budget = Number(env['VOXFACE_GPU_CHECK_BUDGET_S'] ?? 180);
  if (!(budget > 0 && budget <= 3600)) throw new RangeError(`VOXFACE_GPU_CHECK_BUDGET_S must be in (0, 3600], got ${env['VOXFACE_GPU_CHECK_BUDGET_S']}`);
  const train = Number(env['VOXFACE_GPU_CHECK_TRAIN_S'] ?? 0);
  if (!(train >= 0 && train <= 3600)) throw new RangeError(`VOXFACE_GPU_CHECK_TRAIN_S must be in [0, 3600], got ${env['VOXFACE_GPU_CHECK_TRAIN_S']}`);
  const trainSize = env['VOXFACE_GPU_CHECK_TRAIN_SIZE'] ?? '128x128', t = /^(\d{1,4})x(\d{1,4})$/.exec(trainSize);
  if (!t || Number(t[1]) < 8 || Number(t[2]) < 8) throw new RangeError(`VOXFACE_GPU_CHECK_TRAIN_SIZE must be WxH of at least 8x8 (e.g. 128x128), got ${trainSize}`);
  return {
    trainBudgetMs: train * 1000, trainWidth: Number(t[1]), trainHeight: Number(t[2]),
    allowSoftware: env['VOXFACE_GPU_CHECK_ALLOW_SOFTWARE'] === '1',
    width: Number(m[1]), height: Number(m[2]), avatarCounts, budgetMs: budget * 1000,
    useCpu: env['VOXFACE_GPU_CHECK_NO_CPU'] !== '1',
    jsonPath: env['OUT'] ? join(env['OUT'], 'gpu-check.json') : null,
  };
}

export interface CheckReport {
  check: 'voxface-gpu-check';
  version: 1;
  phase: 'adapter' | 'ops' | 'timing' | 'training' | 'done';
  /** Every op within the suite's tolerances, and the adapter a hardware one (or software allowed). */
  ok: boolean;
  startedAt: string;
  node: string;
  adapter: GpuAdapterSummary | null;
  adapterAccepted: boolean;
  cpu: { threads: number; simd: string } | { error: string } | null;
  ops: Partial<Record<OpName, OpReport>>;
  timing: TimingReport | null;
  /** GpuTrainer's ms per step and time to usable (VOXFACE_GPU_CHECK_TRAIN_S > 0), else null. */
  training: TrainTimingReport | null;
  uncapturedErrors: string[];
  error?: string;
  totalMs?: number;
}

/** Writes the report atomically (a reader never sees half of it). */
function save(report: CheckReport, path: string | null): void {
  if (!path) return;
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 1)}\n`);
  renameSync(`${path}.tmp`, path);
}

async function loadCpu(): Promise<{ kernels: InferenceKernels; info: { threads: number; simd: string } } | { error: string }> {
  try {
    const { cpuKernels, cpuSimd, cpuThreads } = await import('../../kernels/cpu');
    return { kernels: cpuKernels, info: { threads: cpuThreads(), simd: cpuSimd() } };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** The whole check; resolves with the report (also saved to o.jsonPath after each phase). */
export async function runGpuCheck(o: CheckOptions, log: (line: string) => void = (l) => process.stderr.write(`gpu-check: ${l}\n`)): Promise<CheckReport> {
  const t0 = performance.now();
  const report: CheckReport = {
    check: 'voxface-gpu-check', version: 1, phase: 'adapter', ok: false, startedAt: new Date().toISOString(), node: process.version,
    adapter: null, adapterAccepted: false, cpu: null, ops: {}, timing: null, training: null, uncapturedErrors: [],
  };
  const finish = (error?: string) => {
    if (error) report.error = error;
    report.totalMs = Math.round(performance.now() - t0);
    save(report, o.jsonPath);
    return report;
  };
  // Always open with software allowed, so the adapter is logged before it is refused.
  const ctx = await GpuContext.create({ allowSoftware: true, label: 'gpu-check' });
  if (!ctx) return finish('no WebGPU adapter (is the Vulkan loader on LD_LIBRARY_PATH and an ICD in VK_ICD_FILENAMES?)');
  try {
    report.adapter = ctx.adapter;
    log(`adapter: ${JSON.stringify(ctx.adapter)}`);
    if (ctx.adapter.software && !o.allowSoftware) return finish('the adapter is a software one (SwiftShader?): refused; set VOXFACE_GPU_CHECK_ALLOW_SOFTWARE=1 only for a rehearsal');
    report.adapterAccepted = true;
    ctx.device.onuncapturederror = (e) => {
      if (report.uncapturedErrors.length < 20) report.uncapturedErrors.push(e.error.message);
    };
    const cpu = o.useCpu ? await loadCpu() : null;
    report.cpu = cpu ? ('error' in cpu ? cpu : cpu.info) : null;
    const cpuKernels = cpu && 'kernels' in cpu ? cpu.kernels : null;
    if (report.cpu) log(`cpu backend: ${JSON.stringify(report.cpu)}`);
    report.phase = 'ops';
    save(report, o.jsonPath);
    const gpu = createWgslKernels(ctx);
    report.ops = await checkOps(gpu, cpuKernels, deviceErrorScopes(ctx.device), log);
    report.phase = 'timing';
    save(report, o.jsonPath);
    report.timing = await timeRenderRays(gpu, cpuKernels, { width: o.width, height: o.height, avatarCounts: o.avatarCounts, budgetMs: o.budgetMs, log });
    if (o.trainBudgetMs > 0) {
      report.phase = 'training';
      save(report, o.jsonPath);
      report.training = await timeTraining(ctx, { config: DEFAULT_CONFIG, width: o.trainWidth, height: o.trainHeight, raysPerStep: 1024, budgetMs: o.trainBudgetMs, log });
    }
    report.phase = 'done';
    report.ok = Object.values(report.ops).every((r) => r.ok) && report.uncapturedErrors.length === 0;
    return finish();
  } catch (err) {
    return finish(err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err));
  } finally {
    ctx.close();
  }
}

// Run when executed (node check.mjs, or tsx), not when imported by a test.
if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1])) {
  let options: CheckOptions;
  try {
    options = checkOptions(process.env);
  } catch (err) {
    process.stderr.write(`gpu-check: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const report = await runGpuCheck(options);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = report.ok ? 0 : report.adapterAccepted ? 1 : 2;
}
