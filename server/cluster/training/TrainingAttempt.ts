/**
 * One trainer run of one job on a trainer node: `voxface train` as a child
 * process (TrainerProcess, as the single-process queue runs it), resumed from the
 * job folder's checkpoint when there is one, its report lines turned into the
 * job's record and TrainingUpdates, usable snapshots and the final avatar
 * published to the shared avatar store. The worker (TrainingWorker.ts) decides
 * what the end means for the BullMQ job; the record rules (threshold, "install
 * only a better version", budget over restarts) are TrainingQueue's, so a job
 * trains the same on one server or on a cluster.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AvatarStorage } from '../../avatar/AvatarStorage';
import { Logger } from '../../Logger';
import { installVersion } from '../../onboarding/installVersion';
import { checkUsableRule, recordSnapshot, snapshotScores, type UsableRule } from '../../onboarding/snapshotVerdict';
import { QUALITY_POINTS } from '../../onboarding/TrainingJobTypes';
import { checkpointElapsedMs, TrainerProcess, type FinishedReport, type TrainerExit, type TrainerReport } from '../../onboarding/TrainerProcess';
import type { SharedJob, TrainingUpdate } from './trainingMessages';
import { AVATAR_FILE } from './trainingQueueNames';
import { remainingMinutes, trainerArgs } from '../../onboarding/trainerArgs';

const logger = new Logger('TrainingAttempt');

export interface TrainingAttemptOptions {
  /** The job's record so far (from its last update); the attempt changes its own copy. */
  job: SharedJob;
  /** Absolute paths on this node: the dataset, and the job's folder in the shared onboarding folder (checkpoint, snapshots). */
  dataset: string;
  workDir: string;
  store: AvatarStorage;
  command: readonly string[];
  cwd: string;
  niceness: number;
  trainerEnv?: NodeJS.ProcessEnv;
  reportSeconds: number;
  snapshotSeconds: number;
  checkpointSeconds: number;
  /** The held-out PSNR a snapshot needs at least (the enqueuing node's VOXFACE_ONBOARDING_USABLE_PSNR)... */
  usablePsnrFloor: number;
  /** ...and how far above the mean training image's PSNR it must be (this node's VOXFACE_ONBOARDING_USABLE_MARGIN_DB)... */
  usableMarginDb: number;
  /** ...and how far above its face SSIM (this node's VOXFACE_ONBOARDING_USABLE_FACE_SSIM_MARGIN; snapshotVerdict.ts). */
  usableFaceSsimMargin: number;
  /** Every change of the record, in order. */
  onUpdate: (update: TrainingUpdate) => void;
}

export type AttemptEnd =
  | { kind: 'done' }
  /** Exit status 2: the trainer refuses its input; a retry cannot help. */
  | { kind: 'refused'; how: string; stderr: string }
  /** Any other end without an avatar: a crash (or a stop, which the caller knows it asked for). */
  | { kind: 'crashed'; how: string; stderr: string }
  | { kind: 'install-failed'; stderr: string };

export class TrainingAttempt {
  readonly job: SharedJob;
  /** The checkpoint's training time this run resumed from (undefined: started from scratch). */
  readonly resumedFromMs: number | undefined;
  readonly ended: Promise<AttemptEnd>;
  readonly #o: TrainingAttemptOptions;
  readonly #trainer: TrainerProcess;
  readonly #out: string;
  readonly #rule: UsableRule;

  constructor(options: TrainingAttemptOptions) {
    this.#o = options;
    this.#rule = checkUsableRule({ psnrFloor: options.usablePsnrFloor, marginDb: options.usableMarginDb, faceSsimMargin: options.usableFaceSsimMargin });
    this.job = structuredClone(options.job);
    const job = this.job;
    this.#out = join(options.workDir, AVATAR_FILE);
    const checkpoint = `${this.#out}.ckpt`;
    const trainedMs = existsSync(checkpoint) ? checkpointElapsedMs(checkpoint) : undefined;
    // An unreadable checkpoint (another version's, or torn by a dying disk) is dropped: starting over beats failing.
    if (trainedMs === undefined) rmSync(checkpoint, { force: true });
    this.resumedFromMs = trainedMs;
    const budgetMs = job.options.minutes * 60_000, minutes = remainingMinutes(job.options, trainedMs);
    const args = trainerArgs({
      dataset: options.dataset, out: this.#out, options: job.options, trainedMs,
      reportSeconds: options.reportSeconds, snapshotSeconds: options.snapshotSeconds, checkpointSeconds: options.checkpointSeconds,
    });
    this.#trainer = new TrainerProcess(options.command, args, { cwd: options.cwd, niceness: options.niceness, env: options.trainerEnv });
    job.state = 'running';
    job.progress = { ...job.progress, stage: 'loading', elapsedMs: Math.round(trainedMs ?? 0), etaMs: Math.max(0, Math.round(budgetMs - (trainedMs ?? 0))) };
    this.#update({ kind: 'progress', job });
    logger.info(`job ${job.id}: ${trainedMs !== undefined ? `resuming from its checkpoint after ${Math.round(trainedMs / 1000)} s` : 'starting'} (${minutes.toFixed(2)} min)`);

    let finished: FinishedReport | undefined;
    this.#trainer.on('report', (report) => {
      if (report.kind === 'finished') finished = report;
      else this.#onReport(report, budgetMs);
    });
    this.ended = new Promise((resolve) => {
      this.#trainer.on('exit', (exit) => resolve(this.#onExit(finished, exit)));
    });
  }

  get pid(): number | undefined {
    return this.#trainer.pid;
  }

  /** SIGINT: the trainer saves its checkpoint and exits 130; SIGTERM likewise; SIGKILL: at once. */
  kill(signal: NodeJS.Signals): void {
    this.#trainer.kill(signal);
  }

  #update(update: TrainingUpdate): void {
    this.job.updatedAt = new Date().toISOString();
    this.#o.onUpdate(structuredClone(update));
  }

  #onReport(report: Exclude<TrainerReport, { kind: 'finished' }>, budgetMs: number): void {
    const job = this.job;
    const { step, elapsedMs } = report;
    if (report.kind === 'progress') {
      job.progress = {
        stage: 'training', step, psnr: report.psnr, trainPsnr: report.trainPsnr, loss: report.loss,
        elapsedMs, etaMs: Math.max(0, Math.round(budgetMs - elapsedMs)),
      };
      this.#update({ kind: 'progress', job });
      return;
    }
    const psnr = report.heldOutPsnr;
    if (psnr === null) return;
    const install = recordSnapshot(job, snapshotScores({ ...report, heldOutPsnr: psnr }), this.#rule);
    job.progress = { ...job.progress, step, elapsedMs, etaMs: Math.max(0, Math.round(budgetMs - elapsedMs)) };
    // The files are where this attempt told the trainer to write them; paths in its output are not trusted.
    if (install) this.#install(`${this.#out}.snapshot.vxa`, psnr, false);
    this.#update({ kind: 'progress', job });
    this.#update({ kind: 'preview', job, step, psnr, elapsedMs });
  }

  /** Publishes a version to the shared store; false (logged) if that fails: training goes on. */
  #install(path: string, psnr: number | null, final: boolean): boolean {
    const job = this.job;
    if (!installVersion(this.#o.store, job, path, psnr, final, logger)) return false;
    this.#update({ kind: 'installed', job, psnr, final });
    return true;
  }

  #onExit(finished: FinishedReport | undefined, r: TrainerExit): AttemptEnd {
    const job = this.job;
    const how = r.spawnError ? `could not start: ${r.spawnError.message}` : r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
    if (r.code === 0 && finished !== undefined && existsSync(this.#out)) {
      const finishedPsnr = finished.heldOutPsnr;
      job.progress = { ...job.progress, stage: 'installing' };
      this.#update({ kind: 'progress', job });
      // The final avatar replaces an installed snapshot unless that one scored better.
      const better = job.installedPsnr === null || finishedPsnr === null || finishedPsnr >= job.installedPsnr;
      if (better && !this.#install(this.#out, finishedPsnr, true)) return { kind: 'install-failed', stderr: r.stderr };
      if (finishedPsnr !== null) job.quality = [...job.quality, { elapsedMs: job.progress.elapsedMs, psnr: finishedPsnr }].slice(-QUALITY_POINTS);
      if (finished.fidelity) job.fidelity = finished.fidelity;
      return { kind: 'done' };
    }
    if (r.code === 2) return { kind: 'refused', how, stderr: r.stderr };
    return { kind: 'crashed', how, stderr: r.stderr };
  }
}
