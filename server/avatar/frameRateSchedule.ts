/**
 * The avatar scheduler's decision, per backend, as a pure function (AvatarService runs it
 * once a second). The two backends are budgeted apart because their costs are unlike:
 * - CPU: each session renders in a render process of its own, so the load is the sum of
 *   busy processes (render ms per frame x rendered fps / 1000, at most 1 each) against a
 *   share of the machine's cores.
 * - GPU: every session of a device renders in one batched tick, so a session's render
 *   time is the tick's and summing them would count the device once per session (128
 *   sessions at 5 ms a tick would read as 19 busy "processes" and throttle a GPU that is
 *   idle 85% of the time). The load is the busiest session's share of its frame
 *   interval: above the GPU budget the ticks no longer fit between frames.
 * GPU sessions no longer lower the CPU sessions' rate, nor the reverse.
 */
export type ScheduledBackend = 'cpu' | 'gpu';

export interface SessionLoad {
  backend: ScheduledBackend;
  renderMsP50: number;
  renderedFps: number;
}

export interface FrameRateBudget {
  /** The configured frame rate (the ceiling). */
  fps: number;
  minFps: number;
  /** Busy render processes all CPU sessions may use together. */
  cpuBudget: number;
  /** The share of each frame interval a GPU tick may take. */
  gpuBudget: number;
}

export interface BackendRate {
  targetFps: number;
  load: number;
}

function retarget(current: number, load: number, budget: number, limits: FrameRateBudget): number {
  if (load > budget) return Math.max(limits.minFps, Math.floor((current * budget) / load));
  // Recover slowly, and only well below the budget, so the rate does not see-saw.
  if (load < budget * 0.6) return Math.min(limits.fps, current + 2);
  return current;
}

/** Each backend's new target rate and the load it was decided on (a backend with no sessions keeps its rate). */
export function scheduleFrameRates(
  sessions: readonly SessionLoad[], current: Readonly<Record<ScheduledBackend, number>>, limits: FrameRateBudget,
): Record<ScheduledBackend, BackendRate> {
  const busy = (s: SessionLoad) => Math.min(1, (s.renderMsP50 * Math.max(s.renderedFps, 1)) / 1000);
  const cpu = sessions.filter((s) => s.backend === 'cpu');
  const gpu = sessions.filter((s) => s.backend === 'gpu');
  const cpuLoad = cpu.reduce((sum, s) => sum + busy(s), 0);
  const gpuLoad = gpu.reduce((max, s) => Math.max(max, busy(s)), 0);
  return {
    cpu: { targetFps: cpu.length ? retarget(current.cpu, cpuLoad, limits.cpuBudget, limits) : current.cpu, load: cpuLoad },
    gpu: { targetFps: gpu.length ? retarget(current.gpu, gpuLoad, limits.gpuBudget, limits) : current.gpu, load: gpuLoad },
  };
}

/** Faces a second a tracker is asked for beyond what its avatar renders, so a render that speeds up finds new ones. */
export const TRACKING_HEADROOM_FPS = 2;
/** How long faces drive a session before its rendered rate is taken as what it achieves (its first second is its start, or a stall's end). */
export const TRACKING_SETTLE_MS = 3000;
/**
 * A renderer busy this share of a second or more is what limits the session: faces beyond what it
 * renders wait and are replaced unseen. Under it, the renderer waits for faces.
 */
export const RENDER_BOUND_SHARE = 0.8;

export interface TrackedSession {
  /** The scheduler's rate for the session (the most its tracker is ever asked for). */
  targetFps: number;
  /** New frames it rendered in the last second. */
  renderedFps: number;
  /** The share of the last second its renderer was rendering (0-1). */
  renderBusyShare: number;
  /** How long faces have driven it without a stall, ms (0 while waiting or stalled: it renders nothing new). */
  drivenMs: number;
}

/**
 * The rate to tell a session's driving peer (avatarFrameRate), within its target:
 * - its renderer busy RENDER_BOUND_SHARE of the time or more (a CPU render sharing its cores):
 *   what it renders plus TRACKING_HEADROOM_FPS. Faces tracked beyond that are never drawn, and
 *   cost the sender's CPU: MediaPipe tracked 21.9 faces a second for 16.3 rendered in
 *   bench:avatar-call.
 * - its renderer idle more than that: the rate told plus the headroom. It renders each face once
 *   as it arrives, so what it renders follows what it is sent, and only its idle time says it could
 *   draw more: the rate climbs until the renderer is busy or the target is reached.
 * `told` is the rate told last; a change under 2 fps keeps it (the rendered count moves by one
 * or two from second to second), except a return to the target. Until faces have driven it for
 * TRACKING_SETTLE_MS (a stalled stream renders nothing new), the told rate stands.
 */
export function trackingRate(session: TrackedSession, told: number | undefined): number {
  const { targetFps } = session;
  if (session.drivenMs < TRACKING_SETTLE_MS) return Math.min(told ?? targetFps, targetFps);
  const renderBound = session.renderBusyShare >= RENDER_BOUND_SHARE;
  const from = renderBound ? session.renderedFps : (told ?? targetFps);
  const wanted = Math.max(1, Math.min(targetFps, from + TRACKING_HEADROOM_FPS));
  if (told !== undefined && wanted !== targetFps && Math.abs(wanted - told) < 2) return Math.min(told, targetFps);
  return wanted;
}
