/**
 * One avatar session on a GPU render host (GpuRenderHost): the FrameRenderer the avatar
 * session drives, as a ProcessFrameRenderer would be, its frames read from the host's
 * socket into this session's reused buffer.
 *
 * When the host's GPU is gone (the device lost or failed, or the host process died), the
 * session moves to a CPU render process of its own (a ProcessFrameRenderer, backend
 * 'cpu'): the render in flight and the next ones wait for it to load and render there,
 * so no frame fails and the call goes on; `backend` turns to 'cpu' and the log says why.
 * Not the host rendering its sessions on the CPU itself: one process's CPU renders would
 * queue every session of the device behind one another (the native kernels take about
 * 0.8 of a core per live avatar), and a native fault in them would end all of them; a
 * process per session is what the CPU backend is built as. Only when that CPU process
 * cannot start, or dies later, does the renderer fault ('renderer-crashed', with both reasons).
 */
import { Logger } from '../Logger';
import type { FaceState } from './DrivenFace';
import type { FrameRenderer, RendererFault } from './FrameRendererTypes';
import { type GpuRenderHost, type GpuSessionView, isHostEnded } from './GpuRenderHost';
import { ProcessFrameRenderer } from './ProcessFrameRenderer';

const logger = new Logger('GpuHostFrameRenderer');

export interface GpuHostFrameRendererOptions {
  renderScale?: number;
  /** Aborting while the avatar loads closes the session and rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called once when the renderer is closed (the pool counts its hosts' sessions). */
  onClose?: () => void;
}

export class GpuHostFrameRenderer implements FrameRenderer {
  readonly width: number;
  readonly height: number;
  readonly fault: Promise<RendererFault>;
  readonly #avatarPath: string;
  readonly #view: GpuSessionView;
  readonly #options: GpuHostFrameRendererOptions;
  #host: GpuRenderHost | null;
  readonly #session: number;
  /** The CPU render process this session moved to (loading, then loaded). */
  #cpu?: Promise<ProcessFrameRenderer>;
  #cpuRenderer?: ProcessFrameRenderer;
  #settleFault!: (fault: RendererFault) => void;
  #failure?: Error & { fault: RendererFault };
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Why this session renders on the CPU now (undefined while on the GPU). */
  #fellBack?: string;
  #renderMs = 0;

  private constructor(host: GpuRenderHost, session: number, avatarPath: string, view: GpuSessionView, options: GpuHostFrameRendererOptions) {
    this.#host = host;
    this.#session = session;
    this.#avatarPath = avatarPath;
    this.#view = view;
    this.#options = options;
    this.width = view.width;
    this.height = view.height;
    this.fault = new Promise((resolve) => { this.#settleFault = resolve; });
    // Noticed between frames too: the CPU process starts loading before the next frame asks.
    void host.ended.then((why) => this.#fallBack(why));
  }

  /** Opens a session of the avatar file on `host`; rejects with the file's problem, or a HostEndedError. */
  static async open(host: GpuRenderHost, avatarPath: string, view: GpuSessionView, options: GpuHostFrameRendererOptions = {}): Promise<GpuHostFrameRenderer> {
    const { signal } = options;
    signal?.throwIfAborted();
    let session: number | undefined;
    const opening = host.openSession(avatarPath, view, options.renderScale);
    const onAbort = () => void opening.then((id) => host.closeSession(id), () => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      session = await opening;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) {
      host.closeSession(session);
      throw signal.reason instanceof Error ? signal.reason : new DOMException('avatar load aborted', 'AbortError');
    }
    return new GpuHostFrameRenderer(host, session, avatarPath, view, options);
  }

  /** 'gpu' while the host draws this session, 'cpu' once it moved to a CPU render process. */
  get backend(): 'cpu' | 'gpu' {
    return this.#host ? 'gpu' : 'cpu';
  }

  /** Why the session renders where it does (for the log). */
  get backendReason(): string {
    return this.#fellBack ?? this.#host?.backendReason ?? '';
  }

  /** The process drawing the frames: the GPU host's (shared by its sessions), then the CPU render process's. */
  get pid(): number | undefined {
    return this.#host ? this.#host.pid : this.#cpuRenderer?.pid;
  }

  /** The host's time for the last frame (request to frame, on the host), ms. */
  get renderMs(): number {
    return this.#renderMs;
  }

  render(face: Readonly<FaceState>): Promise<Uint8Array> {
    // One render at a time, as ProcessFrameRenderer's.
    const run = this.#tail.then(() => this.#renderNow(face));
    this.#tail = run.then(() => undefined, () => undefined);
    return run;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host?.closeSession(this.#session);
    this.#host = null;
    void this.#cpu?.then((cpu) => cpu.close(), () => undefined);
    this.#options.onClose?.();
  }

  async #renderNow(face: Readonly<FaceState>): Promise<Uint8Array> {
    if (this.#closed) throw new Error('renderer closed');
    if (this.#failure) throw this.#failure;
    const host = this.#host;
    if (host) {
      try {
        const { frame, renderMs } = await host.render(this.#session, face);
        this.#renderMs = renderMs;
        return frame;
      } catch (error) {
        if (!isHostEnded(error)) throw error;
        this.#fallBack(error.hostEnded);
      }
    }
    const cpu = await this.#cpu!;
    if (this.#closed) throw new Error('renderer closed');
    return cpu.render(face);
  }

  /** From now on the session renders in a CPU render process of its own. */
  #fallBack(why: string): void {
    if (this.#closed || !this.#host) return;
    this.#host.closeSession(this.#session);
    this.#host = null;
    this.#fellBack = `moved to the CPU: ${why}`;
    logger.warn(`an avatar session moves from its GPU render host to a CPU render process: ${why}`);
    this.#cpu = ProcessFrameRenderer.open(this.#avatarPath, this.#view, { ...(this.#options.renderScale ? { renderScale: this.#options.renderScale } : {}) }).then(
      (cpu) => {
        if (this.#closed) cpu.close();
        this.#cpuRenderer = cpu;
        void cpu.fault.then((fault) => this.#fail(`${why}; then its CPU render process failed: ${fault.message}`));
        return cpu;
      },
      (error: unknown) => {
        this.#fail(`${why}, and its CPU render process could not start: ${error instanceof Error ? error.message : String(error)}`);
        throw this.#failure;
      },
    );
    // A render may never come to await it (the session ended meanwhile).
    this.#cpu.catch(() => undefined);
  }

  #fail(message: string): void {
    if (this.#failure || this.#closed) return;
    const fault: RendererFault = { reason: 'renderer-crashed', message };
    this.#failure = Object.assign(new Error(message), { fault });
    this.#settleFault(fault);
  }
}
