/**
 * How the `voxface` command's Node starts, wherever it is started from: bin/voxface.js's
 * shebang (a user's `npx voxface`), the onboarding queue's and the cluster's trainers
 * (voxfaceCommand), and the benches and tests that run the CLI as a user would.
 *
 * `--single-threaded-gc`: V8 collects garbage on the main thread only. A training step
 * allocates about 100 MB of typed arrays (the samples' encodings and activations, and
 * 19 MB of grid gradients), so V8 starts a major collection about twice a step for the
 * external memory alone (`node --trace-gc`: 239 mark-compacts in 100 steps). With helper
 * threads, that marking ran beside the kernels' own two threads on a 2-core machine and took
 * a quarter of the process's CPU (`perf record`). Measured (man-glasses-pinkwall, resumed
 * from the same 1200 CPU-s checkpoint, 150 steps, two runs each, interleaved): 219 and 237
 * CPU ms a step without the flag, 136 and 165 with it; 144 and 154 ms of wall clock a step
 * against 101 and 125; the same losses and held-out PSNR to the last digit (the flag changes
 * when memory is reclaimed, not what is computed). `npm run bench:train-step` measures it.
 * The server itself keeps V8's defaults: its work is short callbacks, not bulk arrays.
 *
 * The shebang repeats these flags (`#!/usr/bin/env -S node ...`): a test checks they agree.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** The command's entry point, bin/voxface.js in this checkout. */
export const CLI_ENTRY = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'bin', 'voxface.js');

/** `node <flags> bin/voxface.js <command>`, with this process's Node. */
export function voxfaceCommand(command: string): string[] {
  return [process.execPath, ...CLI_NODE_FLAGS, CLI_ENTRY, command];
}
