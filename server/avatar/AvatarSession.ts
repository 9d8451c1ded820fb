/**
 * One avatar-enabled peer's avatar in the room: at a fixed output rate it reads
 * the face to show (DrivenFace), renders it off the event loop, and hands the frame
 * to a VideoInjector whose producer the peer owns, so receivers consume it like a
 * camera. A render still running when the next tick comes is not queued: the tick
 * is counted and, when no new frame went out since the last tick, the newest frame
 * is sent again, so the session never falls behind; a render that overran its slot
 * is followed at once by the next (back to back, up to the target rate). Below the
 * output rate (the scheduler's cap) idle ticks repeat the newest frame. While the stream is stalled the last frame is repeated (a still picture)
 * and the status says so. A better version of the avatar (train-on-join) comes in
 * through replaceRenderer(): the swap happens between two renders, so the video
 * never misses a frame.
 */
import type { types } from 'mediasoup';
import { TypedEmitter } from '../../shared/TypedEmitter';
import type { CoefficientStream } from '../coefficients/CoefficientStream';
import { Logger } from '../Logger';
import type { Peer } from '../rooms/Peer';
import type { Room } from '../rooms/Room';
import { DrivenFace, type DrivenFaceStatus } from './DrivenFace';
import { faultOf, type FrameRenderer } from './FrameRendererTypes';
import { VideoInjector } from './VideoInjector';
import { stampMarker } from '../../shared/avatar/frameMarker';
import type { AvatarCodec } from './encoderArgs';

const logger = new Logger('AvatarSession');

export interface AvatarSessionOptions {
  fps: number;
  codec?: AvatarCodec;
  bitrateKbps?: number;
  stallMs?: number;
  /** Draw the frame marker (the shown packet's sequence number) for latency measurements. */
  marker?: boolean;
}

export interface AvatarSessionEvents {
  [key: string]: unknown;
  status: { status: DrivenFaceStatus };
  producer: types.Producer;
  closed: { reason: string };
}

export interface AvatarSessionStats {
  status: DrivenFaceStatus;
  /** Frames sent in the last second, repeated ones included. */
  fps: number;
  /** Newly rendered frames in the last second. */
  renderedFps: number;
  /** The scheduler's cap on rendered frames per second. */
  targetFps: number;
  /** How long faces have driven it without a stall, ms (0 while it waits for them or is stalled). */
  drivenMs: number;
  /** The share of the last second its renderer spent rendering (0-1): near 1, faces wait for it; well under, it waits for faces. */
  renderBusyShare: number;
  framesRendered: number;
  framesRepeated: number;
  ticksSkipped: number;
  renderMsP50: number;
  renderMsP95: number;
  /** How long the face a render started from had waited since its packet arrived, ms (median of recent renders). */
  faceAgeMsP50: number;
  /** What draws this session's frames now (undefined: the renderer does not say). */
  backend: 'cpu' | 'gpu' | undefined;
  encoderRestarts: number;
  /** Avatar versions swapped in while the session ran. */
  rendererSwaps: number;
}

/** Faces drive the session: it renders what they show (lost: the last pose, relaxing). */
function isDriven(status: DrivenFaceStatus): boolean {
  return status === 'live' || status === 'lost';
}

export class AvatarSession extends TypedEmitter<AvatarSessionEvents> {
  readonly room: Room;
  readonly peer: Peer;
  #renderer: FrameRenderer;
  /** A renderer for a newer avatar version, swapped in before the next render. */
  #nextRenderer?: { renderer: FrameRenderer; settle: (swapped: boolean) => void };
  #rendererSwaps = 0;
  readonly #face: DrivenFace;
  readonly #options: AvatarSessionOptions;
  #injector!: VideoInjector;
  #targetFps: number;
  #timer?: ReturnType<typeof setTimeout>;
  #nextTickAt = 0;
  #rendering = false;
  /** When the running render started, and a running average of how long renders take, ms. */
  #renderStartedAt = 0;
  #renderMsAverage = 0;
  /** The packet sequence of the face the running or last render drew (null: none yet, or not from a packet). */
  #renderedSequence: number | null = null;
  /** When the next render is due on the scheduler's grid (the rate cap). */
  #nextRenderAt = -Infinity;
  /** The newest rendered frame, the session's own copy (the renderer reuses its buffer for the next frame). */
  #lastFrame?: Uint8Array;
  #status: DrivenFaceStatus = 'waiting';
  #closed = false;
  readonly #renderMs: number[] = [];
  readonly #faceAgeMs: number[] = [];
  readonly #frameTimes: number[] = [];
  /** When each render of the last second ended and how long it took, ms (renderedFps counts them). */
  readonly #renderSpans: { end: number; ms: number }[] = [];
  #counts = { framesRendered: 0, framesRepeated: 0, ticksSkipped: 0 };
  /** Since when faces drive it (status live or lost); undefined while waiting or stalled. */
  #drivenSince?: number;

  private constructor(room: Room, peer: Peer, stream: CoefficientStream, renderer: FrameRenderer, options: AvatarSessionOptions) {
    super();
    this.room = room;
    this.peer = peer;
    this.#renderer = renderer;
    this.#options = options;
    this.#targetFps = options.fps;
    this.#face = new DrivenFace(stream, { stallMs: options.stallMs ?? 2000 });
  }

  /**
   * `injector`: an encoder started beforehand for this peer's avatar on this room's router
   * (the AvatarService keeps one standing by for a session hosted elsewhere: an encoder's
   * start is 0.7-3 s of a fallback's first frame on a loaded machine); the session owns it.
   */
  static async start(room: Room, peer: Peer, stream: CoefficientStream, renderer: FrameRenderer, options: AvatarSessionOptions, injector?: VideoInjector): Promise<AvatarSession> {
    const session = new AvatarSession(room, peer, stream, renderer, options);
    session.#injector = injector && !injector.closed ? injector : await VideoInjector.create({
      router: room.router,
      width: renderer.width,
      height: renderer.height,
      fps: options.fps,
      codec: options.codec,
      bitrateKbps: options.bitrateKbps,
      appData: { peerId: peer.id, source: 'avatar' },
    });
    session.#publish(session.#injector.producer);
    session.#injector.on('producerReplaced', ({ producer }) => session.#publish(producer));
    session.#injector.on('closed', ({ reason }) => {
      if (reason !== 'closed') session.close(`video-${reason}`);
    });
    session.#nextTickAt = performance.now();
    session.#tick();
    return session;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The encoder process (benchmarks account its CPU). */
  get encoderPid(): number | undefined {
    return this.#injector.encoderPid;
  }

  get producer(): types.Producer {
    return this.#injector.producer;
  }

  /**
   * The scheduler lowers (or restores) how often new frames are rendered when the
   * machine is overloaded; the video keeps its output rate with repeated frames.
   */
  setTargetFps(fps: number): void {
    this.#targetFps = Math.max(1, Math.min(this.#options.fps, fps));
  }

  /**
   * A new face arrived (the ingest accepted its packet): render it now when the renderer
   * is idle and a render is due, instead of at the next tick. The tick grid alone kept a
   * face waiting half an output interval on average (20 ms at 25 fps) before an idle
   * renderer started on it. Faces only: statuses (waiting, lost, stalled) change on ticks.
   */
  faceArrived(): void {
    if (this.#closed || this.#rendering || !isDriven(this.#status)) return;
    const face = this.#face.at(Date.now());
    if (face.status === 'live') this.#startRender(face);
  }

  /** The rate new frames are rendered at now (setTargetFps, within the configured rate). */
  get targetFps(): number {
    return this.#targetFps;
  }

  stats(): AvatarSessionStats {
    const now = performance.now();
    while (this.#frameTimes.length && this.#frameTimes[0]! < now - 1000) this.#frameTimes.shift();
    while (this.#renderSpans.length && this.#renderSpans[0]!.end < now - 1000) this.#renderSpans.shift();
    // The part of each span inside the last second (a render may have started before it).
    const busyMs = this.#renderSpans.reduce((sum, { end, ms }) => sum + Math.min(ms, end - (now - 1000)), 0);
    const sorted = [...this.#renderMs].sort((a, b) => a - b);
    const pick = (p: number, of = sorted) => of.length ? of[Math.min(of.length - 1, Math.floor(p * of.length))]! : 0;
    return {
      status: this.#status,
      fps: this.#frameTimes.length,
      renderedFps: this.#renderSpans.length,
      targetFps: this.#targetFps,
      drivenMs: this.#drivenSince === undefined ? 0 : now - this.#drivenSince,
      renderBusyShare: Math.min(1, busyMs / 1000),
      ...this.#counts,
      renderMsP50: pick(0.5),
      renderMsP95: pick(0.95),
      faceAgeMsP50: pick(0.5, [...this.#faceAgeMs].sort((a, b) => a - b)),
      backend: this.#renderer.backend,
      encoderRestarts: this.#injector.stats().encoderRestarts,
      rendererSwaps: this.#rendererSwaps,
    };
  }

  /**
   * Renders with `renderer` from the next frame on (same size). Resolves true once
   * swapped in (the previous one is then unused: its owner closes it), false when it
   * was not: the session closed first, or another replacement came before the next
   * frame. Either way the renderers stay their owner's: the session closes none.
   */
  replaceRenderer(renderer: FrameRenderer): Promise<boolean> {
    if (renderer.width !== this.#renderer.width || renderer.height !== this.#renderer.height) {
      throw new TypeError(`replacement renderer is ${renderer.width}x${renderer.height}, the session renders ${this.#renderer.width}x${this.#renderer.height}`);
    }
    if (this.#closed) return Promise.resolve(false);
    this.#dropNextRenderer();
    return new Promise((resolve) => {
      this.#nextRenderer = { renderer, settle: resolve };
    });
  }

  /** The renderer in use (its owner closes it when the session ends). */
  get renderer(): FrameRenderer {
    return this.#renderer;
  }

  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    // The renderer belongs to whoever made it (the AvatarService keeps it across stream restarts).
    this.#injector?.close();
    // A replacement never swapped in goes back to its owner (resolved false).
    this.#dropNextRenderer();
    logger.debug('avatar session of %s closed (%s)', this.peer.id, reason);
    this.emit('closed', { reason });
    this.removeAllListeners();
  }

  #dropNextRenderer(): void {
    const next = this.#nextRenderer;
    this.#nextRenderer = undefined;
    next?.settle(false);
  }

  #publish(producer: types.Producer): void {
    if (this.#closed || this.peer.closed) return;
    this.peer.adoptProducer(producer);
    this.room.announceProducer(this.peer, producer);
    // The owner consumes it too: the self-view shows exactly what the others see.
    this.peer.notify('newProducer', { peerId: this.peer.id, producer: { id: producer.id, kind: producer.kind, appData: { ...producer.appData } } });
    this.emit('producer', producer);
  }

  #tick(): void {
    if (this.#closed) return;
    const interval = 1000 / this.#options.fps;
    const now = performance.now();
    // After a long pause, restart the schedule instead of bursting to catch up.
    this.#armTick(this.#nextTickAt + interval < now - interval ? now + interval : this.#nextTickAt + interval);
    this.#frame();
  }

  #armTick(at: number): void {
    clearTimeout(this.#timer);
    this.#nextTickAt = at;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - performance.now()));
  }

  #frame(): void {
    const face = this.#face.at(Date.now());
    if (face.status !== this.#status) {
      if (!isDriven(face.status)) this.#drivenSince = undefined;
      else if (!isDriven(this.#status)) this.#drivenSince = performance.now();
      this.#status = face.status;
      this.room.broadcast('avatarStatus', { peerId: this.peer.id, status: face.status });
      this.emit('status', { status: face.status });
    }
    if (face.status === 'stalled' && this.#lastFrame) {
      this.#push(this.#lastFrame, false);
      return;
    }
    if (this.#startRender(face, true)) return;
    // No render for this tick: the scheduler's rate says not yet, the face has not
    // changed, or the renderer is slower than the output rate. Repeat the newest frame so
    // the video keeps its rate (receivers' jitter buffers stay calm); count the tick.
    // Every rendered frame re-arms the tick an interval after it, so a tick comes only
    // after an interval without one: repeats fill the silences between rendered frames.
    // A render whose frame is due within half an interval (by the average render time)
    // sends it soon: a repeat now would go out just before it.
    this.#counts.ticksSkipped += 1;
    const frameDueSoon = this.#rendering && performance.now() - this.#renderStartedAt + 500 / this.#options.fps >= this.#renderMsAverage;
    if (this.#lastFrame && !frameDueSoon) this.#push(this.#lastFrame, false);
  }

  #push(rgba: Uint8Array, rendered: boolean): void {
    this.#injector.pushFrame(rgba);
    const now = performance.now();
    this.#frameTimes.push(now);
    if (rendered) this.#counts.framesRendered += 1;
    else this.#counts.framesRepeated += 1;
  }

  /**
   * Starts rendering `face` unless a render is running or the next render is not due
   * yet on the scheduler's grid (one start per 1000 / targetFps ms on average); says
   * whether it started. A start may come up to half an output interval early, since
   * timers fire late by a few ms and ticks would otherwise miss their slot; a renderer
   * that fell behind catches up by at most one frame.
   */
  #startRender(face: ReturnType<DrivenFace['at']>, onTick = false): boolean {
    const interval = 1000 / this.#targetFps, now = performance.now();
    if (this.#rendering || now < this.#nextRenderAt - 500 / this.#options.fps) return false;
    // A live face changes only with a new packet: drawing the same one again spends a
    // render on a frame the repeats already show (and delays the next face's render).
    // A waiting or lost face changes with time (the neutral pose, the relaxing
    // expression), and a new avatar version is drawn as soon as it is there.
    if (face.status === 'live' && face.sequence !== null && face.sequence === this.#renderedSequence && !this.#nextRenderer) return false;
    this.#nextRenderAt = Math.max(this.#nextRenderAt + interval, now - interval);
    if (this.#nextRenderer) {
      // Between renders: nothing runs on the old renderer, so closing it cannot cut a frame short.
      const { renderer, settle } = this.#nextRenderer;
      this.#nextRenderer = undefined;
      this.#renderer = renderer;
      this.#rendererSwaps += 1;
      settle(true);
    }
    this.#rendering = true;
    // `face` is updated in place by later ticks: keep the sequence this frame shows.
    const sequence = face.sequence;
    this.#renderedSequence = face.status === 'live' ? sequence : null;
    const started = now;
    this.#renderStartedAt = now;
    if (face.ageMs !== null) {
      this.#faceAgeMs.push(face.ageMs);
      if (this.#faceAgeMs.length > 300) this.#faceAgeMs.shift();
    }
    this.#renderer.render(face).then(
      (rgba) => {
        this.#rendering = false;
        if (this.#closed) return;
        const ended = performance.now(), took = ended - started;
        this.#renderSpans.push({ end: ended, ms: took });
        this.#renderMsAverage = this.#renderMsAverage === 0 ? took : 0.9 * this.#renderMsAverage + 0.1 * took;
        this.#renderMs.push(took);
        if (this.#renderMs.length > 300) this.#renderMs.shift();
        if (this.#options.marker && sequence !== null) stampMarker(rgba, this.#renderer.width, this.#renderer.height, sequence);
        // A copy: repeats go out while the renderer writes the next frame into its buffer.
        if (this.#lastFrame?.length !== rgba.length) this.#lastFrame = new Uint8Array(rgba.length);
        this.#lastFrame.set(rgba);
        this.#push(this.#lastFrame, true);
        // A frame a face's arrival started comes off the tick grid: the next tick comes
        // an interval after it, so repeats fill the gaps between rendered frames
        // whenever these come. A tick's own render keeps the grid (re-arming after it
        // would stretch the interval by the render's time).
        if (!onTick) this.#armTick(ended + 1000 / this.#options.fps);
        // A face that arrived during this render is drawn now rather than at a tick
        // (renders run back to back, at most at the target rate).
        const next = this.#face.at(Date.now());
        if (next.status !== 'stalled') this.#startRender(next);
      },
      (error: unknown) => {
        this.#rendering = false;
        if (this.#closed) return;
        logger.error(`render failed for ${this.peer.id}: ${String(error)}`);
        // A renderer whose process died says so ('renderer-crashed'); any other failure is the render's.
        this.close(faultOf(error)?.reason ?? 'render-failed');
      },
    );
    return true;
  }
}
