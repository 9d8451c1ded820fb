/**
 * Which queued training job starts next, fairly across users: one user who
 * queues many jobs must not keep everyone else waiting behind them.
 *
 * Rule (round-robin over users): among users with a queued job, the one with
 * the fewest jobs running now; among those, the one whose last job started
 * longest ago (a user who never started one first); then that user's oldest
 * queued job. With one trainer at a time (the default) this alternates users
 * job by job; with several it also keeps one user from holding them all.
 */
import type { TrainingJob } from './TrainingJobTypes';

/**
 * `jobs` in queue order (oldest first); `lastStartOf` maps an owner to a number
 * that grows with each start (a counter), absent for owners never started.
 */
export function pickNextJob(jobs: Iterable<TrainingJob>, lastStartOf: ReadonlyMap<string, number>): TrainingJob | undefined {
  const running = new Map<string, number>();
  const oldestQueued = new Map<string, TrainingJob>();
  for (const job of jobs) {
    if (job.state === 'running') running.set(job.owner, (running.get(job.owner) ?? 0) + 1);
    else if (job.state === 'queued' && !oldestQueued.has(job.owner)) oldestQueued.set(job.owner, job);
  }
  let best: TrainingJob | undefined;
  let bestKey: [number, number] | undefined;
  // Map order is the order of each user's oldest queued job, so full ties go to the user who queued first.
  for (const [owner, job] of oldestQueued) {
    const key: [number, number] = [running.get(owner) ?? 0, lastStartOf.get(owner) ?? -1];
    if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
      best = job;
      bestKey = key;
    }
  }
  return best;
}
