/**
 * The SFU node's training queue on a cluster (docs/cluster.md, "Training on a
 * queue"): jobs are BullMQ jobs in Redis, trained by trainer nodes
 * (TrainingWorker.ts); this node enqueues and never trains. It implements the
 * same TrainingJobQueue as the single-process TrainingQueue, so the onboarding
 * service, its progress channel and the server's reload on `installed` work
 * unchanged.
 *
 * - Records: every job's record is mirrored in memory (the service answers HTTP
 *   from it synchronously): loaded from the queue at start (each job's latest
 *   update is kept with it by BullMQ), then kept current from QueueEvents:
 *   `progress` carries each TrainingUpdate a trainer wrote (checked with zod),
 *   `added` and `removed` the jobs other SFU nodes enqueue and delete, `stalled`
 *   a job whose trainer node was lost (shown queued until another resumes it), and
 *   `failed` the jobs BullMQ itself failed (a node lost too often, data refused).
 * - Events: as TrainingQueue's. `installed` reaches every SFU node, so the node
 *   hosting the owner's call reloads the avatar; `preview` reads the PNG from the
 *   job's folder in the shared onboarding folder (not sent through Redis).
 * - Paths: a job's data names its dataset relative to the shared onboarding
 *   folder, since nodes may mount it at different places.
 * - Expiry: failed and cancelled jobs are forgotten after the retention, as on one
 *   server (every SFU node does it; each step is idempotent).
 */
import { bullConnectionOptions, settleWithin } from '../bullConnections';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { TypedEmitter } from '../../../shared/TypedEmitter';
import { Logger } from '../../Logger';
import type { EnqueueRequest, TrainingJobQueue } from '../../onboarding/TrainingJobQueue';
import type { TrainingJob, TrainingQueueEvents } from '../../onboarding/TrainingJobTypes';
import {
  describeIssues, initialJobRecord, TRAINING_JOB_DATA_VERSION, trainingJobDataSchema, trainingUpdateSchema, type SharedJob, type TrainingJobData,
  type TrainingUpdate,
} from './trainingMessages';
import { AVATAR_FILE, CANCEL_CHANNEL, cancelledKey, CANCELLED_TTL_SECONDS, QUEUE_PREFIX, TRAINING_QUEUE } from './trainingQueueNames';

const logger = new Logger('ClusterTrainingQueue');
/** Preview PNGs larger than this are not sent (a 2x256 px strip is ~100 KB), as on one server. */
const MAX_PREVIEW_BYTES = 1024 * 1024;
const EXPIRY_CHECK_MS = 3600_000;
/** Events kept in the queue's Redis stream: each is a few kB (a job's record), so ~2 MB at most. */
const EVENTS_MAX_LEN = 1000;
/** Removed job ids remembered (so a late update cannot bring one back): far more than are removed within any update's delay. */
const REMOVED_KEPT = 10_000;
const JOB_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

export interface ClusterTrainingQueueOptions {
  redisUrl: string;
  /** The shared onboarding folder as this node mounts it (datasets/ and jobs/ inside). */
  dir: string;
  /** Trainer crashes and lost nodes per job before it is failed (default 3); trainer nodes count them. */
  maxAttempts?: number;
  /** Held-out PSNR floor a snapshot needs (default 18), sent with each job. */
  usablePsnr?: number;
  /** How long a failed or cancelled job is kept, ms (default 24 h). */
  failedRetentionMs?: number;
  /** How long remove() waits for a trainer node to stop the job (default 30 s). */
  stopTimeoutMs?: number;
}

export class ClusterTrainingQueue extends TypedEmitter<TrainingQueueEvents> implements TrainingJobQueue {
  readonly dir: string;
  readonly maxAttempts: number;
  /** Redis holds the jobs: there is no jobs.json to lose. */
  readonly jobsFileMovedAside = undefined;
  readonly sharedFolders = true;
  readonly #usablePsnr: number;
  readonly #failedRetentionMs: number;
  readonly #stopTimeoutMs: number;
  readonly #connection: Redis;
  readonly #eventsConnection: Redis;
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #jobs = new Map<string, TrainingJob>();
  /** Jobs removed here: late updates of their trainer must not bring them back. */
  readonly #removed = new Set<string>();
  /** Queue events are applied one at a time, in order (some need a Redis read first). */
  #serial: Promise<void> = Promise.resolve();
  #expiryTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(options: ClusterTrainingQueueOptions) {
    super();
    this.dir = resolve(options.dir);
    this.maxAttempts = options.maxAttempts ?? 3;
    this.#usablePsnr = options.usablePsnr ?? 18;
    this.#failedRetentionMs = options.failedRetentionMs ?? 24 * 3600_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${this.maxAttempts}`);
    if (!(this.#failedRetentionMs >= 0)) throw new RangeError(`failedRetentionMs must be >= 0, got ${this.#failedRetentionMs}`);
    this.#connection = new Redis(options.redisUrl, bullConnectionOptions(() => this.#closing !== undefined));
    this.#eventsConnection = new Redis(options.redisUrl, bullConnectionOptions(() => this.#closing !== undefined));
    this.#queue = new Queue(TRAINING_QUEUE, { connection: this.#connection, prefix: QUEUE_PREFIX, streams: { events: { maxLen: EVENTS_MAX_LEN } } });
    this.#queue.on('error', (error) => logger.warn(`queue: ${error.message}`));
    this.#events = new QueueEvents(TRAINING_QUEUE, { connection: this.#eventsConnection, prefix: QUEUE_PREFIX, autorun: false });
    this.#events.on('error', (error) => logger.warn(`queue events: ${error.message}`));
    this.#events.on('progress', ({ jobId, data }) => this.#inOrder(() => this.#onUpdate(jobId, data)));
    this.#events.on('added', ({ jobId }) => this.#inOrder(() => this.#onAdded(jobId)));
    this.#events.on('removed', ({ jobId }) => this.#inOrder(async () => this.#forget(jobId)));
    this.#events.on('failed', ({ jobId, failedReason }) => this.#inOrder(async () => this.#onFailed(jobId, failedReason)));
    this.#events.on('stalled', ({ jobId }) => this.#inOrder(async () => this.#onStalled(jobId)));
  }

  /** Listens to the queue's events, then loads every job's record (so none is missed in between). */
  async start(): Promise<void> {
    if (this.#started || this.#closing) return;
    this.#started = true;
    void this.#events.run().catch((error: unknown) => logger.warn(`queue events stopped: ${String(error)}`));
    await this.#events.waitUntilReady();
    await this.#inOrder(async () => {
      for (const job of await this.#queue.getJobs([...JOB_STATES])) {
        if (job?.id && !this.#jobs.has(job.id)) this.#track(job);
      }
    });
    this.expire();
    const every = Math.min(EXPIRY_CHECK_MS, Math.max(1000, this.#failedRetentionMs / 4));
    this.#expiryTimer = setInterval(() => {
      try { this.expire(); } catch (error) { logger.warn(`expiring failed jobs: ${String(error)}`); }
    }, every).unref();
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#expiryTimer);
      // Bounded: with Redis unreachable the graceful close would wait for it for good.
      await settleWithin((async () => {
        await this.#events.close().catch(() => undefined);
        await this.#queue.close().catch(() => undefined);
      })(), 2000);
      this.#eventsConnection.disconnect();
      this.#connection.disconnect();
    })();
    return this.#closing;
  }

  /**
   * Records the job here and adds it to the queue. The add completes in the
   * background (ioredis holds commands while Redis is briefly away); if it fails,
   * the job ends `failed` with the reason, so the page says so.
   */
  enqueue(request: EnqueueRequest): TrainingJob {
    if (this.#closing) throw new Error('training queue is closed');
    const dataset = resolve(request.dataset);
    const inside = relative(this.dir, dataset);
    if (!inside || inside.startsWith('..') || isAbsolute(inside)) {
      throw new TypeError(`dataset ${dataset} is not inside the shared onboarding folder ${this.dir}: trainer nodes could not read it`);
    }
    const id = `job-${randomBytes(9).toString('base64url')}`;
    const data: TrainingJobData = {
      version: TRAINING_JOB_DATA_VERSION, id, owner: request.owner, avatarId: request.avatarId, dataset: inside,
      options: { ...request.options }, usablePsnr: this.#usablePsnr, createdAt: new Date().toISOString(),
    };
    const checked = trainingJobDataSchema.safeParse(data);
    if (!checked.success) throw new TypeError(`training job refused: ${describeIssues(checked.error)}`);
    const job = this.#local(initialJobRecord(data), inside);
    this.#jobs.set(id, job);
    this.emit('progress', { job: structuredClone(job), progress: { ...job.progress } });
    this.#queue.add('train', data, { jobId: id, attempts: this.maxAttempts, removeOnComplete: false, removeOnFail: false }).catch((error: unknown) => {
      this.#onFailed(id, `could not be queued: ${error instanceof Error ? error.message : String(error)}`);
    });
    return structuredClone(job);
  }

  get(id: string): TrainingJob | undefined {
    const job = this.#jobs.get(id);
    return job && structuredClone(job);
  }

  list(owner?: string): TrainingJob[] {
    return [...this.#jobs.values()].filter((j) => owner === undefined || j.owner === owner)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((j) => structuredClone(j));
  }

  /**
   * Stops the job wherever it runs and forgets it: a waiting job is removed from
   * the queue; a running one's trainer node is asked to stop it (CANCEL_CHANNEL,
   * and a marker in case a node picks it up meanwhile), then it is removed.
   */
  async remove(id: string): Promise<void> {
    const record = this.#jobs.get(id);
    if (!record) return;
    this.#markRemoved(id);
    await this.#connection.set(cancelledKey(id), '1', 'EX', CANCELLED_TTL_SECONDS);
    const deadline = Date.now() + this.#stopTimeoutMs;
    for (;;) {
      const job = await this.#queue.getJob(id);
      if (!job) break;
      try {
        await job.remove();
        break;
      } catch {
        // Locked: a trainer node runs it. Ask it to stop (again: it may have just picked the job up).
        await this.#connection.publish(CANCEL_CHANNEL, id);
        if (Date.now() > deadline) {
          logger.warn(`job ${id}: its trainer node did not stop it within ${this.#stopTimeoutMs} ms; forgotten here, the marker stops it later`);
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (record.state !== 'done' && record.state !== 'failed' && record.state !== 'cancelled') {
      record.state = 'cancelled';
      record.finishedAt = record.updatedAt = new Date().toISOString();
      record.progress = { ...record.progress, stage: 'cancelled' };
      this.emit('progress', { job: structuredClone(record), progress: { ...record.progress } });
      this.emit('finished', { job: structuredClone(record) });
    }
    this.#jobs.delete(id);
    rmSync(record.workDir, { recursive: true, force: true });
  }

  /** Forgets failed and cancelled jobs that ended more than the retention before `now` (as TrainingQueue.expire). */
  expire(now = Date.now()): TrainingJob[] {
    const expired: TrainingJob[] = [];
    for (const job of [...this.#jobs.values()]) {
      if (job.state !== 'failed' && job.state !== 'cancelled') continue;
      if (!(now - Date.parse(job.finishedAt ?? job.updatedAt) >= this.#failedRetentionMs)) continue;
      this.#jobs.delete(job.id);
      this.#markRemoved(job.id);
      rmSync(job.workDir, { recursive: true, force: true });
      void this.#queue.remove(job.id).catch((error: unknown) => logger.warn(`job ${job.id}: not removed from the queue: ${String(error)}`));
      expired.push(job);
    }
    for (const job of expired) {
      logger.info(`job ${job.id} (${job.owner}/${job.avatarId}, ${job.state} at ${job.finishedAt}) expired: its data is removed`);
      this.emit('expired', { job: structuredClone(job) });
    }
    return expired.map((job) => structuredClone(job));
  }

  #markRemoved(id: string): void {
    this.#removed.add(id);
    // Oldest first: a Set iterates in insertion order.
    if (this.#removed.size > REMOVED_KEPT) this.#removed.delete(this.#removed.values().next().value!);
  }

  #inOrder(step: () => Promise<void>): Promise<void> {
    this.#serial = this.#serial.then(step).catch((error: unknown) => logger.warn(`queue event: ${String(error)}`));
    return this.#serial;
  }

  /** A record with this node's paths for the job's dataset and folder. */
  #local(shared: SharedJob, dataset: string): TrainingJob {
    return { ...shared, dataset: join(this.dir, dataset), workDir: join(this.dir, 'jobs', shared.id) };
  }

  /** Mirrors a job read from the queue: its latest update's record, else its data's. False when its data is not a job's. */
  #track(job: Job): TrainingJob | undefined {
    const data = trainingJobDataSchema.safeParse(job.data);
    if (!data.success || data.data.id !== job.id || this.#removed.has(data.data.id)) return undefined;
    const last = trainingUpdateSchema.safeParse(job.progress);
    const shared = last.success && last.data.job.id === job.id ? last.data.job : initialJobRecord(data.data);
    // BullMQ failed it itself (a node lost too often): no trainer wrote that into the record.
    if (job.failedReason && shared.state !== 'failed' && shared.state !== 'cancelled' && job.finishedOn) {
      Object.assign(shared, { state: 'failed', error: job.failedReason.slice(0, 4000), finishedAt: new Date(job.finishedOn).toISOString() });
      shared.progress = { ...shared.progress, stage: 'failed' };
    }
    const record = this.#local(shared, data.data.dataset);
    this.#jobs.set(record.id, record);
    return record;
  }

  async #onAdded(jobId: string): Promise<void> {
    if (this.#jobs.has(jobId) || this.#removed.has(jobId)) return;
    const job = await this.#queue.getJob(jobId);
    const record = job && this.#track(job);
    if (record) this.emit('progress', { job: structuredClone(record), progress: { ...record.progress } });
  }

  async #onUpdate(jobId: string, data: unknown): Promise<void> {
    if (this.#removed.has(jobId)) return;
    const parsed = trainingUpdateSchema.safeParse(data);
    if (!parsed.success || parsed.data.job.id !== jobId) {
      logger.warn(`job ${jobId}: an update that is not a training update was ignored${parsed.success ? '' : `: ${describeIssues(parsed.error)}`}`);
      return;
    }
    if (!this.#jobs.has(jobId)) await this.#onAdded(jobId);
    const current = this.#jobs.get(jobId);
    if (!current) return;
    this.#apply(current, parsed.data);
  }

  #apply(current: TrainingJob, update: TrainingUpdate): void {
    const job: TrainingJob = { ...update.job, dataset: current.dataset, workDir: current.workDir };
    this.#jobs.set(job.id, job);
    const view = () => structuredClone(job);
    switch (update.kind) {
      case 'progress':
        this.emit('progress', { job: view(), progress: { ...job.progress } });
        break;
      case 'finished':
        this.emit('progress', { job: view(), progress: { ...job.progress } });
        this.emit('finished', { job: view() });
        break;
      case 'installed':
        this.emit('installed', { job: view(), psnr: update.psnr ?? Number.NaN, final: update.final });
        break;
      case 'preview': {
        const path = join(job.workDir, `${AVATAR_FILE}.preview.png`);
        try {
          if (statSync(path).size <= MAX_PREVIEW_BYTES) {
            this.emit('preview', { job: view(), png: readFileSync(path), step: update.step, psnr: update.psnr, elapsedMs: update.elapsedMs });
          }
        } catch (error) {
          logger.warn(`job ${job.id}: preview unreadable: ${String(error)}`);
        }
        break;
      }
    }
  }

  /** BullMQ failed a job: a trainer's own failure is already in its record; a lost node's or refused data's is not. */
  #onFailed(jobId: string, failedReason: string): void {
    const job = this.#jobs.get(jobId);
    if (!job || job.state === 'failed' || job.state === 'cancelled' || job.state === 'done') return;
    job.state = 'failed';
    job.error = failedReason.slice(0, 4000);
    job.finishedAt = job.updatedAt = new Date().toISOString();
    job.progress = { ...job.progress, stage: 'failed' };
    logger.warn(`job ${jobId} (${job.owner}/${job.avatarId}) failed: ${job.error}`);
    this.emit('progress', { job: structuredClone(job), progress: { ...job.progress } });
    this.emit('finished', { job: structuredClone(job) });
  }

  /** A trainer node was lost mid-job and BullMQ put the job back: the page shows it waiting until another node resumes it. */
  #onStalled(jobId: string): void {
    const job = this.#jobs.get(jobId);
    if (!job || job.state !== 'running') return;
    logger.warn(`job ${jobId}: its trainer node was lost; back in the queue to resume from its checkpoint`);
    job.state = 'queued';
    job.updatedAt = new Date().toISOString();
    job.progress = { ...job.progress, stage: 'queued' };
    this.emit('progress', { job: structuredClone(job), progress: { ...job.progress } });
  }

  #forget(jobId: string): void {
    this.#jobs.delete(jobId);
  }
}
