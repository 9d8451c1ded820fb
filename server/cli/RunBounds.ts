/**
 * What one `voxface train` run may spend, in the three units its options give (wall clock,
 * steps, process CPU), and how much of it is spent. The loop's stop tests, the progress
 * bar and the learning-rate tail's budget all read this one object, so they cannot
 * disagree about a bound (they were three separate computations in train.ts).
 * - This run's bounds (--minutes, --steps, --cpu-seconds) count this invocation only.
 * - The tail's budget (LearningRateTail.budgetProgress) is the whole run's: a resumed
 *   checkpoint's time and steps count towards it, so a resumed job keeps its place in the
 *   schedule. CPU counts this invocation only, as a checkpoint does not record CPU.
 */
import { budgetProgress, type RunBudget } from '../engine/LearningRateTail';

export interface RunLimits {
  /** Wall-clock minutes of this run. */
  readonly minutes: number;
  /** Steps of this run (--steps). */
  readonly steps?: number;
  /** Process CPU seconds of this run (--cpu-seconds). */
  readonly cpuSeconds?: number;
}

/** What a resumed checkpoint had already spent (zeros for a fresh run). */
export interface SpentBefore {
  readonly elapsedMs: number;
  readonly steps: number;
}

/** Where the time comes from (tests give their own). */
export interface RunClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** This process's CPU seconds so far (user + system). */
  cpuSeconds(): number;
}

export const PROCESS_CLOCK: RunClock = {
  now: () => performance.now(),
  cpuSeconds: () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1e6;
  },
};

function checkPositive(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new RangeError(`RunBounds: ${name} must be positive and finite, got ${v}`);
}

export class RunBounds {
  readonly limits: RunLimits;
  readonly before: SpentBefore;
  /** The whole run's budget, as the learning-rate tail counts it (with the checkpoint's time and steps). */
  readonly tailBudget: RunBudget;
  readonly #clock: RunClock;
  #t0: number;
  #cpu0: number;

  constructor(limits: RunLimits, before: SpentBefore, clock: RunClock = PROCESS_CLOCK) {
    checkPositive('minutes', limits.minutes);
    checkPositive('steps', limits.steps);
    checkPositive('cpuSeconds', limits.cpuSeconds);
    if (!(Number.isFinite(before.elapsedMs) && before.elapsedMs >= 0 && Number.isInteger(before.steps) && before.steps >= 0))
      throw new RangeError(`RunBounds: the checkpoint's time and steps must be non-negative, got ${before.elapsedMs} ms and ${before.steps} steps`);
    this.limits = limits;
    this.before = before;
    this.tailBudget = {
      ms: before.elapsedMs + limits.minutes * 60_000,
      ...(limits.steps !== undefined ? { steps: before.steps + limits.steps } : {}),
      ...(limits.cpuSeconds !== undefined ? { cpuSeconds: limits.cpuSeconds } : {}),
    };
    this.#clock = clock;
    this.#t0 = clock.now();
    this.#cpu0 = clock.cpuSeconds();
  }

  /** Starts the run's clocks now (loading and setting up are not counted). */
  start(): void {
    this.#t0 = this.#clock.now();
    this.#cpu0 = this.#clock.cpuSeconds();
  }

  /** When this run started (the clock's milliseconds; start() moves it). */
  get startedAt(): number {
    return this.#t0;
  }

  get budgetMs(): number {
    return this.limits.minutes * 60_000;
  }

  /** When this run's wall-clock budget ends (the clock's milliseconds). */
  get endsAt(): number {
    return this.#t0 + this.budgetMs;
  }

  /** Milliseconds of this run so far. */
  elapsedMs(now = this.#clock.now()): number {
    return now - this.#t0;
  }

  /** CPU seconds of this run so far. */
  cpuSpent(): number {
    return this.#clock.cpuSeconds() - this.#cpu0;
  }

  /** This run's wall-clock budget is spent. */
  timeUp(now = this.#clock.now()): boolean {
    return this.elapsedMs(now) >= this.budgetMs;
  }

  /** This run's --steps or --cpu-seconds is spent (`stepCount` counts the checkpoint's steps too). */
  workDone(stepCount: number): boolean {
    const { steps, cpuSeconds } = this.limits;
    return (steps !== undefined && stepCount - this.before.steps >= steps) || (cpuSeconds !== undefined && this.cpuSpent() >= cpuSeconds);
  }

  /** Any of this run's bounds is spent. */
  done(stepCount: number, now = this.#clock.now()): boolean {
    return this.workDone(stepCount) || this.timeUp(now);
  }

  /**
   * [done, total] of this run's bound that is furthest spent (seconds, steps or CPU seconds),
   * for the progress bar: a --steps run shows steps, not seconds of the day-long default.
   */
  barProgress(stepCount: number, now = this.#clock.now()): [number, number] {
    const bounds: [number, number][] = [[Math.round(this.elapsedMs(now) / 1000), Math.round(this.budgetMs / 1000)]];
    if (this.limits.steps !== undefined) bounds.push([stepCount - this.before.steps, this.limits.steps]);
    if (this.limits.cpuSeconds !== undefined) bounds.push([Math.round(this.cpuSpent()), this.limits.cpuSeconds]);
    return bounds.reduce((a, b) => (b[0] / b[1] > a[0] / a[1] ? b : a));
  }

  /** The share of the tail's budget spent, in [0, 1]. */
  tailProgress(stepCount: number, now = this.#clock.now()): number {
    return budgetProgress({ elapsedMs: this.before.elapsedMs + this.elapsedMs(now), steps: stepCount, cpuSeconds: this.cpuSpent() }, this.tailBudget);
  }
}
