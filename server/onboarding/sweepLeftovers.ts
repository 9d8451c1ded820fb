/**
 * The start-up sweep of an onboarding folder (jobs/, datasets/): what a crash
 * left half-written, and entries no job refers to. Used by TrainingQueue.start()
 * and the OnboardingService constructor, before anything writes there.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sweepStalePartials } from '../atomicFile';
import { Logger } from '../Logger';

const logger = new Logger('onboarding');

export interface SweepOptions {
  /** How deep to look for temporary files of dead writers (1: the folder itself). */
  depth: number;
  /**
   * Entries named `<prefix>…` whose path is not in `keep` are orphans and removed;
   * undefined keeps every entry (e.g. jobs.json was unreadable: they are the lost jobs' data).
   */
  orphans?: { prefix: string; keep: ReadonlySet<string> };
  /** What the folder holds, for the warning. */
  what: string;
}

/** Returns the paths removed (and warns when there were any). */
export function sweepLeftovers(dir: string, o: SweepOptions): string[] {
  const swept = sweepStalePartials(dir, o.depth);
  if (o.orphans) {
    const keep = new Set([...o.orphans.keep].map((path) => resolve(path)));
    let names: string[] = [];
    try { names = readdirSync(dir); } catch { /* not there yet */ }
    for (const name of names) {
      const path = resolve(join(dir, name));
      if (!name.startsWith(o.orphans.prefix) || keep.has(path)) continue;
      rmSync(path, { recursive: true, force: true });
      swept.push(path);
    }
  }
  if (swept.length) {
    logger.warn(`removed ${swept.length} ${o.what} left by an interrupted write or a crash: ${swept.slice(0, 10).join(', ')}${swept.length > 10 ? ', …' : ''}`);
  }
  return swept;
}
