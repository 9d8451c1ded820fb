/**
 * The `voxface train` command line of a training job, the one the local queue and the
 * cluster's trainer nodes both run: the rest of the job's budget (a resumed job has spent
 * part of it), resume or start over, its resolution, model, encoder and fidelity options, and how often
 * to report, snapshot and checkpoint.
 */
import type { TrainingOptions } from '../../shared/onboarding/TrainingJobTypes';

/**
 * What a trainer needs of its server's settings that the CLI reads from the environment:
 * the face model its encoder and fidelity steps track with, and the render scale calls
 * render with (the fidelity step renders as calls do). A server configured in code (the
 * plugin embedded, the tests) has no VOXFACE_FACE_MODEL for its trainers to inherit, and
 * they would try to download the model instead.
 */
export function trainerEnvOf(config: { faceModelPath: string; faceModelUrl: string; avatarRenderScale: number }): NodeJS.ProcessEnv {
  return { VOXFACE_FACE_MODEL: config.faceModelPath, VOXFACE_FACE_MODEL_URL: config.faceModelUrl, VOXFACE_AVATAR_RENDER_SCALE: String(config.avatarRenderScale) };
}

/** The CLI's smallest --minutes. */
const MIN_MINUTES = 0.01;

export interface TrainerRun {
  readonly dataset: string;
  readonly out: string;
  readonly options: TrainingOptions;
  /** Training time the checkpoint holds, undefined when starting over. */
  readonly trainedMs: number | undefined;
  readonly reportSeconds: number;
  readonly snapshotSeconds: number;
  /** Absent: the CLI's default. */
  readonly checkpointSeconds?: number;
}

/** What is left of the job's budget, in the CLI's --minutes (at least its smallest). */
export function remainingMinutes(options: TrainingOptions, trainedMs: number | undefined): number {
  return Math.max(MIN_MINUTES, (options.minutes * 60_000 - (trainedMs ?? 0)) / 60_000);
}

export function trainerArgs(r: TrainerRun): string[] {
  const minutes = remainingMinutes(r.options, r.trainedMs);
  return [r.dataset, '--out', r.out, '--minutes', minutes.toFixed(4), '--res', String(r.options.res),
    '--model', r.options.model, r.trainedMs !== undefined ? '--resume' : '--force',
    '--report-every', String(r.reportSeconds), '--snapshot-every', String(r.snapshotSeconds),
    ...(r.checkpointSeconds !== undefined ? ['--checkpoint-every', String(r.checkpointSeconds)] : []),
    ...(r.options.encoder ? ['--encoder'] : []), ...(r.options.fidelity ? ['--fidelity'] : [])];
}
