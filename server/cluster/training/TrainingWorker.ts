/**
 * The trainer node's side of training on a queue (docs/cluster.md): a BullMQ
 * Worker that takes training jobs from Redis and runs each as a TrainingAttempt
 * (a `voxface train` child process) on the shared onboarding folder, reporting
 * every change of the job's record through `job.updateProgress` (the SFU nodes
 * hear it through QueueEvents), and publishing usable snapshots and the final
 * avatar to the shared avatar store.
 *
 * - Validation: a job's data is checked with zod before anything runs; a job that
 *   fails it is failed with the reason (UnrecoverableError: no retry), and the
 *   worker goes on with the next job.
 * - Crash safety: checkpoints are written into the job's folder, in the shared
 *   folder, every `checkpointSeconds`. A trainer node that dies stops renewing the
 *   job's lock; after `lockSeconds` BullMQ's stalled-job check (every
 *   lockSeconds / 2, on every worker) moves the job back to the queue and another
 *   trainer node resumes it from the checkpoint. A trainer child never outlives its
 *   node: it is started under `setpriv --pdeathsig KILL`, so two trainers never
 *   write one checkpoint (without setpriv, an orphan dies at its next progress line:
 *   writing to the dead node's pipe fails with EPIPE, checked by hand).
 * - Attempts: trainer crashes and lost nodes together are capped at `maxAttempts`
 *   (VOXFACE_ONBOARDING_MAX_ATTEMPTS), as on one server; exit status 2 (the trainer
 *   refuses its input) fails the job at once.
 * - Stop: close() asks trainers to save their checkpoint (SIGINT) and puts their
 *   jobs back in the queue without counting an attempt, like a server stop.
 * - Cancel: an SFU node publishes a job id on CANCEL_CHANNEL (the user deleted the
 *   avatar); the node running it stops its trainer and ends the job as cancelled.
 */
import { bullConnectionOptions, settleWithin } from '../bullConnections';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { TypedEmitter } from '../../../shared/TypedEmitter';
import { makeFolderDurable } from '../../atomicFile';
import type { AvatarStorage } from '../../avatar/AvatarStorage';
import { Logger } from '../../Logger';
import { voxfaceCommand } from '../../cli/nodeFlags';
import { stderrTail } from '../../onboarding/TrainerProcess';
import { DEFAULT_FACE_SSIM_MARGIN, DEFAULT_MARGIN_DB } from '../../onboarding/snapshotVerdict';
import { TrainingAttempt } from './TrainingAttempt';
import {
  describeIssues, initialJobRecord, trainingJobDataSchema, trainingUpdateSchema, type SharedJob, type TrainingJobData, type TrainingUpdate,
} from './trainingMessages';
import { CANCEL_CHANNEL, cancelledKey, QUEUE_PREFIX, TRAINING_QUEUE } from './trainingQueueNames';

const logger = new Logger('TrainingWorker');
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** util-linux's setpriv: its --pdeathsig makes the kernel kill the trainer when this node's process dies. */
const SETPRIV = '/usr/bin/setpriv';

export interface TrainingWorkerOptions {
  redisUrl: string;
  /** The shared onboarding folder as this node mounts it (datasets/ and jobs/ inside). */
  dir: string;
  /** The shared avatar store. */
  store: AvatarStorage;
  /** Trainers on this node at once (default 1: one run already uses every core). */
  concurrency?: number;
  /** Trainer crashes and lost nodes per job before it is failed (default 3). */
  maxAttempts?: number;
  /** The command before the train arguments (default: this Node running bin/voxface.js train with the CLI's Node flags, under setpriv when there is one). */
  trainerCommand?: readonly string[];
  niceness?: number;
  /** Environment for trainers over this process's (this node's own settings, e.g. its face model: trainerEnvOf). */
  trainerEnv?: NodeJS.ProcessEnv;
  /** Seconds of training between progress lines (10), snapshots (20) and checkpoints (60). */
  reportSeconds?: number;
  snapshotSeconds?: number;
  checkpointSeconds?: number;
  usableMarginDb?: number;
  /** snapshotVerdict.ts's face SSIM margin (default DEFAULT_FACE_SSIM_MARGIN). */
  usableFaceSsimMargin?: number;
  /**
   * How long a job's lock lasts without renewal (default 10 s): a node silent that
   * long is taken for dead and its job resumed elsewhere. The lock is renewed every
   * lockSeconds / 2 and the stalled check runs as often.
   */
  lockSeconds?: number;
  /** How long close() waits for trainers to save their checkpoint before killing them (default 30 s). */
  stopTimeoutMs?: number;
}

export interface TrainingWorkerEvents extends Record<string, unknown> {
  /** A trainer started on a job: from scratch, or resumed from a checkpoint of `resumedFromMs` of training. */
  attempt: { jobId: string; resumedFromMs: number | undefined; attempts: number };
  /** A job left this node: done, failed (with the reason), cancelled, or back in the queue. */
  ended: { jobId: string; outcome: 'done' | 'failed' | 'cancelled' | 'requeued' | 'retry'; error?: string };
}

export class TrainingWorker extends TypedEmitter<TrainingWorkerEvents> {
  readonly dir: string;
  readonly maxAttempts: number;
  readonly lockSeconds: number;
  readonly #o: TrainingWorkerOptions;
  readonly #command: readonly string[];
  readonly #connection: Redis;
  readonly #subscriber: Redis;
  readonly #worker: Worker;
  readonly #attempts = new Map<string, TrainingAttempt>();
  readonly #cancelled = new Set<string>();
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(options: TrainingWorkerOptions) {
    super();
    this.#o = options;
    this.dir = resolve(options.dir);
    this.maxAttempts = options.maxAttempts ?? 3;
    this.lockSeconds = options.lockSeconds ?? 10;
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${this.maxAttempts}`);
    if (!(this.lockSeconds >= 1)) throw new RangeError(`lockSeconds must be >= 1, got ${this.lockSeconds}`);
    const train = voxfaceCommand('train');
    this.#command = options.trainerCommand ?? (existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...train] : train);
    // BullMQ's blocking connections must retry forever (maxRetriesPerRequest: null).
    this.#connection = new Redis(options.redisUrl, bullConnectionOptions(() => this.#closing !== undefined));
    this.#subscriber = new Redis(options.redisUrl, bullConnectionOptions(() => this.#closing !== undefined));
    this.#worker = new Worker(TRAINING_QUEUE, (job, token) => this.#process(job, token), {
      connection: this.#connection, prefix: QUEUE_PREFIX, concurrency, autorun: false,
      lockDuration: this.lockSeconds * 1000, stalledInterval: this.lockSeconds * 500,
      // Our own count (crashes and lost nodes, #process) fails the job first; this is BullMQ's backstop.
      maxStalledCount: this.maxAttempts,
    });
    this.#worker.on('error', (error) => logger.warn(`queue: ${error.message}`));
    // ioredis reconnects by itself; without a listener each failed attempt would be an "unhandled error event".
    this.#subscriber.on('error', (error: Error) => logger.warn(`cancel channel: ${error.message}`));
    this.#worker.on('failed', (job, error) => {
      if (job) logger.warn(`job ${job.id} failed: ${error.message}`);
    });
  }

  /** Connects, listens for cancels, and starts taking jobs. */
  async start(): Promise<void> {
    if (this.#started || this.#closing) return;
    this.#started = true;
    makeFolderDurable(join(this.dir, 'jobs'));
    this.#subscriber.on('message', (channel: string, jobId: string) => {
      if (channel === CANCEL_CHANNEL) this.#cancel(jobId);
    });
    await this.#subscriber.subscribe(CANCEL_CHANNEL);
    void this.#worker.run().catch((error: unknown) => logger.warn(`worker stopped: ${String(error)}`));
    await this.#worker.waitUntilReady();
  }

  /** Jobs training on this node now. */
  get running(): string[] {
    return [...this.#attempts.keys()];
  }

  /**
   * Stops taking jobs; running trainers save their checkpoint (SIGINT, SIGKILL
   * after the stop timeout) and their jobs go back to the queue, for this or
   * another node, without counting an attempt.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopTimeoutMs = this.#o.stopTimeoutMs ?? 30_000;
      const waits = [...this.#attempts.values()].map(async (attempt) => {
        attempt.kill('SIGINT');
        const timer = setTimeout(() => attempt.kill('SIGKILL'), stopTimeoutMs);
        await attempt.ended;
        clearTimeout(timer);
      });
      const closing = this.#worker.close();
      await Promise.all(waits);
      // Bounded: with Redis unreachable the worker's graceful close would wait for it for good.
      await settleWithin(closing, 5000);
      this.#subscriber.disconnect();
      this.#connection.disconnect();
    })();
    return this.#closing;
  }

  #cancel(jobId: string): void {
    const attempt = this.#attempts.get(jobId);
    if (!attempt) return;
    logger.info(`job ${jobId}: cancelled, stopping its trainer`);
    this.#cancelled.add(jobId);
    // SIGKILL, not SIGINT: the job's folder is about to be removed, so the ~2 s the trainer
    // spends saving its checkpoint and final files on SIGINT (measured in the cluster test) would only delay the delete.
    attempt.kill('SIGKILL');
  }

  /** The record the job's last update carried (so usable, installs, quality carry over nodes), or a fresh one. */
  #recordOf(job: Job, data: TrainingJobData): SharedJob {
    const last = trainingUpdateSchema.safeParse(job.progress);
    return last.success && last.data.job.id === data.id ? last.data.job : initialJobRecord(data);
  }

  async #process(job: Job, token: string | undefined): Promise<{ state: 'done' | 'cancelled' }> {
    const parsed = trainingJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      logger.warn(`job ${job.id}: refused: invalid training job data: ${describeIssues(parsed.error)}`);
      throw new UnrecoverableError(`invalid training job data: ${describeIssues(parsed.error)}`);
    }
    const data = parsed.data;
    if (job.id !== data.id) throw new UnrecoverableError(`invalid training job data: id '${data.id}' is not the job's id '${job.id}'`);
    if (await this.#connection.exists(cancelledKey(data.id))) return { state: 'cancelled' };

    const record = this.#recordOf(job, data);
    const updates = new UpdateChain(job);
    // Crashes so far (attemptsMade: the processor threw) and lost nodes (stalledCounter: the lock ran out).
    record.attempts = Math.max(record.attempts, job.attemptsMade + job.stalledCounter);
    if (record.attempts >= this.maxAttempts) {
      return this.#fail(job, record, updates, `trainer crashed or its node was lost ${record.attempts} times`, record.stderrTail ?? '');
    }
    const workDir = join(this.dir, 'jobs', data.id);
    makeFolderDurable(workDir);
    const attempt = new TrainingAttempt({
      job: record, dataset: join(this.dir, data.dataset), workDir, store: this.#o.store, command: this.#command, cwd: REPO_ROOT,
      niceness: this.#o.niceness ?? 10, trainerEnv: this.#o.trainerEnv, reportSeconds: this.#o.reportSeconds ?? 10, snapshotSeconds: this.#o.snapshotSeconds ?? 20,
      checkpointSeconds: this.#o.checkpointSeconds ?? 60, usablePsnrFloor: data.usablePsnr, usableMarginDb: this.#o.usableMarginDb ?? DEFAULT_MARGIN_DB,
      usableFaceSsimMargin: this.#o.usableFaceSsimMargin ?? DEFAULT_FACE_SSIM_MARGIN,
      onUpdate: (update) => updates.push(update),
    });
    this.#attempts.set(data.id, attempt);
    this.emit('attempt', { jobId: data.id, resumedFromMs: attempt.resumedFromMs, attempts: record.attempts });
    let end;
    try {
      end = await attempt.ended;
    } finally {
      this.#attempts.delete(data.id);
    }
    const result = attempt.job;
    if (this.#cancelled.delete(data.id)) {
      result.state = 'cancelled';
      result.finishedAt = new Date().toISOString();
      result.progress = { ...result.progress, stage: 'cancelled' };
      updates.push({ kind: 'finished', job: result });
      await updates.flushed();
      this.emit('ended', { jobId: data.id, outcome: 'cancelled' });
      return { state: 'cancelled' };
    }
    if (end.kind === 'done') {
      result.state = 'done';
      result.finishedAt = new Date().toISOString();
      result.progress = { ...result.progress, stage: 'done', etaMs: 0 };
      updates.push({ kind: 'finished', job: result });
      await updates.flushed();
      logger.info(`job ${data.id} done: avatar ${data.avatarId} of ${data.owner}, ${result.installs} version(s) installed`);
      this.emit('ended', { jobId: data.id, outcome: 'done' });
      return { state: 'done' };
    }
    if (this.#closing && end.kind === 'crashed') {
      // Stopped by close(): the checkpoint is saved, and it is not the job's fault: no attempt is counted.
      result.state = 'queued';
      result.progress = { ...result.progress, stage: 'queued' };
      updates.push({ kind: 'progress', job: result });
      await updates.flushed();
      await job.moveToWait(token);
      this.emit('ended', { jobId: data.id, outcome: 'requeued' });
      throw new WaitingError();
    }
    if (end.kind === 'refused') return this.#fail(job, result, updates, `trainer refused its input (${end.how})`, end.stderr);
    if (end.kind === 'install-failed') return this.#fail(job, result, updates, 'avatar could not be installed (see the trainer node\'s log)', end.stderr);
    result.attempts += 1;
    result.stderrTail = stderrTail(end.stderr);
    if (result.attempts >= this.maxAttempts) return this.#fail(job, result, updates, `trainer crashed ${result.attempts} times (last: ${end.how})`, end.stderr);
    logger.warn(`job ${data.id}: trainer ended (${end.how}); retry ${result.attempts + 1} of ${this.maxAttempts}`);
    result.state = 'queued';
    result.progress = { ...result.progress, stage: 'queued' };
    updates.push({ kind: 'progress', job: result });
    await updates.flushed();
    this.emit('ended', { jobId: data.id, outcome: 'retry', error: end.how });
    throw new Error(`trainer ended (${end.how})`);
  }

  async #fail(job: Job, record: SharedJob, updates: UpdateChain, error: string, stderr: string): Promise<never> {
    record.state = 'failed';
    record.error = error;
    record.stderrTail = stderrTail(stderr);
    record.finishedAt = new Date().toISOString();
    record.updatedAt = record.finishedAt;
    record.progress = { ...record.progress, stage: 'failed' };
    updates.push({ kind: 'finished', job: record });
    await updates.flushed();
    logger.warn(`job ${job.id} (${record.owner}/${record.avatarId}) failed: ${error}`);
    this.emit('ended', { jobId: record.id, outcome: 'failed', error });
    throw new UnrecoverableError(error);
  }
}

/**
 * A job's updates, written one after another (`job.updateProgress`), so the SFU
 * nodes see them in order; a write that fails is logged and the next one goes on
 * (the record in each update is whole, so a lost one is made up by the next).
 */
class UpdateChain {
  readonly #job: Job;
  #tail: Promise<void> = Promise.resolve();

  constructor(job: Job) {
    this.#job = job;
  }

  push(update: TrainingUpdate): void {
    const copy = structuredClone(update);
    this.#tail = this.#tail.then(() => this.#job.updateProgress(copy)).catch((error: unknown) => {
      logger.warn(`job ${this.#job.id}: update not written: ${String(error)}`);
    });
  }

  flushed(): Promise<void> {
    return this.#tail;
  }
}
