/**
 * A FrameRenderer that renders in a child process of its own (one per avatar
 * renderer). The native kernels run there, so a fault in them (a SIGSEGV, an abort)
 * ends that process and its avatar, not the server: the renderer's `fault` settles,
 * a render in flight rejects with it, and the owner ends the session and tells the
 * peer. (Renders used to run in a worker thread, whose native fault killed the whole
 * server.) Frames come back over a socket pair into one buffer the renderer reuses;
 * the frame stays valid until the next render call. What the boundary adds to a render
 * (request, two wake-ups, the frame's copy), measured with `npx tsx
 * test/bench/renderTransfer.bench.ts` on the 2-core dev machine under a load average of
 * 12-24: p50 3.7-4.7 ms (minimum 2.1) at 256x256, p50 8.7-16 ms (minimum 1.2-2.7) at
 * 640x360 RGBA, mostly waiting to be scheduled; the round trips were no slower than the
 * worker thread's in the same conditions (256x256 p50: 30-40 ms against 56-97 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { RenderBackground } from '../engine/AvatarPlates';
import type { FaceState } from './DrivenFace';
import type { FrameRenderer, RendererFault } from './FrameRendererTypes';
import { RenderMessageReader, type RenderProcessInit, type RenderProcessMessage, type RenderProcessRequest } from './renderProcessProtocol';

const ENTRY = fileURLToPath(new URL('./renderProcessEntry.mjs', import.meta.url));

export interface ProcessFrameRendererOptions {
  renderScale?: number;
  /** Why this avatar renders on the CPU (logged; e.g. the GPU pool's reason for falling back). */
  backendReason?: string;
  /** Aborting while the avatar loads kills the process and rejects with an AbortError. */
  signal?: AbortSignal;
}

export class ProcessFrameRenderer implements FrameRenderer {
  readonly width: number;
  readonly height: number;
  readonly fault: Promise<RendererFault>;
  readonly #child: ChildProcess;
  readonly #frame: Uint8Array;
  #pending?: { resolve: (frame: Uint8Array) => void; reject: (error: Error) => void; sentAt: number };
  #failure?: Error & { fault?: RendererFault };
  #settleFault!: (fault: RendererFault) => void;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #backendReason = 'VOXFACE_RENDER_BACKEND=cpu';
  /** The last frame's round trip minus the process's own render time: the cost of the process boundary. */
  #overheadMs = 0;

  private constructor(child: ChildProcess, frame: Uint8Array, width: number, height: number) {
    this.#child = child;
    this.#frame = frame;
    this.width = width;
    this.height = height;
    this.fault = new Promise((resolve) => { this.#settleFault = resolve; });
  }

  /** The process's id (diagnostics and fault-injection tests). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Starts a render process for the avatar file; rejects with the file's problem if it cannot load. */
  static async open(
    avatarPath: string, size: { width: number; height: number; background?: RenderBackground }, options: ProcessFrameRendererOptions = {},
  ): Promise<ProcessFrameRenderer> {
    options.signal?.throwIfAborted();
    const init: RenderProcessInit = {
      avatarPath, width: size.width, height: size.height,
      ...(options.renderScale ? { renderScale: options.renderScale } : {}), ...(size.background ? { background: size.background } : {}),
    };
    // stdin: requests; stdout unused; stderr shared (the child's warnings land in the server's log); fd 3: frames.
    // The server's secret stays with the server: a renderer fed a crafted avatar file has no use for it.
    const env = { ...process.env };
    delete env.VOXFACE_SECRET;
    const child = spawn(process.execPath, [ENTRY, JSON.stringify(init)], { stdio: ['pipe', 'ignore', 'inherit', 'pipe'], env });
    const renderer = new ProcessFrameRenderer(child, new Uint8Array(size.width * size.height * 4), size.width, size.height);
    await renderer.#ready(options.signal, options.backendReason);
    return renderer;
  }

  render(face: Readonly<FaceState>): Promise<Uint8Array> {
    // One render at a time: a call made while one runs waits for it (a session that
    // ended mid-frame may leave one behind for its successor).
    const run = this.#tail.then(() => this.#renderNow(face));
    this.#tail = run.then(() => undefined, () => undefined);
    return run;
  }

  /** A render process renders on the CPU (GPU avatars render in the GPU render host). */
  get backend(): 'cpu' {
    return 'cpu';
  }

  /** Why this avatar renders on the CPU (for the log). */
  get backendReason(): string {
    return this.#backendReason;
  }

  /** What the last frame's trip across the process boundary cost (request, wake-ups, frame copy), ms. */
  get overheadMs(): number {
    return this.#overheadMs;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(new Error('renderer closed'));
    // A process can be killed mid-kernel without harm to anyone else (a thread could not).
    (this.#child.stdin as Writable | null)?.destroy();
    this.#child.kill('SIGKILL');
  }

  #ready(signal?: AbortSignal, reason?: string): Promise<void> {
    const child = this.#child;
    const reader = new RenderMessageReader(this.#frame);
    return new Promise<void>((resolve, reject) => {
      let loaded = false;
      const onAbort = () => {
        this.close();
        reject(signal!.reason instanceof Error ? signal!.reason : new DOMException('avatar load aborted', 'AbortError'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settled = () => signal?.removeEventListener('abort', onAbort);
      const onMessage = (message: RenderProcessMessage) => {
        if (!loaded) {
          settled();
          if (message.type === 'ready') {
            loaded = true;
            if (reason) this.#backendReason = reason;
            resolve();
          } else {
            this.close();
            reject(new Error(message.type === 'error' ? message.message : 'render process sent a frame before it was ready'));
          }
          return;
        }
        this.#onMessage(message);
      };
      (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk, onMessage);
        } catch (error) {
          this.#fail(`render process ${child.pid} sent a corrupt stream (${(error as Error).message})`);
          child.kill('SIGKILL');
        }
      });
      // EPIPE when the process died: the exit handler says why.
      child.stdin!.on('error', () => undefined);
      (child.stdio[3] as Readable).on('error', () => undefined);
      child.on('error', (error) => {
        if (!loaded) {
          settled();
          reject(error);
        }
        this.#fail(`render process could not run: ${error.message}`);
      });
      child.on('exit', (code, signalName) => {
        const how = signalName ? `was killed by ${signalName}` : `exited with code ${code}`;
        if (!loaded) {
          settled();
          reject(new Error(`render process ${how} while loading the avatar`));
          return;
        }
        if (!this.#closed) this.#fail(`render process ${child.pid} ${how}`);
      });
    });
  }

  #onMessage(message: RenderProcessMessage): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending) return;
    if (message.type === 'frame') {
      this.#overheadMs = performance.now() - pending.sentAt - message.renderMs;
      pending.resolve(this.#frame);
    } else {
      pending.reject(new Error(message.type === 'error' ? message.message : 'render process sent an unexpected message'));
    }
  }

  #renderNow(face: Readonly<FaceState>): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error('renderer closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, sentAt: performance.now() };
      const request: RenderProcessRequest = {
        face: { blendshapes: Array.from(face.blendshapes), rotation: face.rotation, translationCm: face.translationCm, ...(face.code ? { code: Array.from(face.code) } : {}) },
      };
      this.#child.stdin!.write(`${JSON.stringify(request)}\n`);
    });
  }

  #fail(message: string): void {
    if (this.#failure || this.#closed) return;
    const fault: RendererFault = { reason: 'renderer-crashed', message };
    this.#failure = Object.assign(new Error(message), { fault });
    this.#settleFault(fault);
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure);
  }
}
