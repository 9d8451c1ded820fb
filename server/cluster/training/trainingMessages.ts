/**
 * What crosses Redis for training on a queue (docs/cluster.md, "Training on a
 * queue"), as zod schemas: each side checks what it reads, so a job or an update
 * written by another version, a bug or an intruder on Redis is refused with a
 * clear error instead of driving a trainer or a page.
 *
 * - TrainingJobData: a BullMQ job's data, written by the enqueuing SFU node and
 *   read by a trainer node. Paths in it are relative to the shared onboarding
 *   folder (each node may mount it elsewhere), and checked to stay inside it.
 * - TrainingUpdate: what a trainer node reports through `job.updateProgress`
 *   (the queue keeps the latest one with the job, and QueueEvents streams each
 *   one to the SFU nodes): the job's record without server paths, and what
 *   happened (progress, a version installed, a preview written, the end).
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../../shared/signaling/limits';
import { QUALITY_POINTS } from '../../onboarding/TrainingJobTypes';
import { jobFidelitySchema } from '../../../shared/onboarding/jobFidelity';

export const TRAINING_JOB_DATA_VERSION = 1;
export const JOB_ID_PATTERN = /^job-[A-Za-z0-9_-]{1,60}$/;

const finite = z.number().finite();
const isoTime = z.string().max(40).refine((s) => Number.isFinite(Date.parse(s)), 'not an ISO time');

/** A path relative to the shared onboarding folder that cannot leave it. */
const relativePath = z.string().min(1).max(512).refine(
  (p) => !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'),
  'must be a path inside the onboarding folder (relative, no . or .. parts)',
);

export const trainingOptionsSchema = z.object({
  minutes: finite.min(0.01).max(24 * 60),
  res: z.number().int().min(16).max(1024),
  model: z.enum(['default', 'small', 'fast']),
  encoder: z.boolean().optional(),
  fidelity: z.boolean().optional(),
}).strict();


export const trainingJobDataSchema = z.object({
  version: z.literal(TRAINING_JOB_DATA_VERSION),
  id: z.string().regex(JOB_ID_PATTERN, 'job id must be job-<letters, digits, _ or ->'),
  owner: z.string().min(1).max(128),
  avatarId: z.string().regex(ID_PATTERN, 'avatar id must be 1-64 letters, digits, _ or -'),
  /** The dataset folder, relative to the onboarding folder (`datasets/<avatarId>`). */
  dataset: relativePath,
  options: trainingOptionsSchema,
  /** The configured floor of the held-out PSNR a snapshot needs (the enqueuing node's setting). */
  usablePsnr: finite.min(0).max(100),
  createdAt: isoTime,
}).strict();

export type TrainingJobData = z.infer<typeof trainingJobDataSchema>;

const progressSchema = z.object({
  stage: z.enum(['queued', 'loading', 'training', 'installing', 'done', 'failed', 'cancelled']),
  step: z.number().int().min(0),
  psnr: finite.nullable(),
  trainPsnr: finite.nullable(),
  loss: finite.nullable(),
  elapsedMs: finite.min(0),
  etaMs: finite.min(0),
}).strict();

/** A TrainingJob without what is local to one node (dataset and job folder paths, trainer pid). */
export const sharedJobSchema = z.object({
  id: z.string().regex(JOB_ID_PATTERN),
  owner: z.string().min(1).max(128),
  avatarId: z.string().regex(ID_PATTERN),
  options: trainingOptionsSchema,
  state: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  attempts: z.number().int().min(0).max(1000),
  createdAt: isoTime,
  updatedAt: isoTime,
  finishedAt: isoTime.optional(),
  progress: progressSchema,
  usable: z.boolean(),
  installedPsnr: finite.nullable(),
  installs: z.number().int().min(0),
  usablePsnr: finite,
  baselinePsnr: finite.nullable(),
  // Optional: records from nodes before the face rule (snapshotVerdict.ts) have none.
  faceSsim: finite.min(-1).max(1).nullable().optional(),
  baselineFaceSsim: finite.min(-1).max(1).nullable().optional(),
  usableFaceSsim: finite.min(-3).max(3).nullable().optional(),
  quality: z.array(z.object({ elapsedMs: finite, psnr: finite, faceSsim: finite.min(-1).max(1).optional() }).strict()).max(QUALITY_POINTS),
  fidelity: jobFidelitySchema.optional(),
  error: z.string().max(4000).optional(),
  stderrTail: z.string().max(4000).optional(),
}).strict();

export type SharedJob = z.infer<typeof sharedJobSchema>;

export const trainingUpdateSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('progress'), job: sharedJobSchema }).strict(),
  z.object({ kind: z.literal('installed'), job: sharedJobSchema, psnr: finite.nullable(), final: z.boolean() }).strict(),
  /** The preview PNG is in the job's folder (`avatar.vxa.preview.png`), which every node mounts: not sent through Redis. */
  z.object({ kind: z.literal('preview'), job: sharedJobSchema, step: z.number().int().min(0), psnr: finite, elapsedMs: finite.min(0) }).strict(),
  z.object({ kind: z.literal('finished'), job: sharedJobSchema }).strict(),
]);

export type TrainingUpdate = z.infer<typeof trainingUpdateSchema>;

/** A zod error as one line: the first few issues with their paths. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 4).map((issue) => `${issue.path.join('.') || '(data)'}: ${issue.message}`).join('; ');
}

/** A job's record before any trainer has reported: what the enqueuing node shows first. */
export function initialJobRecord(data: TrainingJobData): SharedJob {
  return {
    id: data.id, owner: data.owner, avatarId: data.avatarId, options: { ...data.options }, state: 'queued', attempts: 0,
    createdAt: data.createdAt, updatedAt: data.createdAt,
    progress: { stage: 'queued', step: 0, psnr: null, trainPsnr: null, loss: null, elapsedMs: 0, etaMs: Math.round(data.options.minutes * 60_000) },
    usable: false, installedPsnr: null, installs: 0, usablePsnr: data.usablePsnr, baselinePsnr: null, quality: [],
  };
}
