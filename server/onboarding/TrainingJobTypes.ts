/**
 * Training jobs as persisted in `<dir>/jobs.json` and the events the queue emits.
 * The job itself is shared with the onboarding page (shared/onboarding/TrainingJobTypes.ts)
 * and re-exported here, so server code has one place to import job types from.
 * Types only.
 */
import type { TrainingJob, TrainingProgress } from '../../shared/onboarding/TrainingJobTypes';

export type {
  JobStage, JobState, QualityPoint, TrainingJob, TrainingOptions, TrainingProgress,
} from '../../shared/onboarding/TrainingJobTypes';
export { QUALITY_POINTS } from '../../shared/onboarding/TrainingJobTypes';

export interface JobsFile {
  version: 1;
  jobs: TrainingJob[];
}

export interface TrainingQueueEvents extends Record<string, unknown> {
  /** Every change of stage and every progress line of a trainer. */
  progress: { job: TrainingJob; progress: TrainingProgress };
  /** A job ended (done, failed or cancelled). */
  finished: { job: TrainingJob };
  /** A failed or cancelled job was forgotten after its retention period (its folder is removed; its dataset and uploads are the listener's). */
  expired: { job: TrainingJob };
  /** A better version of the avatar was installed in the store (live sessions may reload it). */
  installed: { job: TrainingJob; psnr: number; final: boolean };
  /** A small render | ground truth PNG of a held-out frame, from the latest snapshot. */
  preview: { job: TrainingJob; png: Buffer; step: number; psnr: number; elapsedMs: number };
}
