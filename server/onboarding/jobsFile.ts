/**
 * `<dir>/jobs.json`: reading it back at start, and writing it (atomically and
 * durably, server/atomicFile.ts).
 *
 * A file that cannot be read as a jobs file (truncated, not JSON, not the
 * expected shape: a disk fault or a hand edit) must not keep the server from
 * starting: it is renamed `jobs.json.corrupt-<time>` (kept for the operator),
 * a warning is logged, and the queue starts with no jobs. Within a readable
 * file, a job record that lacks the fields the queue needs is dropped with a
 * warning and the others are kept. Nothing is reconstructed from job folders:
 * a record's options, owner and state are not in them. A file of another
 * version (a newer server's) is refused instead: moving it aside would lose
 * jobs the newer server could still run.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncFolder, writeFileAtomic } from '../atomicFile';
import { Logger } from '../Logger';
import type { JobsFile, TrainingJob } from './TrainingJobTypes';
import { jobFidelitySchema } from '../../shared/onboarding/jobFidelity';

const logger = new Logger('TrainingQueue');
const STATES = new Set(['queued', 'running', 'done', 'failed', 'cancelled']);

export interface LoadedJobs {
  /** The records as stored (fields added since are filled in by the queue). */
  jobs: TrainingJob[];
  /** Where an unreadable file was moved; undefined when the file was read (or absent). */
  movedAside?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The fields the queue cannot run or show a job without. */
function isJobRecord(v: unknown): v is TrainingJob {
  if (!isObject(v)) return false;
  const strings = ['id', 'owner', 'avatarId', 'dataset', 'workDir', 'createdAt', 'updatedAt'].every((k) => typeof v[k] === 'string');
  const options = isObject(v.options) && typeof v.options.minutes === 'number' && typeof v.options.res === 'number' && typeof v.options.model === 'string'
    && (v.options.encoder === undefined || typeof v.options.encoder === 'boolean')
    && (v.options.fidelity === undefined || typeof v.options.fidelity === 'boolean');
  return strings && options && STATES.has(v.state as string) && typeof v.attempts === 'number' && isObject(v.progress);
}

export function loadJobsFile(path: string): LoadedJobs {
  if (!existsSync(path)) return { jobs: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return { jobs: [], movedAside: moveAside(path, `not JSON (${error instanceof Error ? error.message : String(error)})`) };
  }
  if (isObject(parsed) && typeof parsed.version === 'number' && parsed.version !== 1) {
    throw new TypeError(`${path}: a version ${parsed.version} jobs file (this server reads version 1)`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.jobs)) {
    return { jobs: [], movedAside: moveAside(path, 'not a { version: 1, jobs: [...] } object') };
  }
  const jobs = parsed.jobs.filter(isJobRecord);
  if (jobs.length < parsed.jobs.length) {
    logger.warn(`${path}: ${parsed.jobs.length - jobs.length} unreadable job record(s) dropped, ${jobs.length} kept`);
  }
  // A bad fidelity would reach the owner's page: it goes, the job (a finished avatar's record) stays.
  for (const job of jobs) {
    if (job.fidelity !== undefined && !jobFidelitySchema.safeParse(job.fidelity).success) {
      logger.warn(`${path}: job ${job.id}: unreadable fidelity dropped`);
      delete job.fidelity;
    }
  }
  return { jobs };
}

export function saveJobsFile(path: string, jobs: Iterable<TrainingJob>): void {
  const file: JobsFile = { version: 1, jobs: [...jobs] };
  writeFileAtomic(path, Buffer.from(`${JSON.stringify(file, null, 1)}\n`));
}

function moveAside(path: string, why: string): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, aside);
  fsyncFolder(dirname(path));
  logger.warn(`${path} is unreadable (${why}): moved to ${aside}; starting with no training jobs. `
    + 'Avatars already in the store are kept; the job folders and datasets of the lost jobs are left in place for the operator.');
  return aside;
}
