/**
 * Installs a trained version of a job's avatar into the store and records it on the job
 * (usable, its held-out PSNR, the install count): the local queue's and the cluster
 * trainer node's one way to publish a version. False (logged) when the store refuses it:
 * training goes on, and the next version tries again.
 */
import type { AvatarStorage } from '../avatar/AvatarStorage';
import type { Logger } from '../Logger';

export interface InstallableJob {
  readonly id: string;
  readonly owner: string;
  readonly avatarId: string;
  usable: boolean;
  installedPsnr?: number | null;
  installs: number;
}

export function installVersion(store: AvatarStorage, job: InstallableJob, path: string, psnr: number | null, final: boolean, logger: Logger): boolean {
  try {
    store.installFor(job.owner, job.avatarId, path);
  } catch (error) {
    logger.warn(`job ${job.id}: version could not be installed: ${String(error)}`);
    return false;
  }
  job.usable = true;
  job.installedPsnr = psnr ?? job.installedPsnr;
  job.installs += 1;
  logger.info(`job ${job.id}: ${final ? 'final' : 'snapshot'} avatar ${job.avatarId} of ${job.owner} installed (held-out ${psnr ?? '?'} dB)`);
  return true;
}
