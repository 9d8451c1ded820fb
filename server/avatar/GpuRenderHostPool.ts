/**
 * The server's GPU render hosts (VOXFACE_RENDER_BACKEND=gpu|auto): a session goes to a
 * host with room (each host is one process holding one device, for up to
 * `maxSessionsPerHost` sessions); the first session, or one that finds every host full,
 * starts one. A host whose GPU is gone leaves the pool (its sessions moved to the CPU),
 * so the next session starts a fresh host with a fresh device, and the sessions on the
 * CPU go back to a GPU host `recoverAfterMs` later (backing off, doubling up to 5
 * minutes, while no GPU host will start). A host with no sessions
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
  /**
   * Sessions that moved to the CPU (their host's GPU was lost) go back to a GPU host this
   * long after; default 3 s (a lost device is most often a driver reset or a killed
   * process, and a GPU server's CPU cannot carry its GPU's sessions for long). Infinity: never.
   */
  recoverAfterMs?: number;
}

/** The longest wait between attempts to bring sessions back to a GPU. */
const MAX_RECOVERY_BACKOFF_MS = 300_000;

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
  /** GPU sessions that moved to the CPU, to bring back. */
  readonly #onCpu = new Set<GpuHostFrameRenderer>();
  #recovery?: ReturnType<typeof setTimeout>;
  #recoveryDelayMs: number;
  #closed = false;

  constructor(options: GpuRenderHostPoolOptions) {
    const maxSessionsPerHost = options.maxSessionsPerHost ?? 128;
    if (!(Number.isInteger(maxSessionsPerHost) && maxSessionsPerHost >= 1)) throw new TypeError(`maxSessionsPerHost must be a positive integer, got ${maxSessionsPerHost}`);
    const recoverAfterMs = options.recoverAfterMs ?? 3000;
    if (!(recoverAfterMs >= 0)) throw new TypeError(`recoverAfterMs must be a non-negative number of ms or Infinity, got ${recoverAfterMs}`);
    this.#options = { allowSoftwareGpu: false, idleCloseMs: 60_000, ...options, maxSessionsPerHost, recoverAfterMs };
    this.#recoveryDelayMs = recoverAfterMs;
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
      opening = GpuHostFrameRenderer.open(host, avatarPath, view, {
        ...options, onClose: () => this.#sessionClosed(), onFallBack: (renderer) => this.#fellBack(renderer),
      });
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
    clearTimeout(this.#recovery);
    this.#onCpu.clear();
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

  /** A session closed: it needs no recovery, and its host (whichever it ended on) may now be idle. */
  #sessionClosed(): void {
    this.#forgetRecovered();
    for (const host of this.#hosts) this.#maybeIdle(host);
  }

  /** Drops the sessions no longer on the CPU: closed, or back on a GPU host by another path. */
  #forgetRecovered(): void {
    for (const renderer of this.#onCpu) if (!renderer.onCpu) this.#onCpu.delete(renderer);
  }

  #fellBack(renderer: GpuHostFrameRenderer): void {
    this.#onCpu.add(renderer);
    this.#scheduleRecovery();
  }

  #scheduleRecovery(): void {
    if (this.#closed || this.#recovery || this.#recoveryDelayMs === Infinity) return;
    this.#recovery = setTimeout(() => {
      this.#recovery = undefined;
      this.#recover().catch((error: unknown) => logger.warn(`bringing avatar sessions back to the GPU failed: ${String(error)}`));
    }, this.#recoveryDelayMs);
    this.#recovery.unref?.();
  }

  /** Brings every session on the CPU back to a GPU host with room; backs off while none will start. */
  async #recover(): Promise<void> {
    this.#forgetRecovered();
    if (this.#closed || this.#onCpu.size === 0) return;
    let back = 0;
    for (const renderer of [...this.#onCpu]) {
      let host: GpuRenderHost;
      try {
        host = await this.#hostWithRoom();
      } catch (error) {
        logger.warn(`no GPU render host to bring ${this.#onCpu.size} avatar session(s) back to: ${error instanceof Error ? error.message : String(error)}`);
        break;
      }
      if (host.backend !== 'gpu') {
        // auto, and the adapter is gone: the sessions stay on the CPU until a later attempt finds one.
        host.close();
        logger.warn(`no GPU to bring avatar sessions back to (${host.backendReason})`);
        break;
      }
      this.#cancelIdle(host);
      let returned: boolean;
      try {
        returned = await renderer.returnTo(host);
      } finally {
        this.#unclaim(host);
      }
      if (returned) {
        back++;
        this.#onCpu.delete(renderer);
      }
      this.#maybeIdle(host);
    }
    this.#forgetRecovered();
    if (back > 0) logger.info(`${back} avatar session(s) back on the GPU`);
    if (this.#onCpu.size === 0) {
      this.#recoveryDelayMs = this.#options.recoverAfterMs;
      return;
    }
    this.#recoveryDelayMs = Math.min(MAX_RECOVERY_BACKOFF_MS, Math.max(1000, 2 * this.#recoveryDelayMs));
    this.#scheduleRecovery();
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
