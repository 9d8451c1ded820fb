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
 *
 * A session on the CPU goes back to a GPU when the pool has a host again (`returnTo`):
 * it loads on the new host while the CPU process renders on, then the next frame is the
 * GPU's and the CPU process closes. A GPU server's sessions cannot stay on its CPU for
 * the rest of their calls: an H200 drew 2.1-5.5x the frames of its 16-core CPU
 * (docs/gpu.md, "Measured on an NVIDIA H200").
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
  /** Called each time the session moves to the CPU (the pool brings it back to a GPU host when it has one). */
  onFallBack?: (renderer: GpuHostFrameRenderer) => void;
}

export class GpuHostFrameRenderer implements FrameRenderer {
  readonly width: number;
  readonly height: number;
  readonly fault: Promise<RendererFault>;
  readonly #avatarPath: string;
  readonly #view: GpuSessionView;
  readonly #options: GpuHostFrameRendererOptions;
  #host: GpuRenderHost | null;
  #session: number;
  /** A GPU session being opened to come back to (returnTo). */
  #returning?: Promise<boolean>;
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
    this.#watch(host);
  }

  /** Noticed between frames too: the CPU process starts loading before the next frame asks. */
  #watch(host: GpuRenderHost): void {
    void host.ended.then((why) => {
      if (this.#host === host) this.#fallBack(why);
    });
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

  /** Whether the session renders on the CPU now, not closed or failed (the pool may bring it back). */
  get onCpu(): boolean {
    return !this.#host && !this.#closed && !this.#failure;
  }

  /**
   * Brings a session that moved to the CPU back to a GPU `host`: it loads there while the
   * CPU process renders on, then takes over between two frames and the CPU process
   * closes. Resolves true once back on the GPU, false when it did not (the session was
   * closed, is already back or on its way, or the host failed: it stays on the CPU).
   */
  returnTo(host: GpuRenderHost): Promise<boolean> {
    if (!this.onCpu || this.#returning) return Promise.resolve(false);
    const returning = this.#returnTo(host).finally(() => {
      this.#returning = undefined;
    });
    this.#returning = returning;
    return returning;
  }

  async #returnTo(host: GpuRenderHost): Promise<boolean> {
    let session: number;
    try {
      session = await host.openSession(this.#avatarPath, this.#view, this.#options.renderScale);
    } catch (error) {
      logger.warn(`an avatar session could not go back to the GPU: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
    // Between two renders: the frame in flight finishes on the CPU, the next is the GPU's.
    const swap = this.#tail.then(async () => {
      if (!this.onCpu || host.endedReason !== undefined) {
        host.closeSession(session);
        return false;
      }
      const cpu = await this.#cpu?.catch(() => undefined);
      this.#host = host;
      this.#session = session;
      this.#fellBack = undefined;
      this.#cpu = undefined;
      this.#cpuRenderer = undefined;
      cpu?.close();
      this.#watch(host);
      logger.info(`an avatar session is back on the GPU (render host ${host.pid})`);
      return true;
    });
    this.#tail = swap.then(() => undefined, () => undefined);
    return swap;
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
    const cpu = ProcessFrameRenderer.open(this.#avatarPath, this.#view, { ...(this.#options.renderScale ? { renderScale: this.#options.renderScale } : {}) }).then(
      (renderer) => {
        // Closed, or back on a GPU, while it loaded: it is nobody's.
        if (this.#closed || this.#cpu !== cpu) renderer.close();
        else {
          this.#cpuRenderer = renderer;
          void renderer.fault.then((fault) => {
            if (this.#cpuRenderer === renderer) this.#fail(`${why}; then its CPU render process failed: ${fault.message}`);
          });
        }
        return renderer;
      },
      (error: unknown) => {
        if (this.#cpu === cpu) this.#fail(`${why}, and its CPU render process could not start: ${error instanceof Error ? error.message : String(error)}`);
        throw this.#failure ?? error;
      },
    );
    this.#cpu = cpu;
    // A render may never come to await it (the session ended meanwhile).
    cpu.catch(() => undefined);
    this.#options.onFallBack?.(this);
  }

  #fail(message: string): void {
    if (this.#failure || this.#closed) return;
    const fault: RendererFault = { reason: 'renderer-crashed', message };
    this.#failure = Object.assign(new Error(message), { fault });
    this.#settleFault(fault);
  }
}
