/**
 * CPU time of processes, read from /proc (user + system, in the kernel's 100 Hz ticks):
 * what bench:cluster's parts charge to each side of a pipe.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) of `pid`, and of all its descendants with `tree` (less the trees of `except`). */
export function cpuSeconds(pid: number, tree = false, except: number[] = []): number {
  const excluded = new Set(except.flatMap((p) => [p, ...descendants(p)]));
  const pids = (tree ? [pid, ...descendants(pid)] : [pid]).filter((p) => !excluded.has(p));
  let ticks = 0;
  for (const p of pids) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* gone */ }
  }
  return ticks / TICKS_PER_SECOND;
}

export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parents.set(Number(entry), Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]));
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parents) if (ppid === parent) { out.push(pid); queue.push(pid); }
  }
  return out;
}

/** Cores used (CPU seconds per second) by what `read` measures, over `windowMs`. */
export async function coresOver(read: () => number, windowMs: number): Promise<number> {
  const before = read();
  const started = performance.now();
  await new Promise((done) => setTimeout(done, windowMs));
  return (read() - before) / ((performance.now() - started) / 1000);
}
