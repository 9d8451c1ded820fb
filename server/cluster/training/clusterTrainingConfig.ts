/**
 * Settings of training on a queue (docs/cluster.md, "Training on a queue") that a
 * single server does not need: how often a trainer node's trainer writes a
 * checkpoint and a progress line, and how long a job's lock lasts (how soon a
 * lost trainer node's job resumes elsewhere).
 */
export interface ClusterTrainingConfig {
  /** VOXFACE_ONBOARDING_CHECKPOINT_SECONDS (60): training a lost trainer node loses at most. */
  checkpointSeconds: number;
  /** VOXFACE_ONBOARDING_REPORT_SECONDS (10): seconds between progress lines. */
  reportSeconds: number;
  /** VOXFACE_TRAINER_LOCK_SECONDS (10): a job's lock; renewed and checked for stalls every half of it. */
  lockSeconds: number;
}

function secondsFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new TypeError(`${name} must be a number in [${min}, ${max}], got '${raw}'`);
  return value;
}

export function clusterTrainingConfigFrom(env: NodeJS.ProcessEnv): ClusterTrainingConfig {
  return {
    checkpointSeconds: secondsFrom(env, 'VOXFACE_ONBOARDING_CHECKPOINT_SECONDS', 60, 1, 3600),
    reportSeconds: secondsFrom(env, 'VOXFACE_ONBOARDING_REPORT_SECONDS', 10, 1, 3600),
    lockSeconds: secondsFrom(env, 'VOXFACE_TRAINER_LOCK_SECONDS', 10, 2, 600),
  };
}
