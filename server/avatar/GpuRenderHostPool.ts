/**
 * The server's GPU render hosts (VOXFACE_RENDER_BACKEND=gpu|auto): a session goes to a
 * host with room (each host is one process holding one device, for up to
 * `maxSessionsPerHost` sessions); the first session, or one that finds every host full,
 * starts one. A host whose GPU is gone leaves the pool (its sessions moved to the CPU),
 * so the next session starts a fresh host with a fresh device. A host with no sessions
 * for `idleCloseMs` is closed. 'auto' on a machine whose host found no hardware GPU
 * renders every later session in a CPU render process, as without hosts.
 */
import { Logger } from '../Logger';
import type { FrameRenderer } from './FrameRendererTypes';
import { GpuHostFrameRenderer } from './GpuHostFrameRenderer';
import { GpuRenderHost, type GpuSessionView, isHostEnded } from './GpuRenderHost';
import { ProcessFrameRenderer } from './ProcessFrameRenderer';

const logger = new Logger('GpuRenderHostPool');

export interface GpuRenderHostPoolOptions {
  backend: 'auto' | 'gpu';
  /** Accept a software adapter for 'gpu' (tests on SwiftShader only). */
  allowSoftwareGpu?: boolean;
  /** Sessions one host (one device) holds at most; default 128 (issue 13's goal for one H200). */
  maxSessionsPerHost?: number;
  /** A host with no sessions this long is closed; default 60 s (a new one costs a device and its pipelines). */
  idleCloseMs?: number;
}

/** A renderer the pool opened, and why it renders where it does (for the log). */
export type PooledRenderer = FrameRenderer & { readonly backend: 'cpu' | 'gpu'; readonly backendReason: string };

export class GpuRenderHostPool {
  readonly #options: Required<GpuRenderHostPoolOptions>;
  readonly #hosts = new Set<GpuRenderHost>();
  readonly #idle = new Map<GpuRenderHost, ReturnType<typeof setTimeout>>();
  /** Sessions each host was picked for that it does not count yet (opens under way): a cap holds for opens made together. */
  readonly #claims = new Map<GpuRenderHost, number>();
  #starting?: Promise<GpuRenderHost>;
  /** Why 'auto' renders on the CPU (no hardware GPU adapter), once a host found none. */
  #noGpu?: string;
  #closed = false;

  constructor(options: GpuRenderHostPoolOptions) {
    const maxSessionsPerHost = options.maxSessionsPerHost ?? 128;
    if (!(Number.isInteger(maxSessionsPerHost) && maxSessionsPerHost >= 1)) throw new TypeError(`maxSessionsPerHost must be a positive integer, got ${maxSessionsPerHost}`);
    this.#options = { allowSoftwareGpu: false, idleCloseMs: 60_000, ...options, maxSessionsPerHost };
  }

  /** The hosts serving now (diagnostics and tests). */
  get hosts(): GpuRenderHost[] {
    return [...this.#hosts];
  }

  /** A renderer for the avatar file: a session on a GPU host, or a CPU render process when there is no GPU (auto). */
  async open(avatarPath: string, view: GpuSessionView, options: { renderScale?: number; signal?: AbortSignal } = {}): Promise<PooledRenderer> {
    if (this.#closed) throw new Error('GPU render host pool closed');
    // The pool decided there is no GPU for this avatar: its render process must not probe
    // again (loading Dawn and creating a Vulkan instance in every CPU render process cost
    // each avatar load a CPU burst, enough to drop a live call's frame rate during a swap).
    const cpu = (reason: string) => ProcessFrameRenderer.open(avatarPath, view, {
      backendReason: reason, ...(options.renderScale ? { renderScale: options.renderScale } : {}), ...(options.signal ? { signal: options.signal } : {}),
    });
    if (this.#noGpu !== undefined) return cpu(this.#noGpu);
    let host: GpuRenderHost;
    try {
      host = await this.#hostWithRoom();
    } catch (error) {
      // 'gpu' says loudly that there is no GPU; 'auto' renders on the CPU.
      if (this.#options.backend === 'gpu') throw error;
      const why = `no GPU render host (${error instanceof Error ? error.message : String(error)})`;
      logger.warn(`${why}: the avatar renders on the CPU`);
      return cpu(`auto: ${why}`);
    }
    if (host.backend === 'cpu') {
      this.#noGpu = host.backendReason;
      this.#hosts.delete(host);
      logger.info(`avatars render on the CPU (${host.backendReason})`);
      return cpu(host.backendReason);
    }
    this.#cancelIdle(host);
    let opening: Promise<GpuHostFrameRenderer>;
    try {
      // openSession counts the session at once: the claim can go.
      opening = GpuHostFrameRenderer.open(host, avatarPath, view, { ...options, onClose: () => this.#maybeIdle(host) });
    } finally {
      this.#unclaim(host);
    }
    try {
      return await opening;
    } catch (error) {
      this.#maybeIdle(host);
      // The host's GPU went while the avatar loaded: this session starts on the CPU.
      if (isHostEnded(error) && !options.signal?.aborted) {
        logger.warn(`the GPU render host ended while an avatar loaded (${error.hostEnded}): it renders on the CPU`);
        return ProcessFrameRenderer.open(avatarPath, view, { ...options });
      }
      throw error;
    }
  }

  /** Closes every host (their sessions' renders reject); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#idle.values()) clearTimeout(timer);
    this.#idle.clear();
    for (const host of this.#hosts) host.close();
    this.#hosts.clear();
    void this.#starting?.then((host) => host.close(), () => undefined);
  }

  /** Sessions on `host`, open or being opened. */
  #load(host: GpuRenderHost): number {
    return host.sessionCount + (this.#claims.get(host) ?? 0);
  }

  #claim(host: GpuRenderHost): GpuRenderHost {
    if (host.backend === 'gpu') this.#claims.set(host, (this.#claims.get(host) ?? 0) + 1);
    return host;
  }

  #unclaim(host: GpuRenderHost): void {
    const n = (this.#claims.get(host) ?? 0) - 1;
    if (n > 0) this.#claims.set(host, n);
    else this.#claims.delete(host);
  }

  /** A host with room for one more session, claimed for it (open() gives the claim back). */
  async #hostWithRoom(): Promise<GpuRenderHost> {
    for (const host of this.#hosts) {
      if (host.endedReason === undefined && this.#load(host) < this.#options.maxSessionsPerHost) return this.#claim(host);
    }
    // One start at a time: sessions opening together share the host it starts.
    this.#starting ??= GpuRenderHost.start({ backend: this.#options.backend, allowSoftwareGpu: this.#options.allowSoftwareGpu }).then(
      (host) => {
        this.#starting = undefined;
        if (this.#closed) {
          host.close();
          throw new Error('GPU render host pool closed');
        }
        if (host.backend === 'gpu') {
          this.#hosts.add(host);
          logger.info(`GPU render host ${host.pid} started (${host.backendReason})`);
          void host.ended.then((why) => {
            logger.warn(`GPU render host ${host.pid} ended: ${why}`);
            this.#hosts.delete(host);
            this.#cancelIdle(host);
            host.close();
          });
        }
        return host;
      },
      (error: unknown) => {
        this.#starting = undefined;
        throw error;
      },
    );
    const host = await this.#starting;
    // Full already (many sessions waited on one start): find or start another.
    if (host.backend === 'gpu' && this.#load(host) >= this.#options.maxSessionsPerHost) return this.#hostWithRoom();
    return this.#claim(host);
  }

  #maybeIdle(host: GpuRenderHost): void {
    if (this.#closed || host.sessionCount > 0 || !this.#hosts.has(host) || this.#idle.has(host)) return;
    const timer = setTimeout(() => {
      this.#idle.delete(host);
      if (host.sessionCount > 0) return;
      this.#hosts.delete(host);
      host.close();
    }, this.#options.idleCloseMs);
    timer.unref();
    this.#idle.set(host, timer);
  }

  #cancelIdle(host: GpuRenderHost): void {
    const timer = this.#idle.get(host);
    if (timer) clearTimeout(timer);
    this.#idle.delete(host);
  }
}
