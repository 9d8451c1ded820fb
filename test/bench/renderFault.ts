/**
 * A render fault, injected wherever the avatar renders:
 * - a render child process (one per avatar, found among the server's descendants
 *   by its command line): SIGKILL, as a native crash would end it;
 * - else (rendering in a worker thread of the server process, as before render
 *   processes), the thread's failure as the server sees it: the Worker emits
 *   'error' (a thread that throws or crashes does), so the renderer fails its
 *   frames and the session ends. A real SIGKILL or terminate() of a thread inside
 *   a native call would abort the whole process, which is the fault render
 *   processes exist to contain, so it is not what this fallback does.
 * Every renderer alive is faulted at once (see injectRenderFault).
 *
 * Render threads are found by wrapping node:worker_threads' Worker before the
 * server makes any (module.syncBuiltinESMExports makes ES imports see the wrapper).
 * Import this module before the server's modules.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { Worker as WorkerType, WorkerOptions } from 'node:worker_threads';
import { serverChildren } from './processTree';

const require = createRequire(import.meta.url);
const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');
const OriginalWorker = workerThreads.Worker;
const RENDER_THREAD_NAME = /render/i;
const renderThreads = new Set<WorkerType>();

class TrackedWorker extends OriginalWorker {
  constructor(filename: string | URL, options?: WorkerOptions) {
    super(filename, options);
    if (RENDER_THREAD_NAME.test(options?.name ?? '')) {
      renderThreads.add(this);
      this.once('exit', () => renderThreads.delete(this));
    }
  }
}
workerThreads.Worker = TrackedWorker as typeof OriginalWorker;
syncBuiltinESMExports();

export interface RenderFaultInjected {
  /** 'process' (SIGKILL of render child processes) or 'thread' (the render threads' error). */
  via: 'process' | 'thread';
  /** How many renderers were faulted. */
  count: number;
  pids?: number[];
}

/** Render threads now alive in this process. */
export function renderThreadCount(): number {
  return renderThreads.size;
}

/** Render child processes now alive under the server. */
export function renderProcesses(): number[] {
  return serverChildren().filter((c) => c.kind === 'render').map((c) => c.pid);
}

/**
 * Faults every renderer alive now: which process or thread belongs to which
 * session cannot be told from outside, and faulting one at random would let a
 * session the fault missed pass for recovered. Returns what was done, or
 * undefined when nothing renders.
 */
export function injectRenderFault(): RenderFaultInjected | undefined {
  const pids = renderProcesses();
  if (pids.length > 0) {
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    return { via: 'process', count: pids.length, pids };
  }
  const threads = [...renderThreads];
  if (threads.length === 0) return undefined;
  for (const thread of threads) thread.emit('error', new Error('injected render fault (bench:soak)'));
  return { via: 'thread', count: threads.length };
}
