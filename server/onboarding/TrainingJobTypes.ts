/**
 * Training jobs as persisted in `<dir>/jobs.json` and the events the queue emits.
 * Types only.
 */

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Where a job is: queued, loading the dataset, training, installing the avatar, then done/failed/cancelled. */
export type JobStage = 'queued' | 'loading' | 'training' | 'installing' | 'done' | 'failed' | 'cancelled';

export interface TrainingOptions {
  /** Total wall-clock training budget over all attempts and restarts. */
  minutes: number;
  res: number;
  model: 'default' | 'small';
}

export interface TrainingProgress {
  stage: JobStage;
  /** Optimiser steps so far (over resumed runs). */
  step: number;
  /** PSNR (dB) of the held-out test frame, from the trainer's last report; null before the first. */
  psnr: number | null;
  trainPsnr: number | null;
  loss: number | null;
  /** Training time so far, over resumed runs, ms. */
  elapsedMs: number;
  /** Training time left in the budget, ms (loading and saving come on top). */
  etaMs: number;
}

export interface TrainingJob {
  id: string;
  owner: string;
  avatarId: string;
  /** Dataset folder (docs/dataset.md). */
  dataset: string;
  /** The job's own folder: avatar.vxa, avatar.vxa.ckpt, trainer.log. */
  workDir: string;
  options: TrainingOptions;
  state: JobState;
  /** Trainer processes started that ended without finishing (crashes; a server stop does not count). */
  attempts: number;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** Process id of the running trainer, so a restarted server can stop an orphan. */
  pid?: number;
  progress: TrainingProgress;
  /** Why it failed, and the last lines the trainer wrote to stderr. */
  error?: string;
  stderrTail?: string;
}

export interface JobsFile {
  version: 1;
  jobs: TrainingJob[];
}

export interface TrainingQueueEvents extends Record<string, unknown> {
  /** Every change of stage and every progress line of a trainer. */
  progress: { job: TrainingJob; progress: TrainingProgress };
  /** A job ended (done, failed or cancelled). */
  finished: { job: TrainingJob };
}
