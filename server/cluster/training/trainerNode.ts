/**
 * The training side of a cluster node (docs/cluster.md, "Training on a queue"):
 * the TrainingWorker a node with role `trainer` runs, on the shared avatar folder.
 * `startTrainerNode` is all a trainer-only node (VOXFACE_ROLES=trainer) starts: no
 * mediasoup workers, no HTTP, only Redis and the shared folder.
 */
import { join } from 'node:path';
import type { AvatarStorage } from '../../avatar/AvatarStorage';
import { AvatarStore } from '../../avatar/AvatarStore';
import type { VoxfaceConfig } from '../../config';
import { TrainingWorker } from './TrainingWorker';
import { trainerEnvOf } from '../../onboarding/trainerArgs';

/** Where uploads, datasets and job folders live (VoxfaceServer's rule): shared by every node of a cluster. */
export function onboardingDirOf(config: VoxfaceConfig): string {
  return config.onboardingDir ?? join(config.avatarDir, '.onboarding');
}

/** A trainer node's worker, configured as the server's training queue is (concurrency, attempts, thresholds). */
export function trainingWorkerFor(config: VoxfaceConfig, store: AvatarStorage): TrainingWorker {
  const redisUrl = config.cluster.redisUrl;
  if (!redisUrl) throw new TypeError('a trainer node needs VOXFACE_REDIS_URL (its jobs come from Redis)');
  return new TrainingWorker({
    redisUrl, dir: onboardingDirOf(config), store, concurrency: config.onboardingConcurrency, maxAttempts: config.onboardingMaxAttempts,
    snapshotSeconds: config.onboardingSnapshotSeconds, usableMarginDb: config.onboardingUsableMarginDb,
    usableFaceSsimMargin: config.onboardingUsableFaceSsimMargin,
    checkpointSeconds: config.clusterTraining.checkpointSeconds, reportSeconds: config.clusterTraining.reportSeconds,
    lockSeconds: config.clusterTraining.lockSeconds, trainerEnv: trainerEnvOf(config),
  });
}

/** Starts taking training jobs; close() the worker to stop (trainers save their checkpoints, jobs go back to the queue). */
export async function startTrainerNode(config: VoxfaceConfig): Promise<TrainingWorker> {
  const worker = trainingWorkerFor(config, new AvatarStore(config.avatarDir, { shared: true }));
  try {
    await worker.start();
  } catch (error) {
    await worker.close();
    throw error;
  }
  return worker;
}
