/**
 * The soak's faults, each injected the way it happens in production (a process
 * SIGKILLed, a render thread failing) and each followed until the server has
 * recovered from it, or the wait runs out:
 * - worker: a mediasoup worker that hosts no witness room; recovered when its slot
 *   has a new live worker and no open room is left on the dead one.
 * - encoder: an avatar session's ffmpeg; recovered when the session runs a new
 *   encoder (restarted) or ended with a reason.
 * - render: see renderFault.ts; recovered when the faulted session ended with a
 *   reason, or still renders new frames (a renderer that restarts itself).
 * - trainer: a queued training job's trainer process; recovered when the queue
 *   starts it again (attempts + 1) and the job finishes `done`.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AvatarSession } from '../../server/avatar/AvatarSession';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { injectRenderFault } from './renderFault';

export type FaultKind = 'worker' | 'encoder' | 'render' | 'trainer';
export const FAULT_KINDS: readonly FaultKind[] = ['worker', 'encoder', 'render', 'trainer'];

export interface FaultRecord {
  kind: FaultKind;
  /** Seconds into the run. */
  at: number;
  injected: boolean;
  recovered: boolean;
  recoveryMs: number | null;
  detail: string;
}

/** Polls `check` every 200 ms until it returns a truthy detail, or the time is up (null). */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function alive(pid: number): boolean {
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Remembers every avatar session's end and its reason, for the recovery checks. */
export class SessionLog {
  readonly ended: { roomId: string; peerId: string; reason: string; at: number }[] = [];

  constructor(server: VoxfaceServer) {
    server.avatars.on('sessionEnded', (e) => this.ended.push({ ...e, at: Date.now() }));
  }

  endedSince(session: AvatarSession, since: number): string | undefined {
    return this.ended.find((e) => e.peerId === session.peer.id && e.roomId === session.room.id && e.at >= since)?.reason;
  }
}

export async function killWorker(server: VoxfaceServer, spareRoom: string, timeoutMs: number): Promise<Omit<FaultRecord, 'kind' | 'at'>> {
  const spared = server.rooms.get(spareRoom)?.worker;
  const target = server.pool.workers.find((w) => w !== spared);
  if (!target) return { injected: false, recovered: false, recoveryMs: null, detail: 'no worker outside the witness room' };
  const pid = target.pid, rooms = [...server.rooms.rooms.values()].filter((r) => r.worker === target).map((r) => r.id);
  const slots = server.pool.workers.length;
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const done = await waitFor(() => server.pool.workers.length === slots && server.pool.workers.every((w) => w.pid !== pid)
    && [...server.rooms.rooms.values()].every((r) => r.worker.pid !== pid || r.closed), timeoutMs);
  return {
    injected: true, recovered: done !== null, recoveryMs: done ? Date.now() - t0 : null,
    detail: `pid ${pid} hosting [${rooms.join(',')}]; ${done ? `replaced by pid ${server.pool.workers.map((w) => w.pid).join('/')}, its rooms closed` : 'not replaced in time'}`,
  };
}

export async function killEncoder(session: AvatarSession, log: SessionLog, timeoutMs: number): Promise<Omit<FaultRecord, 'kind' | 'at'>> {
  const pid = session.encoderPid;
  if (!pid) return { injected: false, recovered: false, recoveryMs: null, detail: 'the session has no encoder running' };
  const restarts = session.stats().encoderRestarts;
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const outcome = await waitFor(() => {
    const reason = log.endedSince(session, t0);
    if (reason) return `session ended (${reason})`;
    const now = session.encoderPid;
    if (now && now !== pid && !alive(pid) && session.stats().encoderRestarts > restarts) return `restarted as pid ${now}`;
    return undefined;
  }, timeoutMs);
  return { injected: true, recovered: outcome !== null, recoveryMs: outcome ? Date.now() - t0 : null, detail: `ffmpeg pid ${pid}: ${outcome ?? 'neither restarted nor ended'}` };
}

export async function renderFault(session: AvatarSession, log: SessionLog, timeoutMs: number): Promise<Omit<FaultRecord, 'kind' | 'at'>> {
  const t0 = Date.now();
  const injected = injectRenderFault(session);
  const rendered = session.stats().framesRendered;
  const how = injected.via === 'process' ? `render processes ${injected.pids!.join(',')} killed` : 'the session\'s renderer failed';
  // A renderer that restarts itself must be seen rendering anew well after the fault (not a frame already under way).
  const outcome = await waitFor(() => {
    const reason = log.endedSince(session, t0);
    if (reason) return `session ended (${reason})`;
    if (!session.closed && Date.now() - t0 > 3000 && session.stats().framesRendered > rendered + 10) return 'session renders on';
    return undefined;
  }, timeoutMs);
  return { injected: true, recovered: outcome !== null, recoveryMs: outcome ? Date.now() - t0 : null, detail: `${how}: ${outcome ?? 'the session neither ended nor rendered on'}` };
}

/** Kills the job's trainer once it trains; the job is recovered once it finishes `done` (see trainerFinished). */
export async function killTrainer(server: VoxfaceServer, jobId: string, timeoutMs: number): Promise<{ injected: boolean; detail: string; crashes: number; killedAt: number }> {
  const running = await waitFor(() => {
    const job = server.trainingQueue.get(jobId);
    return job?.state === 'running' && job.pid !== undefined && job.progress.stage === 'training' ? job : undefined;
  }, timeoutMs);
  if (!running) return { injected: false, detail: `job ${jobId} never reached training (${server.trainingQueue.get(jobId)?.state})`, crashes: 0, killedAt: Date.now() };
  process.kill(running.pid!, 'SIGKILL');
  return { injected: true, detail: `trainer pid ${running.pid} of ${jobId} killed while training`, crashes: running.attempts, killedAt: Date.now() };
}

/** `attempts` counts a job's trainers that ended without an avatar: the killed one must be among them, and the job done. */
export async function trainerFinished(server: VoxfaceServer, jobId: string, crashesBefore: number, timeoutMs: number): Promise<{ recovered: boolean; detail: string }> {
  const job = await waitFor(() => {
    const j = server.trainingQueue.get(jobId);
    return j && ['done', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  }, timeoutMs);
  const last = job ?? server.trainingQueue.get(jobId);
  return {
    recovered: last?.state === 'done' && last.attempts > crashesBefore,
    detail: `job ${last?.state ?? 'missing'} after ${last?.attempts ?? 0} crashed trainer(s)${last?.error ? `: ${last.error}` : ''}`,
  };
}
