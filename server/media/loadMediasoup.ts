/**
 * Loads mediasoup after pointing it at our worker binary.
 *
 * mediasoup 3.8.4 reads MEDIASOUP_WORKER_BIN once, when its Worker module loads,
 * so the variable must be set before the first import. `scripts/setup.sh` builds
 * the worker and records its cached path in node_modules/.voxface.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Mediasoup = typeof import('mediasoup');

const RECORDED_PATH = fileURLToPath(new URL('../../node_modules/.voxface/mediasoup-worker-bin', import.meta.url));

let loaded: Promise<Mediasoup> | undefined;

export function resolveWorkerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`MEDIASOUP_WORKER_BIN points to a missing file: ${fromEnv}`);
    return fromEnv;
  }
  if (existsSync(RECORDED_PATH)) {
    const recorded = readFileSync(RECORDED_PATH, 'utf8').trim();
    if (recorded && existsSync(recorded)) return recorded;
  }
  throw new Error('no mediasoup worker binary: run `bash scripts/setup.sh` or set MEDIASOUP_WORKER_BIN');
}

export function loadMediasoup(): Promise<Mediasoup> {
  if (!loaded) {
    process.env.MEDIASOUP_WORKER_BIN = resolveWorkerBinary();
    loaded = import('mediasoup');
  }
  return loaded;
}
