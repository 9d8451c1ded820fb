/**
 * Redis names the SFU nodes and the trainer nodes agree on (docs/cluster.md).
 * One BullMQ queue under the `voxface` prefix, and one pub/sub channel on which an
 * SFU node asks whichever trainer node runs a job to stop it (a user deleted the
 * avatar): BullMQ cannot reach into another process's running job.
 */
export const TRAINING_QUEUE = 'training';
export const QUEUE_PREFIX = 'voxface';
export const CANCEL_CHANNEL = `${QUEUE_PREFIX}:${TRAINING_QUEUE}:cancel`;
/** A cancelled job's marker, so a trainer that picks the job up later (after a stall) drops it too. */
export const cancelledKey = (jobId: string): string => `${QUEUE_PREFIX}:${TRAINING_QUEUE}:cancelled:${jobId}`;
/** How long that marker lasts: longer than any job waits. */
export const CANCELLED_TTL_SECONDS = 7 * 24 * 3600;
/** The preview and avatar files in a job's folder (the names TrainingQueue uses). */
export const AVATAR_FILE = 'avatar.vxa';
