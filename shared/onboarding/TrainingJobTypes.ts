/**
 * A training job as the server keeps it (in `<dir>/jobs.json`) and, less its
 * server paths, pid and trainer stderr, as the onboarding page receives it.
 * Both tiers use these, so they live here; the queue's own file format and
 * events are in server/onboarding/TrainingJobTypes.ts. Types only (and one bound).
 */

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Where a job is: queued, loading the dataset, training, installing the avatar, then done/failed/cancelled. */
export type JobStage = 'queued' | 'loading' | 'training' | 'installing' | 'done' | 'failed' | 'cancelled';

export interface TrainingOptions {
  /** Total wall-clock training budget over all attempts and restarts. */
  minutes: number;
  res: number;
  model: 'default' | 'small' | 'fast';
  /**
   * Train the avatar's expression encoder with it (`voxface train --encoder`, issue 16):
   * the owner's page then sends code packets. Absent (jobs from before) means off.
   */
  encoder?: boolean;
  /**
   * Measure the final avatar's expression fidelity (`voxface train --fidelity`: its held-out
   * renders re-tracked by FaceLandmarker, docs/fidelity.md) for the progress view. Absent: off.
   */
  fidelity?: boolean;
}

/**
 * The final avatar's expression fidelity: landmark distances between its held-out renders
 * and the recorded frames, pose-normalised, in px at 512 px face scale (lower is closer);
 * the nearest training frame's mouth distance is what a real picture of the person scores.
 * Or why it could not be measured (no Chromium beside the trainer, say), in words fit for the
 * owner (no server paths: the trainer's own message stays in its stderr). Checked by
 * jobFidelity.ts's schema wherever it is read.
 */
export type JobFidelity =
  | { mouthPx: number; eyesPx: number; lipOpeningPx: number; nearestFrameMouthPx: number | null; comparedFrames: number }
  | { error: string };

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
  /** True once a version of the avatar is in the store: the owner can join as it. */
  usable: boolean;
  /** Held-out PSNR (dB, fused inference form, up to three held-out frames) of the installed version; null before one. */
  installedPsnr: number | null;
  /** Versions installed so far (usable snapshots, then the final avatar if it is better). */
  installs: number;
  /** The PSNR a snapshot needs to be installed: the configured floor, or the mean image's + margin when higher. */
  usablePsnr: number;
  /** The mean training image's PSNR on the same held-out frames; null before the first snapshot. */
  baselinePsnr: number | null;
  /**
   * SSIM inside the face oval on the held-out frames (server/onboarding/snapshotVerdict.ts):
   * the last snapshot's, the mean training image's, and what a snapshot needs to be usable
   * (the mean image's + a margin). Null when the frames have no face oval; absent in
   * records from before the face rule.
   */
  faceSsim?: number | null;
  baselineFaceSsim?: number | null;
  usableFaceSsim?: number | null;
  /** Held-out PSNR at each snapshot (the quality chart), at most QUALITY_POINTS. */
  quality: QualityPoint[];
  /** Set when a job with options.fidelity is done. */
  fidelity?: JobFidelity;
  /** Why it failed, and the last lines the trainer wrote to stderr. */
  error?: string;
  stderrTail?: string;
}

export interface QualityPoint {
  elapsedMs: number;
  psnr: number;
  /** The snapshot's face SSIM, when it measured one (absent before the face rule, and for the final avatar). */
  faceSsim?: number;
}

export const QUALITY_POINTS = 200;
