/**
 * Turns avatar-enabled peers into avatar video in their rooms. A peer asks for an
 * avatar (`enableAvatar`); once its coefficient stream is open, an AvatarSession
 * renders it at the configured size and rate. Sessions end with their peer, their
 * stream, or `disableAvatar`. The scheduler keeps the sum of all sessions' render
 * time within the machine's budget by lowering their frame rate, and says so.
 * reloadAvatar() swaps a newer version of an avatar (train-on-join installs
 * better ones while the owner is in a call) into its live sessions between frames.
 */
import { cpus } from 'node:os';
import { TypedEmitter } from '../../shared/TypedEmitter';
import { Logger } from '../Logger';
import type { Peer } from '../rooms/Peer';
import type { Room } from '../rooms/Room';
import type { CoefficientIngest } from '../streams/CoefficientIngest';
import { AvatarSession, type AvatarSessionOptions } from './AvatarSession';
import type { FrameRenderer } from './FrameRendererTypes';
import { SignalingError } from '../signaling/SignalingError';

const logger = new Logger('AvatarService');

/** Loads an avatar and returns a renderer for it (throws a clear error for a bad file). */
export type RendererFactory = (avatarId: string, size: { width: number; height: number }) => Promise<FrameRenderer>;

export interface AvatarServiceOptions extends AvatarSessionOptions {
  /** Throws (a SignalingError) when the peer's user may not drive `avatarId`. */
  authorize?: (userId: string, avatarId: string) => void;
  width: number;
  height: number;
  /** Busy render threads all sessions may use together (each session renders on its own thread); default 0.6 per core. */
  renderBudget?: number;
  minFps?: number;
}

export interface AvatarServiceEvents {
  [key: string]: unknown;
  sessionStarted: AvatarSession;
  sessionEnded: { roomId: string; peerId: string; reason: string };
  /** The scheduler changed every session's rendered-frame rate (overload or recovery). */
  rateChanged: { targetFps: number; load: number };
  /** A newer version of the avatar now renders for this peer. */
  avatarReloaded: { roomId: string; peerId: string; avatarId: string };
}

interface Wanted {
  room: Room;
  peer: Peer;
  avatarId: string;
  renderer: FrameRenderer;
  session?: AvatarSession;
  /** A start under way (the stream may open while enable() is still starting one). */
  starting?: Promise<void>;
  /** Counts reloads, so a version that loads after a newer one is dropped. */
  generation: number;
}

export class AvatarService extends TypedEmitter<AvatarServiceEvents> {
  readonly #ingest: CoefficientIngest;
  readonly #createRenderer: RendererFactory;
  readonly #options: Required<Omit<AvatarServiceOptions, 'codec' | 'bitrateKbps' | 'stallMs' | 'marker' | 'authorize'>> & AvatarServiceOptions;
  /** Keyed by `${roomId}/${peerId}`. */
  readonly #wanted = new Map<string, Wanted>();
  readonly #scheduler: ReturnType<typeof setInterval>;
  #targetFps: number;
  #closed = false;

  constructor(ingest: CoefficientIngest, createRenderer: RendererFactory, options: AvatarServiceOptions) {
    super();
    this.#ingest = ingest;
    this.#createRenderer = createRenderer;
    this.#options = { renderBudget: Math.max(0.5, cpus().length * 0.6), minFps: 5, ...options };
    this.#targetFps = options.fps;
    ingest.on('streamOpened', ({ roomId, peerId }) => {
      const wanted = this.#wanted.get(`${roomId}/${peerId}`);
      if (wanted && !wanted.session) this.#startSession(wanted).catch(() => undefined);
    });
    ingest.on('streamClosed', ({ roomId, peerId }) => this.#endSession(`${roomId}/${peerId}`, 'stream-closed', false));
    this.#scheduler = setInterval(() => this.#schedule(), 1000);
  }

  sessions(): AvatarSession[] {
    return [...this.#wanted.values()].flatMap((w) => (w.session ? [w.session] : []));
  }

  /** Loads `avatarId` for `peer`; rendering starts when (or if) its coefficient stream is open. */
  async enable(room: Room, peer: Peer, avatarId: string): Promise<void> {
    if (this.#closed) throw new SignalingError('internal', 'avatar service closed');
    this.#options.authorize?.(peer.user, avatarId);
    const key = `${room.id}/${peer.id}`;
    this.#endSession(key, 'replaced', true);
    let renderer: FrameRenderer;
    try {
      renderer = await this.#createRenderer(avatarId, { width: this.#options.width, height: this.#options.height });
    } catch (error) {
      throw new SignalingError('bad-request', `avatar '${avatarId}' cannot be used: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (peer.closed || room.closed) {
      renderer.close();
      throw new SignalingError('not-joined', 'peer left while its avatar was loading');
    }
    const wanted: Wanted = { room, peer, avatarId, renderer, generation: 0 };
    this.#wanted.set(key, wanted);
    const onLeft = (left: Peer) => {
      if (left !== peer) return;
      room.off('peerLeft', onLeft);
      this.#endSession(key, 'peer-left', true);
    };
    room.on('peerLeft', onLeft);
    if (this.#ingest.get(room.id, peer.id)) await this.#startSession(wanted);
  }

  /**
   * Loads the stored version of `avatarId` anew for every peer driving it and swaps
   * it in between two frames (no frame is missed; the old version renders until the
   * new one is loaded). A version that fails to load is logged and the current one
   * kept. Resolves with the number of peers now on the new version.
   */
  async reloadAvatar(avatarId: string): Promise<number> {
    const size = { width: this.#options.width, height: this.#options.height };
    const targets = [...this.#wanted.entries()].filter(([, w]) => w.avatarId === avatarId);
    const results = await Promise.all(targets.map(async ([key, wanted]) => {
      const generation = ++wanted.generation;
      let renderer: FrameRenderer;
      try {
        renderer = await this.#createRenderer(avatarId, size);
      } catch (error) {
        logger.warn(`new version of avatar '${avatarId}' could not be loaded for ${wanted.peer.id}; keeping the current one: ${String(error)}`);
        return false;
      }
      // A session being started holds wanted.renderer: swap only once it runs (or failed).
      while (wanted.starting) await wanted.starting;
      // Dropped when the peer stopped (or replaced) its avatar meanwhile, or a newer version came.
      const current = () => this.#wanted.get(key) === wanted && wanted.generation === generation;
      if (!current()) {
        renderer.close();
        return false;
      }
      // The session may decline (it closed, e.g. its stream stopped): the new version is then
      // kept for the next session, unless the wish itself is gone.
      if (wanted.session && !(await wanted.session.replaceRenderer(renderer)) && !current()) {
        renderer.close();
        return false;
      }
      const previous = wanted.renderer;
      wanted.renderer = renderer;
      previous.close();
      this.emit('avatarReloaded', { roomId: wanted.room.id, peerId: wanted.peer.id, avatarId });
      return true;
    }));
    return results.filter(Boolean).length;
  }

  disable(room: Room, peer: Peer): void {
    this.#endSession(`${room.id}/${peer.id}`, 'disabled', true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#scheduler);
    for (const key of [...this.#wanted.keys()]) this.#endSession(key, 'server-shutdown', true);
    this.removeAllListeners();
  }

  async #startSession(wanted: Wanted): Promise<void> {
    const stream = this.#ingest.get(wanted.room.id, wanted.peer.id);
    if (!stream || wanted.starting || wanted.session) return;
    let done!: () => void;
    wanted.starting = new Promise<void>((resolve) => { done = resolve; });
    try {
      const session = await AvatarSession.start(wanted.room, wanted.peer, stream, wanted.renderer, {
        fps: this.#options.fps, codec: this.#options.codec, bitrateKbps: this.#options.bitrateKbps, stallMs: this.#options.stallMs,
        marker: this.#options.marker,
      });
      session.setTargetFps(this.#targetFps);
      wanted.session = session;
      session.on('closed', ({ reason }) => {
        if (wanted.session === session) this.#endSession(`${wanted.room.id}/${wanted.peer.id}`, reason, true);
      });
      this.emit('sessionStarted', session);
    } catch (error) {
      logger.error(`cannot start the avatar of ${wanted.peer.id}: ${String(error)}`);
      this.#endSession(`${wanted.room.id}/${wanted.peer.id}`, 'start-failed', true);
      throw error;
    } finally {
      wanted.starting = undefined;
      done();
    }
  }

  /** Ends the session; `forget` also drops the wish (a closed stream keeps it, to restart on reopen). */
  #endSession(key: string, reason: string, forget: boolean): void {
    const wanted = this.#wanted.get(key);
    if (!wanted) return;
    const session = wanted.session;
    wanted.session = undefined;
    if (forget) {
      this.#wanted.delete(key);
      session?.close(reason);
      wanted.renderer.close();
    } else if (session) {
      // Keep the renderer for when the stream comes back; close only the video.
      session.close(reason);
    }
    if (session || forget) this.emit('sessionEnded', { roomId: wanted.room.id, peerId: wanted.peer.id, reason });
  }

  /**
   * Load = busy render threads: the sum over sessions of render ms per frame x
   * rendered frames per second / 1000. Above the budget every session renders less
   * often (down to minFps); well below it, the rate recovers.
   */
  #schedule(): void {
    const sessions = this.sessions();
    if (sessions.length === 0) return;
    const load = sessions.reduce((sum, s) => {
      const st = s.stats();
      // One render thread per session: it cannot be more than fully busy.
      return sum + Math.min(1, (st.renderMsP50 * Math.max(st.renderedFps, 1)) / 1000);
    }, 0);
    let target = this.#targetFps;
    if (load > this.#options.renderBudget) target = Math.max(this.#options.minFps, Math.floor((this.#targetFps * this.#options.renderBudget) / load));
    else if (load < this.#options.renderBudget * 0.6) target = Math.min(this.#options.fps, this.#targetFps + 2);
    if (target !== this.#targetFps) {
      this.#targetFps = target;
      for (const s of sessions) s.setTargetFps(target);
      logger.info(`avatar frame rate now ${target} fps (render load ${load.toFixed(2)} of ${sessions.length} session(s))`);
      this.emit('rateChanged', { targetFps: target, load });
    }
  }
}
