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
