/**
 * One `voxface train` child process, as the training queue sees it: started at low
 * priority, its stdout read as JSON report lines (bounded), its stderr kept as a
 * tail, and its end reported once. The queue decides what lines and endings mean
 * for the job; this file only knows the trainer's command line and output format.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { setPriority } from 'node:os';
import { measuredFidelitySchema } from '../../shared/onboarding/jobFidelity';
import type { JobFidelity } from '../../shared/onboarding/TrainingJobTypes';
import { TypedEmitter } from '../../shared/TypedEmitter';

/** stderr kept per trainer (the tail shown when it fails). */
const STDERR_KEEP = 16 * 1024;
/** The trainer's JSON lines are a few hundred bytes. */
const MAX_LINE_BYTES = 64 * 1024;

/** What the trainer reports, one JSON line each (bin/voxface train --report-every/--snapshot-every). */
export type TrainerReport =
  | { kind: 'progress'; step: number; elapsedMs: number; psnr: number | null; trainPsnr: number | null; loss: number | null }
  | {
    kind: 'snapshot'; step: number; elapsedMs: number; heldOutPsnr: number | null; baselinePsnr: number | null;
    heldOutFaceSsim: number | null; baselineFaceSsim: number | null;
  }
  /** The final line of a run that finished (not of one interrupted to save a checkpoint). */
  | { kind: 'finished'; heldOutPsnr: number | null; fidelity?: JobFidelity };

export type FinishedReport = Extract<TrainerReport, { kind: 'finished' }>;

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
  stderr: string;
}

export interface TrainerProcessEvents {
  [key: string]: unknown;
  report: TrainerReport;
  exit: TrainerExit;
}

/**
 * Why `train --fidelity` measured nothing, in the owner's words: the trainer's own message
 * names server paths and settings (the queue logs it), the page gets one of these.
 */
export function fidelityReason(message: string): string {
  if (/chromium/i.test(message)) return 'no browser to re-track with beside the trainer';
  if (/face_landmarker|face model/i.test(message)) return 'the face model could not be loaded';
  if (/timed out|interrupted/i.test(message)) return 'the measurement took too long';
  return 'the measurement failed';
}

/** `train --fidelity`'s figures from the final line (bounded), or why there are none; undefined when it did not measure. */
function fidelityOf(line: Record<string, unknown>): JobFidelity | undefined {
  if (typeof line.fidelityError === 'string') return { error: fidelityReason(line.fidelityError) };
  if (line.fidelity === undefined) return undefined;
  // Stripping: the line carries more figures (facePx) than a job keeps.
  const parsed = measuredFidelitySchema.strip().safeParse(line.fidelity);
  if (parsed.success) return parsed.data;
  // Frames where FaceLandmarker found no face on either side are not compared; with none compared the distances are null.
  const compared = (line.fidelity as { comparedFrames?: unknown } | null)?.comparedFrames;
  return { error: compared === 0 ? 'no face found in the avatar\'s renders' : 'the trainer reported malformed figures' };
}

/** Parses one stdout line; undefined for anything that is not a report. */
export function parseTrainerLine(line: string): TrainerReport | undefined {
  if (!line.startsWith('{')) return undefined;
  let parsed: Record<string, unknown>;
  try { parsed = JSON.parse(line) as Record<string, unknown>; } catch { return undefined; }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  // SSIM is in [-1, 1]; anything else is not a measure.
  const unit = (v: unknown) => { const n = num(v); return n !== null && n >= -1 && n <= 1 ? n : null; };
  if (parsed.done === true) {
    if (parsed.interrupted === true) return undefined;
    const fidelity = fidelityOf(parsed);
    return { kind: 'finished', heldOutPsnr: num(parsed.heldOutPsnr), ...(fidelity ? { fidelity } : {}) };
  }
  const step = num(parsed.step), elapsedMs = num(parsed.elapsedMs);
  if (step === null || elapsedMs === null) return undefined;
  // The snapshot's path in the line is not used: the queue knows where it told the trainer to write.
  if (typeof parsed.snapshot === 'string') {
    return {
      kind: 'snapshot', step, elapsedMs, heldOutPsnr: num(parsed.heldOutPsnr), baselinePsnr: num(parsed.baselinePsnr),
      heldOutFaceSsim: unit(parsed.heldOutFaceSsim), baselineFaceSsim: unit(parsed.baselineFaceSsim),
    };
  }
  return { kind: 'progress', step, elapsedMs, psnr: num(parsed.psnr), trainPsnr: num(parsed.trainPsnr), loss: num(parsed.loss) };
}

/** Training time stored in a checkpoint's header ("VXCK", u32 version, u32 length, JSON), without reading its tensors. */
export function checkpointElapsedMs(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString('latin1', 0, 4) !== 'VXCK') return undefined;
    const length = head.readUInt32LE(8);
    if (length > 64 * 1024 * 1024) return undefined;
    const json = Buffer.alloc(length);
    if (readSync(fd, json, 0, length, 12) !== length) return undefined;
    const elapsed = (JSON.parse(json.toString('utf8')) as { run?: { elapsedMs?: unknown } }).run?.elapsedMs;
    return typeof elapsed === 'number' && Number.isFinite(elapsed) && elapsed >= 0 ? elapsed : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The last lines of a trainer's stderr, with progress-bar redraws (\r) collapsed to their final state. */
export function stderrTail(raw: string, lines = 20): string {
  return raw.split('\n').map((line) => line.split('\r').filter((s) => s.trim()).pop() ?? '')
    .filter((line) => line.trim()).slice(-lines).join('\n').slice(-4000);
}

export class TrainerProcess extends TypedEmitter<TrainerProcessEvents> {
  readonly #child: ChildProcess;
  /** Resolves once the process has ended and `exit` was emitted. */
  readonly exited: Promise<void>;

  /** Spawns `command args` in `cwd` at scheduling niceness `niceness` (0: as this process), with `env` over this process's environment. */
  constructor(command: readonly string[], args: readonly string[], o: { cwd: string; niceness: number; env?: NodeJS.ProcessEnv }) {
    super();
    const [file, ...prefix] = command;
    this.#child = spawn(file!, [...prefix, ...args], { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
    if (this.#child.pid !== undefined && o.niceness) {
      try { setPriority(this.#child.pid, o.niceness); } catch { /* not permitted here: run at normal priority */ }
    }
    let stderr = '', stdoutRest = '', settled = false, resolveExit!: () => void;
    this.exited = new Promise<void>((r) => { resolveExit = r; });
    this.#child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-STDERR_KEEP); });
    this.#child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      const lines = (stdoutRest + text).split('\n');
      stdoutRest = lines.pop() ?? '';
      // A line longer than any the trainer prints is not one of its reports: drop it, unbounded memory is worse.
      if (stdoutRest.length > MAX_LINE_BYTES) stdoutRest = '';
      for (const line of lines) {
        const report = parseTrainerLine(line);
        if (report) this.emit('report', report);
      }
    });
    const settle = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (settled) return;
      settled = true;
      try {
        this.emit('exit', { code, signal, spawnError, stderr });
      } finally {
        resolveExit();
      }
    };
    this.#child.on('error', (error) => settle(null, null, error));
    this.#child.on('close', (code, signal) => settle(code, signal));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}

/**
 * Stops a trainer left running by a crashed server, if `pid` is still a trainer
 * working in `workDir` (a reused pid belongs to something else and is left alone):
 * SIGINT (it saves its checkpoint), SIGKILL after `timeoutMs`.
 */
export async function stopOrphanTrainer(pid: number, workDir: string, timeoutMs: number): Promise<void> {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // gone (or no /proc): nothing to stop
  }
  const isTrainer = () => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(workDir); } catch { return false; }
  };
  if (!cmdline.includes(workDir)) return;
  try { process.kill(pid, 'SIGINT'); } catch { return; }
  const deadline = Date.now() + timeoutMs;
  while (isTrainer() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // Only a trainer that is still there: once it has gone, its pid may already be another process's.
  if (isTrainer()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
}
