/**
 * What the onboarding service, its progress channel and the server use of a
 * training queue (issue 15). Two implementations:
 *
 * - TrainingQueue (this folder): the single-process queue, trainers as child
 *   processes of the server, jobs in `<dir>/jobs.json`. What a server without
 *   VOXFACE_REDIS_URL runs.
 * - ClusterTrainingQueue (server/cluster/training/): BullMQ jobs in Redis, trained
 *   by trainer nodes; this node only enqueues and mirrors the jobs' records from
 *   the queue's events (docs/cluster.md, "Training on a queue").
 *
 * Reads are synchronous (the service answers HTTP from them): each implementation
 * keeps every job's record in memory. Types only.
 */
import type { TrainingJob, TrainingOptions, TrainingQueueEvents } from './TrainingJobTypes';

export interface EnqueueRequest {
  owner: string;
  avatarId: string;
  /** The dataset folder; for a cluster queue, inside its onboarding folder (which trainers mount too). */
  dataset: string;
  options: TrainingOptions;
}

type Listener<T> = (payload: T) => void;

export interface TrainingJobQueue {
  /**
   * Where an unreadable jobs.json was moved at load (undefined: the job list is
   * complete). The service keeps datasets no job refers to while it is set.
   */
  readonly jobsFileMovedAside: string | undefined;
  /**
   * True when other nodes write into the same onboarding folder (a cluster): a
   * start-up sweep here cannot tell another node's half-written files (its pids are
   * not ours) from a crash's, so the service does not sweep.
   */
  readonly sharedFolders: boolean;
  /** Loads or resumes the jobs and starts whatever runs them; idempotent. */
  start(): Promise<void>;
  /** Stops listening (and this node's trainers, which keep their checkpoints); idempotent. */
  close(): Promise<void>;
  /**
   * Records and queues a job, answering its record at once; its first `progress`
   * event comes with it. A job the queue then fails to store ends `failed` with the reason.
   */
  enqueue(request: EnqueueRequest): TrainingJob;
  get(id: string): TrainingJob | undefined;
  /** All jobs, or those of one owner, oldest first. */
  list(owner?: string): TrainingJob[];
  /** Cancels a job (stopping its trainer wherever it runs) and forgets it, removing its folder. */
  remove(id: string): Promise<void>;
  on<K extends keyof TrainingQueueEvents>(event: K, listener: Listener<TrainingQueueEvents[K]>): unknown;
  off<K extends keyof TrainingQueueEvents>(event: K, listener: Listener<TrainingQueueEvents[K]>): unknown;
}
