/**
 * Turns avatar-enabled peers into avatar video in their rooms. A peer asks for an
 * avatar (`enableAvatar`); once its coefficient stream is open, an AvatarSession
 * renders it at the configured size and rate. Sessions end with their peer, their
 * stream, or `disableAvatar`. The scheduler keeps the CPU sessions' render time within
 * the machine's cores, and the GPU sessions' ticks within their frame interval, by
 * lowering that backend's frame rate, and says so (frameRateSchedule.ts).
 * reloadAvatar() swaps a newer version of an avatar (train-on-join installs
 * better ones while the owner is in a call) into its live sessions between frames.
 *
 * Requests: asking again for the avatar a peer has (or is loading) changes nothing;
 * asking for another one loads it while the current one keeps rendering, and the last
 * request wins (a load or start it replaced is abandoned and cleaned up). A renderer
 * that faults (its process died) ends only its peer's avatar, and the peer is told
 * (`avatarStopped`). Sessions, render processes and encoders are capped (AvatarLimits).
 */
import { cpus } from 'node:os';
import { scheduleFrameRates, trackingRate } from './frameRateSchedule';
import { TypedEmitter } from '../../shared/TypedEmitter';
import type { AvatarStopReason } from '../../shared/signaling/messages';
import { Logger } from '../Logger';
import type { Peer } from '../rooms/Peer';
import type { Room } from '../rooms/Room';
import type { CoefficientIngest } from '../streams/CoefficientIngest';
import { SignalingError } from '../signaling/SignalingError';
import { AvatarSession } from './AvatarSession';
import { standBy } from './hostedStandby';
import { RenderProcessSlots } from './RenderProcessSlots';
import { type BackgroundChoice, DEFAULT_BACKGROUND } from '../../shared/signaling/background';
import type { RenderBackground } from '../engine/AvatarPlates';
import type { AvatarLimits, AvatarServiceEvents, AvatarServiceOptions, AvatarUsage, HostedAvatarSession, RendererFactory } from './AvatarServiceTypes';
import type { FrameRenderer } from './FrameRendererTypes';
import { VideoInjector } from './VideoInjector';

export type { AvatarLimits, AvatarServiceEvents, AvatarServiceOptions, AvatarUsage, RendererFactory } from './AvatarServiceTypes';

const logger = new Logger('AvatarService');

/** Endings nobody asked for: the peer is told, so its client can send the camera instead. */
const UNASKED = new Set<string>(['renderer-crashed', 'render-failed', 'video-encoder-failed', 'video-router-closed', 'start-failed'] satisfies AvatarStopReason[]);

interface Wanted {
  /** `${roomId}/${peerId}` */
  key: string;
  room: Room;
  peer: Peer;
  avatarId: string;
  /** What the avatar's video shows behind the person. */
  background: RenderBackground;
  renderer: FrameRenderer;
  session?: AvatarSession;
  /** The session when another process hosts it (options.hosting); `renderer` then stands by, and `standby` (an encoder) with it. */
  hosted?: HostedAvatarSession;
  standby?: Promise<VideoInjector | undefined>;
  /** A start under way (the stream may open while enable() is still starting one). */
  starting?: Promise<void>;
  /** Counts reloads, so a version that loads after a newer one is dropped. */
  generation: number;
  /** Removes the peer-left listener (one per wish, removed with it). */
  unwatch: () => void;
  /** Why the wish ended (a session that finishes starting after that closes with it). */
  ended?: string;
  /** The render rate last told to the peer (avatarFrameRate), for the session running now. */
  toldFps?: number;
}

interface Loading {
  avatarId: string;
  background: RenderBackground;
  peerId: string;
  abort: AbortController;
  done: Promise<void>;
}

/** Whether `x` shows `avatarId` on `background` already. */
function sameLook(x: { avatarId: string; background: RenderBackground }, avatarId: string, background: RenderBackground): boolean {
  return x.avatarId === avatarId && JSON.stringify(x.background) === JSON.stringify(background);
}

export class AvatarService extends TypedEmitter<AvatarServiceEvents> {
  readonly #ingest: CoefficientIngest;
  readonly #options: Required<Omit<AvatarServiceOptions, 'codec' | 'bitrateKbps' | 'stallMs' | 'marker' | 'authorize' | 'backgroundImage' | 'limits' | 'hosting' | 'codeSizeOf'>> & AvatarServiceOptions;
  readonly #limits: AvatarLimits;
  /** Keyed by `${roomId}/${peerId}`. */
  readonly #wanted = new Map<string, Wanted>();
  /** Avatar loads under way, by the same key (at most one per peer: a newer request aborts it). */
  readonly #loading = new Map<string, Loading>();
  readonly #renderProcesses: RenderProcessSlots;
  /** Sessions between the encoder check and their encoder's spawn. */
  #encodersStarting = 0;
  readonly #scheduler: ReturnType<typeof setInterval>;
  /** Each backend's scheduled frame rate; a new session starts at its backend's. */
  readonly #targetFps: Record<'cpu' | 'gpu', number>;
  #closed = false;

  constructor(ingest: CoefficientIngest, createRenderer: RendererFactory, options: AvatarServiceOptions) {
    super();
    this.#ingest = ingest;
    this.#options = { renderBudget: Math.max(0.5, cpus().length * 0.6), gpuRenderBudget: 0.8, minFps: 5, ...options };
    this.#limits = { maxSessions: Infinity, maxSessionsPerPeer: Infinity, maxRenderProcesses: Infinity, maxEncoders: Infinity, ...options.limits };
    this.#renderProcesses = new RenderProcessSlots(createRenderer, this.#limits.maxRenderProcesses);
    this.#targetFps = { cpu: options.fps, gpu: options.fps };
    ingest.on('streamOpened', ({ roomId, peerId }) => {
      const wanted = this.#wanted.get(`${roomId}/${peerId}`);
      if (wanted && !wanted.session && !wanted.hosted) this.#startSession(wanted, false).catch(() => undefined);
    });
    // A face's render starts when it arrives rather than at the session's next tick.
    ingest.on('frame', ({ roomId, peerId }) => this.#wanted.get(`${roomId}/${peerId}`)?.session?.faceArrived());
    ingest.on('streamClosed', ({ roomId, peerId }) => {
      const wanted = this.#wanted.get(`${roomId}/${peerId}`);
      if (wanted) this.#end(wanted, 'stream-closed', false);
    });
    this.#scheduler = setInterval(() => this.#schedule(), 1000);
  }

  sessions(): AvatarSession[] {
    return [...this.#wanted.values()].flatMap((w) => (w.session ? [w.session] : []));
  }

  /** The rate `peerId`'s tracker was last told (avatarFrameRate) in `roomId`; undefined while no session of it runs. */
  toldFrameRate(roomId: string, peerId: string): number | undefined {
    return this.#wanted.get(`${roomId}/${peerId}`)?.toldFps;
  }

  /** What runs now against the caps (for /metrics). */
  usage(): AvatarUsage {
    const stats = this.sessions().map((s) => s.stats());
    const on = (backend: 'cpu' | 'gpu') => {
      const ms = stats.filter((st) => st.backend === backend).map((st) => st.renderMsP50).sort((a, b) => a - b);
      return { sessions: ms.length, renderMsP50: ms.length ? ms[Math.floor(ms.length / 2)]! : 0 };
    };
    return {
      sessions: this.#sessionKeys().size, byBackend: { cpu: on('cpu'), gpu: on('gpu') }, renderProcesses: this.#renderProcesses.held,
      encoders: VideoInjector.runningEncoders, limits: { ...this.#limits },
    };
  }

  /**
   * Loads `avatarId` for `peer`; rendering starts when (or if) its coefficient stream
   * is open. Resolves once it renders (or waits for its stream), or once a later
   * request replaced this one.
   */
  async enable(room: Room, peer: Peer, avatarId: string, choice: BackgroundChoice = DEFAULT_BACKGROUND): Promise<void> {
    if (this.#closed) throw new SignalingError('internal', 'avatar service closed');
    this.#options.authorize?.(peer.user, avatarId);
    const background = this.#resolveBackground(peer.user, choice);
    const key = `${room.id}/${peer.id}`;
    const loading = this.#loading.get(key);
    // The same request again (a retry, a loop): one load, one renderer.
    if (loading && sameLook(loading, avatarId, background)) return loading.done;
    // The last request wins: a load it replaces is abandoned (its process ended).
    if (loading) {
      this.#loading.delete(key);
      loading.abort.abort();
    }
    const current = this.#wanted.get(key);
    // Another background is another picture: the avatar is loaded anew with it (as a new avatar would be).
    if (current && sameLook(current, avatarId, background)) {
      await current.starting;
      return;
    }
    this.#admit(peer, key);
    const abort = new AbortController();
    const entry: Loading = { avatarId, background, peerId: peer.id, abort, done: this.#load(room, peer, key, avatarId, background, abort.signal) };
    this.#loading.set(key, entry);
    try {
      await entry.done;
    } finally {
      if (this.#loading.get(key) === entry) this.#loading.delete(key);
    }
  }

  /**
   * Loads the stored version of `avatarId` anew for every peer driving it and swaps
   * it in between two frames (no frame is missed; the old version renders until the
   * new one is loaded). A version that fails to load is logged and the current one
   * kept. Resolves with the number of peers now on the new version.
   */
  async reloadAvatar(avatarId: string): Promise<number> {
    const targets = [...this.#wanted.values()].filter((w) => w.avatarId === avatarId);
    const results = await Promise.all(targets.map(async (wanted) => {
      const generation = ++wanted.generation;
      let renderer: FrameRenderer;
      try {
        renderer = await this.#openRenderer(avatarId, wanted.background);
      } catch (error) {
        logger.warn(`new version of avatar '${avatarId}' could not be loaded for ${wanted.peer.id}; keeping the current one: ${String(error)}`);
        return false;
      }
      // A session being started holds wanted.renderer: swap only once it runs (or failed).
      while (wanted.starting) await wanted.starting;
      // Dropped when the peer stopped (or replaced) its avatar meanwhile, or a newer version came.
      const current = () => this.#wanted.get(wanted.key) === wanted && wanted.generation === generation;
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
      this.#watchFault(wanted, renderer);
      previous.close();
      // A hosted session loads the new version on its host (the one here stands by).
      wanted.hosted?.reload().catch((error: unknown) => logger.warn(`the host of ${wanted.peer.id}'s avatar did not reload it: ${String(error)}`));
      this.emit('avatarReloaded', { roomId: wanted.room.id, peerId: wanted.peer.id, avatarId });
      return true;
    }));
    return results.filter(Boolean).length;
  }

  disable(room: Room, peer: Peer): void {
    const key = `${room.id}/${peer.id}`;
    const loading = this.#loading.get(key);
    this.#loading.delete(key);
    loading?.abort.abort();
    const wanted = this.#wanted.get(key);
    if (wanted) this.#end(wanted, 'disabled', true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#scheduler);
    for (const loading of this.#loading.values()) loading.abort.abort();
    this.#loading.clear();
    for (const wanted of [...this.#wanted.values()]) this.#end(wanted, 'server-shutdown', true);
    this.removeAllListeners();
  }

  /** Keys with an avatar wished for or loading (a peer replacing its avatar counts once). */
  #sessionKeys(): Set<string> {
    return new Set([...this.#wanted.keys(), ...this.#loading.keys()]);
  }

  /** Throws the cap's error when a new avatar for `key` would exceed the session caps. */
  #admit(peer: Peer, key: string): void {
    const keys = this.#sessionKeys();
    if (keys.has(key)) return; // a replacement, not one more
    const { maxSessions, maxSessionsPerPeer } = this.#limits;
    if (keys.size >= maxSessions) throw new SignalingError('avatar-session-limit', `the server runs ${keys.size} avatar sessions, its limit`);
    const ofPeer = [...this.#wanted.values()].filter((w) => w.peer.id === peer.id).length
      + [...this.#loading.entries()].filter(([k, l]) => l.peerId === peer.id && !this.#wanted.has(k)).length;
    if (ofPeer >= maxSessionsPerPeer) throw new SignalingError('avatar-peer-limit', `peer '${peer.id}' has ${ofPeer} avatar sessions, the limit per peer`);
  }

  /** An uploaded image to its owner's stored file (a SignalingError for anyone else's id). */
  #resolveBackground(userId: string, choice: BackgroundChoice): RenderBackground {
    if (choice.kind !== 'image') return choice;
    if (!this.#options.backgroundImage) throw new SignalingError('not-found', 'this server stores no background images');
    return { kind: 'image', id: choice.id, path: this.#options.backgroundImage(userId, choice.id) };
  }

  async #load(room: Room, peer: Peer, key: string, avatarId: string, background: RenderBackground, signal: AbortSignal): Promise<void> {
    let renderer: FrameRenderer;
    try {
      renderer = await this.#openRenderer(avatarId, background, signal);
    } catch (error) {
      // Replaced by a later request: its outcome is what counts.
      if (signal.aborted) return;
      if (error instanceof SignalingError) throw error;
      throw new SignalingError('bad-request', `avatar '${avatarId}' cannot be used: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (signal.aborted || this.#closed) {
      renderer.close();
      return;
    }
    if (peer.closed || room.closed) {
      renderer.close();
      throw new SignalingError('not-joined', 'peer left while its avatar was loading');
    }
    // The previous avatar rendered until now; this one takes over.
    const previous = this.#wanted.get(key);
    if (previous) this.#end(previous, 'replaced', true);
    const onLeft = (left: Peer) => {
      if (left === peer) this.#end(wanted, 'peer-left', true);
    };
    const wanted: Wanted = { key, room, peer, avatarId, background, renderer, generation: 0, unwatch: () => room.off('peerLeft', onLeft) };
    this.#wanted.set(key, wanted);
    room.on('peerLeft', onLeft);
    this.#watchFault(wanted, renderer);
    if (this.#ingest.get(room.id, peer.id)) await this.#startSession(wanted, true);
  }

  #codeSizeOf(avatarId: string): number | null {
    try {
      return this.#options.codeSizeOf?.(avatarId) ?? null;
    } catch (error) {
      logger.warn(`cannot tell whether avatar '${avatarId}' has an expression encoder: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  }

  #openRenderer(avatarId: string, background: RenderBackground, signal?: AbortSignal): Promise<FrameRenderer> {
    return this.#renderProcesses.open(avatarId, { width: this.#options.width, height: this.#options.height, background }, signal);
  }

  /** A renderer that faults ends its peer's avatar (if it is still the one in use). */
  #watchFault(wanted: Wanted, renderer: FrameRenderer): void {
    void renderer.fault?.then((fault) => {
      if (wanted.renderer !== renderer) return;
      logger.error(`avatar '${wanted.avatarId}' of ${wanted.peer.id} stopped: ${fault.message}`);
      this.#end(wanted, fault.reason, true, fault.message);
    });
  }

  async #startSession(wanted: Wanted, requested: boolean): Promise<void> {
    const stream = this.#ingest.get(wanted.room.id, wanted.peer.id);
    if (!stream || wanted.starting || wanted.session || wanted.hosted) return;
    stream.setCodeSize(this.#codeSizeOf(wanted.avatarId));
    let done!: () => void;
    wanted.starting = new Promise<void>((resolve) => { done = resolve; });
    try {
      if (await this.#host(wanted)) return;
      // A fallback from a lost host takes the encoder standing by (counted among the running ones already).
      const standby = await wanted.standby;
      wanted.standby = undefined;
      if (!standby && VideoInjector.runningEncoders + this.#encodersStarting >= this.#limits.maxEncoders) {
        throw new SignalingError('encoder-limit', `the server runs ${VideoInjector.runningEncoders + this.#encodersStarting} video encoders, its limit`);
      }
      this.#encodersStarting += 1;
      let session: AvatarSession;
      try {
        session = await AvatarSession.start(wanted.room, wanted.peer, stream, wanted.renderer, {
          fps: this.#options.fps, codec: this.#options.codec, bitrateKbps: this.#options.bitrateKbps, stallMs: this.#options.stallMs,
          marker: this.#options.marker,
        }, standby);
      } catch (error) {
        standby?.close();
        throw error;
      } finally {
        this.#encodersStarting -= 1;
      }
      // Abandoned while it started (replaced, disabled, its peer left, its renderer died), or its stream closed meanwhile.
      if (this.#wanted.get(wanted.key) !== wanted || this.#ingest.get(wanted.room.id, wanted.peer.id) !== stream) {
        session.close(wanted.ended ?? 'stream-closed');
        return;
      }
      session.setTargetFps(this.#targetFps[wanted.renderer.backend === 'gpu' ? 'gpu' : 'cpu']);
      wanted.session = session;
      this.#tellFrameRate(wanted, session.targetFps);
      session.on('closed', ({ reason }) => {
        if (wanted.session === session) this.#end(wanted, reason, true);
      });
      this.emit('sessionStarted', session);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.error(`cannot start the avatar of ${wanted.peer.id}: ${message}`);
      // The request reports its own failure; a start on a reopened stream is told to the peer.
      this.#end(wanted, 'start-failed', true, message, !requested);
      throw error;
    } finally {
      wanted.starting = undefined;
      done();
    }
  }

  /**
   * Asks options.hosting to host the wish's session; says whether it took it. One whose
   * host ends it (the host died) falls back to a session here, with the standing-by renderer.
   */
  async #host(wanted: Wanted): Promise<boolean> {
    const hosting = this.#options.hosting;
    if (!hosting) return false;
    let hosted: HostedAvatarSession | undefined;
    try {
      hosted = await hosting.host({ room: wanted.room, peer: wanted.peer, avatarId: wanted.avatarId, background: wanted.background });
    } catch (error) {
      logger.warn(`the avatar of ${wanted.peer.id} could not be hosted elsewhere, rendering it here: ${String(error)}`);
      return false;
    }
    if (!hosted) return false;
    // Abandoned while it was placed, or its stream closed meanwhile.
    if (this.#wanted.get(wanted.key) !== wanted || !this.#ingest.get(wanted.room.id, wanted.peer.id)) {
      hosted.close(wanted.ended ?? 'stream-closed');
      return true;
    }
    wanted.hosted = hosted;
    // The host schedules its own rate; what it starts at is this service's (the same configuration).
    this.#tellFrameRate(wanted, this.#options.fps);
    // What stands by from an earlier hosting (hosted again before a fallback took it) is kept, not replaced.
    wanted.standby ??= standBy({
      router: wanted.room.router, peerId: wanted.peer.id, renderer: wanted.renderer, stream: this.#ingest.get(wanted.room.id, wanted.peer.id),
      encoderAllowed: VideoInjector.runningEncoders + this.#encodersStarting < this.#limits.maxEncoders,
    }, this.#options);
    hosted.onEnded((reason) => {
      if (wanted.hosted !== hosted) return;
      wanted.hosted = undefined;
      logger.warn(`the avatar of ${wanted.peer.id} ended on its host (${reason}): rendering it here`);
      this.emit('sessionEnded', { roomId: wanted.room.id, peerId: wanted.peer.id, reason });
      if (this.#wanted.get(wanted.key) === wanted) this.#startSession(wanted, false).catch(() => undefined);
    });
    return true;
  }

  /**
   * Ends the wish's session; `forget` also drops the wish (a closed stream keeps it, to
   * restart on reopen). Only the wish in place acts: one a later request replaced is gone already.
   */
  #end(wanted: Wanted, reason: string, forget: boolean, message = reason, notify = true): void {
    if (this.#wanted.get(wanted.key) !== wanted) return;
    const session = wanted.session;
    wanted.session = undefined;
    const hosted = wanted.hosted;
    wanted.hosted = undefined;
    hosted?.close(reason);
    // A session started again (its stream reopened) tells its rate anew.
    wanted.toldFps = undefined;
    const standby = wanted.standby;
    wanted.standby = undefined;
    void standby?.then((injector) => injector?.close());
    if (forget) {
      wanted.ended = reason;
      this.#wanted.delete(wanted.key);
      wanted.unwatch();
      session?.close(reason);
      wanted.renderer.close();
    } else if (session) {
      // Keep the renderer for when the stream comes back; close only the video.
      session.close(reason);
    }
    if (session || hosted || forget) this.emit('sessionEnded', { roomId: wanted.room.id, peerId: wanted.peer.id, reason });
    if (forget && notify && UNASKED.has(reason)) {
      wanted.peer.notify('avatarStopped', { avatarId: wanted.avatarId, reason: reason as AvatarStopReason, message });
    }
  }

  /**
   * Above a backend's budget its sessions render less often (down to minFps); well below
   * it, their rate recovers. CPU and GPU sessions are budgeted apart (frameRateSchedule.ts).
   */
  #schedule(): void {
    // Each running session's stats, read once a tick for the scheduler and the tracking rate.
    const running = [...this.#wanted.values()].flatMap((wanted) => (wanted.session ? [{ wanted, session: wanted.session, stats: wanted.session.stats() }] : []));
    if (running.length === 0) return;
    const backendOf = (backend: 'cpu' | 'gpu' | undefined) => (backend === 'gpu' ? 'gpu' : 'cpu');
    const rates = scheduleFrameRates(
      running.map(({ stats: st }) => ({ backend: backendOf(st.backend), renderMsP50: st.renderMsP50, renderedFps: st.renderedFps })),
      this.#targetFps,
      { fps: this.#options.fps, minFps: this.#options.minFps, cpuBudget: this.#options.renderBudget, gpuBudget: this.#options.gpuRenderBudget },
    );
    for (const backend of ['cpu', 'gpu'] as const) {
      const { targetFps, load } = rates[backend];
      if (targetFps === this.#targetFps[backend]) continue;
      this.#targetFps[backend] = targetFps;
      const count = running.filter(({ stats: st }) => backendOf(st.backend) === backend).length;
      logger.info(`${backend.toUpperCase()} avatar frame rate now ${targetFps} fps (render load ${load.toFixed(2)} of ${count} session(s))`);
      this.emit('rateChanged', { backend, targetFps, load });
    }
    // Every tick, not only on a change: a session that moved from the GPU to the CPU (a lost device) takes its new backend's rate.
    for (const { wanted, session, stats: st } of running) {
      session.setTargetFps(this.#targetFps[backendOf(st.backend)]);
      this.#tellFrameRate(wanted, trackingRate({ targetFps: session.targetFps, renderedFps: st.renderedFps, renderBusyShare: st.renderBusyShare, drivenMs: st.drivenMs }, wanted.toldFps));
    }
  }

  /** Tells the peer its avatar's render rate when it changed, so its tracker keeps pace and no more (avatarFrameRate). */
  #tellFrameRate(wanted: Wanted, fps: number): void {
    if (wanted.toldFps === fps || wanted.peer.closed) return;
    wanted.toldFps = fps;
    wanted.peer.notify('avatarFrameRate', { avatarId: wanted.avatarId, fps });
  }
}
