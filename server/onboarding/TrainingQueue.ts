/**
 * The training job queue: at most `concurrency` trainers at a time (1 by
 * default: one training run already uses every core), each a child process
 * running `voxface train`, so a trainer that crashes or runs out of memory
 * takes only itself down.
 *
 * - Progress: the trainer's JSON lines on stdout become typed `progress` events
 *   (stage, step, held-out PSNR, elapsed, time left in the budget).
 * - Persistence: every change is written to `<dir>/jobs.json` atomically and
 *   durably (jobsFile.ts; an unreadable file is moved aside). A new
 *   queue on the same folder (a restarted server) puts jobs that were running
 *   back in the queue; each resumes with `--resume` from `<workDir>/avatar.vxa.ckpt`
 *   (the trainer saves one every minute and when stopped by close()), with the
 *   budget left after the checkpoint's training time. start() also removes what
 *   a crash left half-written: temporary files and job folders no job refers to.
 * - Fairness: the next job is picked round-robin over users (pickNextJob.ts).
 * - Failures: exit status 2 is the trainer refusing its input (a corrupt
 *   dataset): failed at once, since a retry cannot help. Any other ending
 *   without a finished avatar (exit 1, a signal, a spawn error) is retried, from
 *   the last checkpoint, up to `maxAttempts` starts, then failed with the tail of
 *   its stderr. Other jobs carry on either way. A failed or cancelled job is
 *   forgotten `failedRetentionMs` after it ended (its folder removed, `expired`
 *   event: the onboarding service removes its dataset and uploads).
 * - Usable early, better later: the trainer writes a snapshot avatar every
 *   `snapshotSeconds` with its held-out figures; a snapshot that is usable
 *   (snapshotVerdict.ts: `usablePsnr`, `usableMarginDb` over the mean training
 *   image's PSNR, and `usableFaceSsimMargin` over its face SSIM on the same
 *   frames) and beats the installed version's PSNR is installed at
 *   once (`installed` event: live sessions reload it), with a preview PNG each
 *   time (`preview` event).
 * - Done: the final avatar is installed into the store under its owner
 *   (AvatarStore.installFor, atomic) unless an installed snapshot scored better.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypedEmitter } from '../../shared/TypedEmitter';
import { makeFolderDurable } from '../atomicFile';
import type { AvatarStorage } from '../avatar/AvatarStorage';
import { Logger } from '../Logger';
import {
  QUALITY_POINTS, type TrainingJob, type TrainingOptions, type TrainingProgress, type TrainingQueueEvents,
} from './TrainingJobTypes';
import { installVersion } from './installVersion';
import { loadJobsFile, saveJobsFile } from './jobsFile';
import { pickNextJob } from './pickNextJob';
import { sweepLeftovers } from './sweepLeftovers';
import type { EnqueueRequest, TrainingJobQueue } from './TrainingJobQueue';
import { checkpointElapsedMs, stderrTail, stopOrphanTrainer, TrainerProcess, type FinishedReport, type TrainerExit, type TrainerReport } from './TrainerProcess';
import { remainingMinutes, trainerArgs } from './trainerArgs';
import { voxfaceCommand } from '../cli/nodeFlags';
import { checkUsableRule, DEFAULT_FACE_SSIM_MARGIN, DEFAULT_MARGIN_DB, recordSnapshot, snapshotScores, type UsableRule } from './snapshotVerdict';

const logger = new Logger('TrainingQueue');
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const JOBS_FILE = 'jobs.json';
const AVATAR_FILE = 'avatar.vxa';
/** Preview PNGs larger than this are not sent (a 2x256 px strip is ~100 KB). */
const MAX_PREVIEW_BYTES = 1024 * 1024;
/** How often ended jobs are checked for expiry (at most; a short retention is checked more often). */
const EXPIRY_CHECK_MS = 3600_000;

export interface TrainingQueueOptions {
  /** jobs.json and one folder per job (`jobs/<id>/`). */
  dir: string;
  store: AvatarStorage;
  /** Trainers running at once (default 1). */
  concurrency?: number;
  /** Trainer starts per job before it is failed (default 3). */
  maxAttempts?: number;
  /** The command before the train arguments (default: this Node running bin/voxface.js train with the CLI's Node flags, cli/nodeFlags.ts). */
  trainerCommand?: readonly string[];
  /** How long close() waits for trainers to save their checkpoint before killing them (default 30 s). */
  stopTimeoutMs?: number;
  /** Scheduling niceness of trainers (default 10), so calls keep priority over training on the same cores. */
  niceness?: number;
  /** Environment for trainers over this process's (the server's own settings, e.g. its face model: trainerEnvOf). */
  trainerEnv?: NodeJS.ProcessEnv;
  /** Held-out PSNR (dB) a snapshot needs before it is installed (default 18). */
  usablePsnr?: number;
  /** ...and how far above the mean training image's PSNR it must be (default DEFAULT_MARGIN_DB, 0 dB). */
  usableMarginDb?: number;
  /** ...and how far above the mean image's face SSIM its face SSIM must be (snapshotVerdict.ts; default DEFAULT_FACE_SSIM_MARGIN). */
  usableFaceSsimMargin?: number;
  /** Seconds of training between snapshots (default 20) and between progress lines (default 10). */
  snapshotSeconds?: number;
  reportSeconds?: number;
  /** How long a failed or cancelled job (and its data) is kept, ms (default 24 h): the owner sees why it failed meanwhile. */
  failedRetentionMs?: number;
}

export type { EnqueueRequest } from './TrainingJobQueue';

export class TrainingQueue extends TypedEmitter<TrainingQueueEvents> implements TrainingJobQueue {
  readonly dir: string;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly #store: AvatarStorage;
  readonly #command: readonly string[];
  readonly #stopTimeoutMs: number;
  readonly #niceness: number;
  readonly #trainerEnv: NodeJS.ProcessEnv | undefined;
  readonly #usablePsnr: number;
  readonly #usableRule: UsableRule;
  readonly #snapshotSeconds: number;
  readonly #reportSeconds: number;
  readonly #failedRetentionMs: number;
  readonly #jobs = new Map<string, TrainingJob>();
  readonly #running = new Map<string, TrainerProcess>();
  /** Owner -> the number of the last start of one of their jobs (pickNextJob's round-robin). */
  readonly #lastStartOf = new Map<string, number>();
  #starts = 0;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** Where an unreadable jobs.json was moved at load; undefined when it was read. */
  readonly jobsFileMovedAside: string | undefined;
  /** One process owns the folder: start() may sweep what a crash left in it. */
  readonly sharedFolders = false;
  #started = false;
  #closing = false;

  constructor(options: TrainingQueueOptions) {
    super();
    this.dir = resolve(options.dir);
    this.#store = options.store;
    this.concurrency = options.concurrency ?? 1;
    this.maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${this.concurrency}`);
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${this.maxAttempts}`);
    this.#command = options.trainerCommand ?? voxfaceCommand('train');
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.#niceness = options.niceness ?? 10;
    this.#trainerEnv = options.trainerEnv;
    this.#usablePsnr = options.usablePsnr ?? 18;
    this.#usableRule = checkUsableRule({
      psnrFloor: this.#usablePsnr, marginDb: options.usableMarginDb ?? DEFAULT_MARGIN_DB, faceSsimMargin: options.usableFaceSsimMargin ?? DEFAULT_FACE_SSIM_MARGIN,
    });
    this.#snapshotSeconds = options.snapshotSeconds ?? 20;
    this.#reportSeconds = options.reportSeconds ?? 10;
    this.#failedRetentionMs = options.failedRetentionMs ?? 24 * 3600_000;
    if (!(this.#failedRetentionMs >= 0)) throw new RangeError(`failedRetentionMs must be >= 0, got ${this.#failedRetentionMs}`);
    makeFolderDurable(join(this.dir, 'jobs'));
    this.jobsFileMovedAside = this.#load();
  }

  /**
   * Resumes unfinished jobs and starts trainers. Jobs that were running when the
   * previous server stopped go back to the queue; a trainer orphaned by a crashed
   * server (still running on that job's folder) is stopped first, so two
   * trainers never write one checkpoint. Then what a crash left half-written is
   * removed, and ended jobs past their retention are forgotten.
   */
  async start(): Promise<void> {
    if (this.#started || this.#closing) return;
    this.#started = true;
    for (const job of this.#jobs.values()) {
      if (job.state !== 'running') continue;
      if (job.pid !== undefined) await stopOrphanTrainer(job.pid, job.workDir, this.#stopTimeoutMs);
      this.#requeue(job);
    }
    if (this.#closing) return;
    this.#sweep();
    this.#persist();
    this.expire();
    const every = Math.min(EXPIRY_CHECK_MS, Math.max(1000, this.#failedRetentionMs / 4));
    this.#expiryTimer = setInterval(() => {
      // A disk error here must not take the server down: the next check tries again.
      try { this.expire(); } catch (error) { logger.warn(`expiring failed jobs: ${String(error)}`); }
    }, every).unref();
    this.#pump();
  }

  /**
   * Forgets failed and cancelled jobs that ended more than the retention period
   * before `now`: removes their folders and emits `expired` for each (the
   * service removes dataset and uploads). Returns them. Runs at start() and
   * periodically; public so a caller can run it at a given time.
   */
  expire(now = Date.now()): TrainingJob[] {
    const expired: TrainingJob[] = [];
    for (const job of [...this.#jobs.values()]) {
      if ((job.state !== 'failed' && job.state !== 'cancelled') || this.#running.has(job.id)) continue;
      const ended = Date.parse(job.finishedAt ?? job.updatedAt);
      if (!(now - ended >= this.#failedRetentionMs)) continue;
      this.#jobs.delete(job.id);
      rmSync(job.workDir, { recursive: true, force: true });
      expired.push(job);
    }
    if (!expired.length) return [];
    this.#persist();
    for (const job of expired) {
      logger.info(`job ${job.id} (${job.owner}/${job.avatarId}, ${job.state} at ${job.finishedAt}) expired: its data is removed`);
      this.emit('expired', { job: structuredClone(job) });
    }
    return expired.map((job) => structuredClone(job));
  }

  enqueue(request: EnqueueRequest): TrainingJob {
    if (this.#closing) throw new Error('training queue is closed');
    const id = `job-${randomBytes(9).toString('base64url')}`;
    const now = new Date().toISOString();
    const workDir = join(this.dir, 'jobs', id);
    makeFolderDurable(workDir);
    const job: TrainingJob = {
      id, owner: request.owner, avatarId: request.avatarId, dataset: resolve(request.dataset), workDir,
      options: { ...request.options }, state: 'queued', attempts: 0, createdAt: now, updatedAt: now,
      progress: this.#initialProgress(request.options),
      usable: false, installedPsnr: null, installs: 0, usablePsnr: this.#usablePsnr, baselinePsnr: null, quality: [],
    };
    this.#jobs.set(id, job);
    this.#persist();
    this.#emitProgress(job);
    this.#pump();
    return structuredClone(job);
  }

  get(id: string): TrainingJob | undefined {
    const job = this.#jobs.get(id);
    return job && structuredClone(job);
  }

  /** All jobs, or those of one owner, oldest first. */
  list(owner?: string): TrainingJob[] {
    return [...this.#jobs.values()].filter((j) => owner === undefined || j.owner === owner).map((j) => structuredClone(j));
  }

  /** Stops a queued or running job (its trainer is stopped); false when it had already ended. */
  async cancel(id: string): Promise<boolean> {
    const job = this.#jobs.get(id);
    if (!job || job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') return false;
    job.state = 'cancelled';
    this.#setStage(job, 'cancelled');
    job.finishedAt = job.updatedAt;
    this.#persist();
    const running = this.#running.get(id);
    if (running) {
      running.kill('SIGTERM');
      await running.exited;
    }
    this.emit('finished', { job: structuredClone(job) });
    this.#pump();
    return true;
  }

  /** Cancels a job and forgets it, removing its folder (checkpoint, avatar copy). */
  async remove(id: string): Promise<void> {
    await this.cancel(id);
    const job = this.#jobs.get(id);
    if (!job) return;
    this.#jobs.delete(id);
    rmSync(job.workDir, { recursive: true, force: true });
    this.#persist();
  }

  /**
   * Stops starting trainers and asks running ones to stop (SIGINT: the trainer
   * saves its checkpoint and exits 130), killing any still alive after the stop
   * timeout. Their jobs stay unfinished in jobs.json, to resume on the next start().
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#expiryTimer);
    const waits = [...this.#running.values()].map(async (trainer) => {
      trainer.kill('SIGINT');
      const timer = setTimeout(() => trainer.kill('SIGKILL'), this.#stopTimeoutMs);
      await trainer.exited;
      clearTimeout(timer);
    });
    await Promise.all(waits);
    this.#persist();
  }

  /** Reads jobs.json; returns where it was moved if it was unreadable. */
  #load(): string | undefined {
    const file = loadJobsFile(join(this.dir, JOBS_FILE));
    // Jobs written before snapshots existed get the fields' starting values.
    for (const job of file.jobs) {
      const defaults = {
        usable: job.state === 'done', installedPsnr: null, installs: job.state === 'done' ? 1 : 0, usablePsnr: this.#usablePsnr,
        baselinePsnr: null, quality: [],
      };
      this.#jobs.set(job.id, { ...defaults, ...job });
    }
    return file.movedAside;
  }

  #persist(): void {
    saveJobsFile(join(this.dir, JOBS_FILE), this.#jobs.values());
  }

  /**
   * Removes what a crash left half-written: temporary files of atomic writes
   * (jobs.json's, checkpoints', snapshots') whose writer is gone, and job folders
   * no job refers to (a crash between creating one and recording its job). Not
   * the folders when jobs.json was unreadable: they are the lost jobs' data.
   */
  #sweep(): void {
    sweepLeftovers(this.dir, { depth: 1, what: 'temporary file(s) of jobs.json' });
    const keep = new Set([...this.#jobs.values()].map((job) => job.workDir));
    sweepLeftovers(join(this.dir, 'jobs'), {
      depth: 2, what: 'job folder(s) or temporary file(s)', orphans: this.jobsFileMovedAside === undefined ? { prefix: 'job-', keep } : undefined,
    });
  }

  #initialProgress(options: TrainingOptions): TrainingProgress {
    return { stage: 'queued', step: 0, psnr: null, trainPsnr: null, loss: null, elapsedMs: 0, etaMs: Math.round(options.minutes * 60_000) };
  }

  #setStage(job: TrainingJob, stage: TrainingProgress['stage']): void {
    job.progress = { ...job.progress, stage };
    job.updatedAt = new Date().toISOString();
    this.#emitProgress(job);
  }

  #emitProgress(job: TrainingJob): void {
    this.emit('progress', { job: structuredClone(job), progress: { ...job.progress } });
  }

  #requeue(job: TrainingJob): void {
    job.state = 'queued';
    delete job.pid;
    this.#setStage(job, 'queued');
  }

  #fail(job: TrainingJob, error: string, stderr: string): void {
    job.state = 'failed';
    job.error = error;
    job.stderrTail = stderrTail(stderr);
    job.finishedAt = new Date().toISOString();
    this.#setStage(job, 'failed');
    logger.warn(`job ${job.id} (${job.owner}/${job.avatarId}) failed: ${error}`);
    this.emit('finished', { job: structuredClone(job) });
  }

  #pump(): void {
    if (!this.#started || this.#closing) return;
    while (this.#running.size < this.concurrency) {
      const job = pickNextJob(this.#jobs.values(), this.#lastStartOf);
      if (!job) return;
      this.#run(job);
    }
  }

  #run(job: TrainingJob): void {
    const out = join(job.workDir, AVATAR_FILE), checkpoint = `${out}.ckpt`;
    const trainedMs = existsSync(checkpoint) ? checkpointElapsedMs(checkpoint) : undefined;
    // An unreadable checkpoint (e.g. written by a different version) is dropped: starting over beats failing.
    if (trainedMs === undefined) rmSync(checkpoint, { force: true });
    const budgetMs = job.options.minutes * 60_000, minutes = remainingMinutes(job.options, trainedMs);
    const args = trainerArgs({ dataset: job.dataset, out, options: job.options, trainedMs, reportSeconds: this.#reportSeconds, snapshotSeconds: this.#snapshotSeconds });
    const trainer = new TrainerProcess(this.#command, args, { cwd: REPO_ROOT, niceness: this.#niceness, env: this.#trainerEnv });
    this.#running.set(job.id, trainer);
    this.#starts += 1;
    this.#lastStartOf.set(job.owner, this.#starts);
    job.state = 'running';
    job.pid = trainer.pid;
    job.progress = { ...job.progress, elapsedMs: Math.round(trainedMs ?? 0), etaMs: Math.max(0, Math.round(budgetMs - (trainedMs ?? 0))) };
    this.#setStage(job, 'loading');
    this.#persist();
    logger.info(`job ${job.id}: ${trainedMs !== undefined ? `resuming after ${Math.round(trainedMs / 1000)} s` : 'starting'} (${minutes.toFixed(2)} min)`);

    let finished: FinishedReport | undefined;
    trainer.on('report', (report) => {
      if (report.kind === 'finished') finished = report;
      else if (job.state === 'running') this.#onReport(job, report, budgetMs, out);
    });
    trainer.on('exit', (exit) => {
      this.#running.delete(job.id);
      delete job.pid;
      try {
        this.#onExit(job, out, finished, exit);
      } finally {
        this.#persist();
        this.#pump();
      }
    });
  }

  /** A progress line updates the job; a snapshot line is scored, previewed and maybe installed. */
  #onReport(job: TrainingJob, report: Exclude<TrainerReport, { kind: 'finished' }>, budgetMs: number, out: string): void {
    const { step, elapsedMs } = report;
    if (report.kind === 'snapshot') {
      // The files are where this queue told the trainer to write them; paths in its output are not trusted.
      this.#onSnapshot(job, `${out}.snapshot.vxa`, `${out}.preview.png`, report);
      return;
    }
    job.progress = {
      stage: 'training', step, psnr: report.psnr, trainPsnr: report.trainPsnr, loss: report.loss,
      elapsedMs, etaMs: Math.max(0, Math.round(budgetMs - elapsedMs)),
    };
    job.updatedAt = new Date().toISOString();
    this.#persist();
    this.#emitProgress(job);
  }

  /** A snapshot: record its quality, send its preview, and install it if usable and better (snapshotVerdict.ts). */
  #onSnapshot(job: TrainingJob, path: string, preview: string, report: Extract<TrainerReport, { kind: 'snapshot' }>): void {
    const psnr = report.heldOutPsnr;
    if (psnr === null) return;
    const install = recordSnapshot(job, snapshotScores({ ...report, heldOutPsnr: psnr }), this.#usableRule);
    job.progress = { ...job.progress, step: report.step, elapsedMs: report.elapsedMs, etaMs: Math.max(0, Math.round(job.options.minutes * 60_000 - report.elapsedMs)) };
    if (install) this.#install(job, path, psnr, false);
    job.updatedAt = new Date().toISOString();
    this.#persist();
    this.#emitProgress(job);
    try {
      if (statSync(preview).size <= MAX_PREVIEW_BYTES) {
        this.emit('preview', { job: structuredClone(job), png: readFileSync(preview), step: report.step, psnr, elapsedMs: report.elapsedMs });
      }
    } catch (error) {
      logger.warn(`job ${job.id}: preview unreadable: ${String(error)}`);
    }
  }

  /** Installs a version into the store; false (logged) if that fails: training goes on. */
  #install(job: TrainingJob, path: string, psnr: number | null, final: boolean): boolean {
    if (!installVersion(this.#store, job, path, psnr, final, logger)) return false;
    this.emit('installed', { job: structuredClone(job), psnr: psnr ?? Number.NaN, final });
    return true;
  }

  #onExit(job: TrainingJob, out: string, finished: FinishedReport | undefined, r: TrainerExit): void {
    if (job.state === 'cancelled' || !this.#jobs.has(job.id)) return;
    const how = r.spawnError ? `could not start: ${r.spawnError.message}` : r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
    if (this.#closing) {
      // Stopped by close(): not the job's fault, so no attempt is counted.
      this.#requeue(job);
      return;
    }
    if (r.code === 0 && finished !== undefined && existsSync(out)) {
      this.#setStage(job, 'installing');
      // The final avatar replaces an installed snapshot unless that one scored better.
      const psnr = finished.heldOutPsnr;
      const better = job.installedPsnr === null || psnr === null || psnr >= job.installedPsnr;
      if (better && !this.#install(job, out, psnr, true)) {
        this.#fail(job, 'avatar could not be installed (see the server log)', r.stderr);
        return;
      }
      if (psnr !== null) job.quality = [...job.quality, { elapsedMs: job.progress.elapsedMs, psnr }].slice(-QUALITY_POINTS);
      if (finished.fidelity) job.fidelity = finished.fidelity;
      job.state = 'done';
      job.finishedAt = new Date().toISOString();
      job.progress = { ...job.progress, etaMs: 0 };
      this.#setStage(job, 'done');
      logger.info(`job ${job.id} done: avatar ${job.avatarId} of ${job.owner}, ${job.installs} version(s) installed`);
      this.emit('finished', { job: structuredClone(job) });
      return;
    }
    if (r.code === 2) {
      this.#fail(job, `trainer refused its input (${how})`, r.stderr);
      return;
    }
    job.attempts += 1;
    if (job.attempts >= this.maxAttempts) {
      this.#fail(job, `trainer crashed ${job.attempts} times (last: ${how})`, r.stderr);
      return;
    }
    logger.warn(`job ${job.id}: trainer ended (${how}); retry ${job.attempts + 1} of ${this.maxAttempts}`);
    job.stderrTail = stderrTail(r.stderr);
    this.#requeue(job);
  }
}
