/**
 * The learning rates' multiplier over a training run's budget: 1 (the constant rates the
 * trainers were tuned at) until the last `share` of the budget, then a geometric decay to
 * `floor` at its end.
 *
 * Why (docs/engine.md "Learning rates"): at constant rates the end point wanders. Pinkwall's
 * 10-minute avatar scored 27.57 dB in the face at step 4163, 27.22 a thousand steps later
 * and 27.54 on a run 13 steps from that. Low rates at the end settle the model at the bottom
 * of the valley it is crossing. On all six shared clips, 3900 steps at constant rates then
 * 1300 more (the onboarding's 10 minutes here) with this tail against constant rates: face
 * PSNR +0.11 dB on average (-0.11 to +0.34; higher on five clips), face SSIM higher on five.
 * Geometric (not a drop to 0.1x, which is what was first measured) so that the tail's first
 * steps still learn at high rates and its last ones only settle, below 0.1x.
 *
 * `voxface train --resume` counts the checkpoint's time and steps in the budget: the
 * onboarding's resumed jobs pass what is left of theirs, so their progress continues where
 * it stopped; a finished avatar trained on for N more minutes gets the budget "its time so
 * far + N", back at full rates only while that is under three quarters spent.
 */

export interface LearningRateTail {
  /** Share of the budget, at its end, over which the rates decay (0: constant rates). */
  readonly share: number;
  /** Multiplier at the budget's end. */
  readonly floor: number;
}

export const DEFAULT_LR_TAIL: LearningRateTail = { share: 0.25, floor: 0.03 };

export function validateLearningRateTail(tail: LearningRateTail): void {
  if (!(tail.share >= 0 && tail.share <= 1)) throw new RangeError(`learning-rate tail: share must be in [0, 1], got ${tail.share}`);
  if (!(tail.floor > 0 && tail.floor <= 1)) throw new RangeError(`learning-rate tail: floor must be in (0, 1], got ${tail.floor}`);
}

/** The multiplier at `progress` (the share of the budget spent, clamped to [0, 1]). */
export function learningRateScale(progress: number, tail: LearningRateTail = DEFAULT_LR_TAIL): number {
  if (Number.isNaN(progress)) throw new RangeError('learningRateScale: progress is NaN');
  validateLearningRateTail(tail);
  if (tail.share === 0) return 1;
  const p = Math.min(1, Math.max(0, progress)), start = 1 - tail.share;
  if (p <= start) return 1;
  // min: (p - start) / share rounds a hair above 1 for some shares, which would dip under the floor.
  return tail.floor ** Math.min(1, (p - start) / tail.share);
}

/** The bounds of a run's budget; each given one must be positive and finite. */
export interface RunBudget {
  readonly ms: number;
  readonly steps?: number;
  readonly cpuSeconds?: number;
}

/**
 * The share of a run's budget spent: the largest of its bounds' shares (wall-clock time,
 * steps, process CPU), each counted as `voxface train` counts it (time and steps include a
 * resumed checkpoint's; CPU is this invocation's, as the checkpoint does not record it).
 */
export function budgetProgress(spent: { elapsedMs: number; steps: number; cpuSeconds: number }, budget: RunBudget): number {
  for (const [name, v] of Object.entries(budget))
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new RangeError(`budgetProgress: the budget's ${name} must be positive and finite, got ${v}`);
  const shares = [spent.elapsedMs / budget.ms];
  if (budget.steps !== undefined) shares.push(spent.steps / budget.steps);
  if (budget.cpuSeconds !== undefined) shares.push(spent.cpuSeconds / budget.cpuSeconds);
  return Math.min(1, Math.max(0, ...shares));
}

/** A step's learning-rate multiplier (StepOptions.lrScale), default 1, checked. */
export function checkedLrScale(lrScale: number | undefined): number {
  if (lrScale === undefined) return 1;
  if (!(lrScale > 0 && lrScale <= 1e3)) throw new RangeError(`lrScale must be in (0, 1000], got ${lrScale}`);
  return lrScale;
}
