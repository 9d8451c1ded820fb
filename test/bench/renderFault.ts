/**
 * A render fault, injected wherever the avatar renders:
 * - render child processes (one per avatar, found among the server's descendants
 *   by their command line): every one is SIGKILLed, as a native crash ends one
 *   (which process belongs to which session cannot be told from outside, and
 *   killing one at random could miss the session whose recovery is checked);
 * - else (rendering in a worker thread of the server process, as before render
 *   processes) the session's renderer fails its next frame, which is how the
 *   server sees a render thread that threw. A native fault inside a thread, or
 *   terminating one inside a native call, aborts the whole process: that is the
 *   fault render processes exist to contain, and this fallback cannot survive it
 *   (an earlier version emitted the thread's 'error' while it still rendered; the
 *   renderer's close() then terminated it mid-kernel and the process aborted with
 *   "terminate called after throwing an instance of 'Napi::Error'").
 */
import type { AvatarSession } from '../../server/avatar/AvatarSession';
import { serverChildren } from './processTree';

export interface RenderFaultInjected {
  /** 'process' (SIGKILL of render child processes) or 'renderer' (the session's renderer fails). */
  via: 'process' | 'renderer';
  pids?: number[];
}

/** Render child processes now alive under the server. */
export function renderProcesses(): number[] {
  return serverChildren().filter((c) => c.kind === 'render').map((c) => c.pid);
}

export function injectRenderFault(session: AvatarSession): RenderFaultInjected {
  const pids = renderProcesses();
  if (pids.length > 0) {
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    return { via: 'process', pids };
  }
  // An own property shadows the class's method: the session's next render rejects
  // (it renders one frame at a time, so the thread is idle when this one is asked for).
  const renderer = session.renderer as { render: (...args: unknown[]) => Promise<Uint8Array> };
  renderer.render = () => Promise.reject(new Error('injected render fault (bench:soak)'));
  return { via: 'renderer' };
}
