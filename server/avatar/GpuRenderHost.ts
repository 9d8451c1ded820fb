/**
 * The server's side of one GPU render host process (gpuHostProcess.ts): one device, many
 * avatar sessions. It starts the process, opens sessions in it and routes each frame,
 * read from the host's socket straight into that session's reused buffer (one copy from
 * the socket's chunks, as ProcessFrameRenderer's frames). `ended` settles, with the reason
 * for people, when the host's GPU is gone: the device was lost or failed (the host says
 * so, then exits), or the process died; every session's render in flight then rejects
 * with `hostEnded` set, and its GpuHostFrameRenderer moves it to the CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { RenderBackground } from '../engine/AvatarPlates';
import type { FaceState } from './DrivenFace';
import {
  GpuHostMessageReader, hostReady, hostStats, type GpuHostInit, type GpuHostMessage, type GpuHostReady, type GpuHostRequest, type GpuHostStats,
} from './gpuHostProtocol';

const ENTRY = fileURLToPath(new URL('./gpuHostEntry.mjs', import.meta.url));

/** An error from a host whose GPU is gone (`hostEnded`: why), as a render or open rejects with it. */
export type HostEndedError = Error & { hostEnded: string };

function hostEnded(reason: string): HostEndedError {
  return Object.assign(new Error(reason), { hostEnded: reason });
}

export function isHostEnded(error: unknown): error is HostEndedError {
  return typeof (error as { hostEnded?: unknown } | undefined)?.hostEnded === 'string';
}

interface HostSession {
  readonly frame: Uint8Array;
  opening?: { resolve: () => void; reject: (error: Error) => void };
  pending?: { resolve: (renderMs: number) => void; reject: (error: Error) => void };
}

export interface GpuSessionView {
  width: number;
  height: number;
  background?: RenderBackground;
}

export class GpuRenderHost {
  readonly backend: 'cpu' | 'gpu';
  readonly backendReason: string;
  /** Settles with why, once the host's GPU is gone (never for a host closed first). */
  readonly ended: Promise<string>;
  readonly #child: ChildProcess;
  readonly #sessions = new Map<number, HostSession>();
  readonly #statsWaiters: ((stats: GpuHostStats) => void)[] = [];
  #settleEnded!: (reason: string) => void;
  #endedReason?: string;
  #nextSession = 1;
  #closed = false;

  private constructor(child: ChildProcess, ready: GpuHostReady) {
    this.#child = child;
    this.backend = ready.backend;
    this.backendReason = ready.backendReason;
    this.ended = new Promise((resolve) => { this.#settleEnded = resolve; });
  }

  /**
   * Starts a host. Resolves once it holds a device (backend 'gpu'), or with backend 'cpu'
   * when 'auto' found no hardware GPU (that host has exited); rejects with the host's
   * reason when 'gpu' found none.
   */
  static start(init: GpuHostInit): Promise<GpuRenderHost> {
    // The server's secret stays with the server (as for render processes).
    const env = { ...process.env };
    delete env.VOXFACE_SECRET;
    const child = spawn(process.execPath, [ENTRY, JSON.stringify(init)], { stdio: ['pipe', 'ignore', 'inherit', 'pipe'], env });
    return new Promise<GpuRenderHost>((resolve, reject) => {
      let host: GpuRenderHost | undefined;
      const reader = new GpuHostMessageReader((session) => (host ? host.#sessions.get(session)?.frame : undefined));
      const onMessage = (message: GpuHostMessage) => {
        if (host) {
          host.#onMessage(message);
        } else if (message.type === 'ready') {
          host = new GpuRenderHost(child, hostReady.parse(JSON.parse(message.text)));
          resolve(host);
        } else {
          child.kill('SIGKILL');
          reject(new Error(message.type === 'error' ? message.text : `GPU render host sent '${message.type}' before it was ready`));
        }
      };
      (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk, onMessage);
        } catch (error) {
          if (host) host.#end(`GPU render host ${child.pid} sent a corrupt stream (${(error as Error).message})`);
          child.kill('SIGKILL');
        }
      });
      child.stdin!.on('error', () => undefined); // EPIPE when the host died: the exit handler says why
      (child.stdio[3] as Readable).on('error', () => undefined);
      child.on('error', (error) => {
        if (!host) reject(error);
        else host.#end(`GPU render host could not run: ${error.message}`);
      });
      child.on('exit', (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        if (!host) reject(new Error(`GPU render host ${how} while starting`));
        else if (host.backend === 'gpu') host.#end(`GPU render host ${child.pid} ${how}`);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Sessions open or opening. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Why the host's GPU is gone; undefined while it serves. */
  get endedReason(): string | undefined {
    return this.#endedReason;
  }

  /**
   * Opens a session of the avatar file in the host; resolves with its id once its first
   * (warm-up) frame has rendered. Rejects with the file's problem, or a HostEndedError.
   */
  async openSession(avatarPath: string, view: GpuSessionView, renderScale?: number): Promise<number> {
    if (this.#closed || this.#endedReason !== undefined) throw hostEnded(this.#endedReason ?? 'GPU render host closed');
    const id = this.#nextSession++;
    const session: HostSession = { frame: new Uint8Array(view.width * view.height * 4) };
    this.#sessions.set(id, session);
    const opened = new Promise<void>((resolve, reject) => { session.opening = { resolve, reject }; });
    this.#send({
      type: 'open', session: id, avatarPath, width: view.width, height: view.height,
      ...(renderScale ? { renderScale } : {}), ...(view.background ? { background: view.background } : {}),
    });
    try {
      await opened;
    } catch (error) {
      this.#sessions.delete(id);
      throw error;
    }
    return id;
  }

  /** Renders session `id`'s face; resolves with its reused frame buffer and the host's ms for it. */
  async render(id: number, face: Readonly<FaceState>): Promise<{ frame: Uint8Array; renderMs: number }> {
    const session = this.#sessions.get(id);
    if (!session) throw new Error('renderer closed');
    if (this.#endedReason !== undefined) throw hostEnded(this.#endedReason);
    if (session.pending) throw new DOMException('GpuRenderHost: a render of this session is in flight', 'InvalidStateError');
    const renderMs = await new Promise<number>((resolve, reject) => {
      session.pending = { resolve, reject };
      this.#send({
        type: 'render', session: id,
        face: { blendshapes: Array.from(face.blendshapes), rotation: face.rotation, translationCm: face.translationCm, ...(face.code ? { code: Array.from(face.code) } : {}) },
      });
    });
    return { frame: session.frame, renderMs };
  }

  /** Closes session `id` in the host; a render in flight rejects. */
  closeSession(id: number): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    session.pending?.reject(new Error('renderer closed'));
    session.opening?.reject(new Error('renderer closed'));
    if (this.#endedReason === undefined) this.#send({ type: 'close', session: id });
  }

  /** The host's counts (ticks, the device queue's submissions per tick, sessions per tick). */
  stats(): Promise<GpuHostStats> {
    if (this.#endedReason !== undefined || this.#closed) return Promise.reject(hostEnded(this.#endedReason ?? 'GPU render host closed'));
    const answer = new Promise<GpuHostStats>((resolve) => this.#statsWaiters.push(resolve));
    this.#send({ type: 'stats' });
    return answer;
  }

  /** Test hook: the host destroys its device (a forced device loss). */
  loseDeviceForTest(): void {
    this.#send({ type: 'loseDevice' });
  }

  /** Ends the host process; its sessions' renders reject ('renderer closed'); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#sessions.keys()]) this.closeSession(id);
    (this.#child.stdin as Writable | null)?.destroy();
    this.#child.kill('SIGKILL');
  }

  #send(request: GpuHostRequest): void {
    this.#child.stdin!.write(`${JSON.stringify(request)}\n`);
  }

  #onMessage(message: GpuHostMessage): void {
    switch (message.type) {
      case 'frame': {
        const session = this.#sessions.get(message.session), pending = session?.pending;
        if (session) session.pending = undefined;
        pending?.resolve(message.renderMs);
        return;
      }
      case 'opened': {
        const session = this.#sessions.get(message.session), opening = session?.opening;
        if (session) session.opening = undefined;
        opening?.resolve();
        return;
      }
      case 'error': {
        const session = this.#sessions.get(message.session);
        if (!session) {
          process.stderr.write(`voxface GPU render host ${this.pid}: ${message.text}\n`);
          return;
        }
        const waiter = session.opening ?? session.pending;
        session.opening = session.pending = undefined;
        waiter?.reject(new Error(message.text));
        return;
      }
      case 'stats':
        this.#statsWaiters.shift()?.(hostStats.parse(JSON.parse(message.text)));
        return;
      case 'lost':
        this.#end(message.text);
        return;
      case 'ready':
        return;
    }
  }

  /** The host's GPU is gone: every session's open or render in flight rejects with why. */
  #end(reason: string): void {
    if (this.#endedReason !== undefined || this.#closed) return;
    this.#endedReason = reason;
    const error = hostEnded(reason);
    for (const session of this.#sessions.values()) {
      const waiters = [session.opening, session.pending];
      session.opening = session.pending = undefined;
      for (const w of waiters) w?.reject(error);
    }
    this.#statsWaiters.splice(0);
    this.#settleEnded(reason);
  }
}
