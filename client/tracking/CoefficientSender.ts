/**
 * Sends one coefficient packet per tracked frame over a data channel that is
 * unordered and never retransmits (a late expression is worthless: the newest
 * packet wins). While no face is found it says so in the flags and drops to a
 * 2 Hz keep-alive; if tracking stalls altogether the keep-alive goes on from a timer.
 */
import { BLENDSHAPE_COUNT, blendshapeIndex } from '../../shared/coefficients/blendshapes';
import { encodeCoefficientFrame, CODE_PACKET_MAX_BYTES, COEFFICIENT_PACKET_BYTES, TRANSLATION_LIMIT_CM, type CoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { poseFromMatrix, type Quaternion, type Vec3 } from '../../shared/coefficients/pose';
import type { TrackedFace } from './FaceTrackerTypes';

/** The part of a mediasoup-client DataProducer (or an RTCDataChannel) the sender uses. */
export interface PacketChannel {
  readonly readyState: string;
  readonly bufferedAmount: number;
  send(data: ArrayBuffer): void;
}

export const KEEP_ALIVE_INTERVAL_MS = 500;
/** Above this many queued bytes the channel is congested: skip frames rather than queue stale ones. */
const MAX_BUFFERED_BYTES = 16 * COEFFICIENT_PACKET_BYTES;
const HISTORY_LENGTH = 4096;
const JAW_OPEN = blendshapeIndex('jawOpen');

export interface SentPacket {
  sequence: number;
  captureTimeMs: number;
  /** When it went into the data channel (the same clock as captureTimeMs). */
  sentTimeMs: number;
  facePresent: boolean;
  jawOpen: number;
  /** Whether it carried the expression code (a version 2 packet). */
  code: boolean;
}

export interface CoefficientSenderStats {
  packetsSent: number;
  keepAlivesSent: number;
  skippedCongested: number;
  bytesSent: number;
  /** Packets that carried the avatar's expression code (version 2). */
  codePacketsSent: number;
  /** Payload kilobits per second over the last second. */
  payloadKbps: number;
  packetsPerSecond: number;
}

export class CoefficientSender {
  readonly #channel: PacketChannel;
  readonly #buffer = new Uint8Array(Math.max(COEFFICIENT_PACKET_BYTES, CODE_PACKET_MAX_BYTES));
  #sequence = 0;
  #lastSentAt = -Infinity;
  #last: { blendshapes: Float32Array; rotation: Quaternion; translationCm: Vec3; facePresent: boolean; code: Int8Array | null } = {
    blendshapes: new Float32Array(BLENDSHAPE_COUNT), rotation: [0, 0, 0, 1], translationCm: [0, 0, 0], facePresent: false, code: null,
  };
  readonly #sentBytes: number[] = [];
  #sendCodes = true;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #sentTimes: number[] = [];
  /** The most recent packets sent (bounded), for readouts and end-to-end checks. */
  readonly history: SentPacket[] = [];
  readonly #stats = { packetsSent: 0, keepAlivesSent: 0, skippedCongested: 0, bytesSent: 0, codePacketsSent: 0 };
  #closed = false;

  constructor(channel: PacketChannel) {
    this.#channel = channel;
    this.#timer = setInterval(() => {
      if (performance.now() - this.#lastSentAt >= KEEP_ALIVE_INTERVAL_MS) this.#send(true);
    }, KEEP_ALIVE_INTERVAL_MS / 2);
  }

  /** Sends `face` now, or, when no face was found, at most every KEEP_ALIVE_INTERVAL_MS. */
  onFace(face: TrackedFace): void {
    if (this.#closed) return;
    if (face.facePresent && face.transform) {
      const pose = poseFromMatrix(face.transform);
      const limit = TRANSLATION_LIMIT_CM;
      this.#last = {
        blendshapes: face.blendshapes,
        rotation: pose.rotation,
        translationCm: pose.translationCm.map((v) => Math.max(-limit, Math.min(limit, v))) as Vec3,
        facePresent: true,
        code: this.#sendCodes ? face.code ?? null : null,
      };
      this.#send(false, face.captureTimeMs);
    } else {
      const wasPresent = this.#last.facePresent;
      this.#last = { ...this.#last, facePresent: false, code: null };
      // Say "face lost" at once, then only keep the stream alive.
      if (wasPresent || performance.now() - this.#lastSentAt >= KEEP_ALIVE_INTERVAL_MS) this.#send(true, face.captureTimeMs);
    }
  }

  stats(): CoefficientSenderStats {
    const now = performance.now();
    while (this.#sentTimes.length && this.#sentTimes[0]! < now - 1000) { this.#sentTimes.shift(); this.#sentBytes.shift(); }
    return {
      ...this.#stats,
      packetsPerSecond: this.#sentTimes.length,
      payloadKbps: (this.#sentBytes.reduce((sum, b) => sum + b, 0) * 8) / 1000,
    };
  }

  /** Whether faces' codes go out (code packets) or only their blendshapes (the fallback). */
  set sendCodes(on: boolean) {
    this.#sendCodes = on;
    if (!on) this.#last = { ...this.#last, code: null };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #send(keepAlive: boolean, captureTimeMs = performance.timeOrigin + performance.now()): void {
    if (this.#closed || this.#channel.readyState !== 'open') return;
    if (this.#channel.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#stats.skippedCongested += 1;
      return;
    }
    const frame: CoefficientFrame = {
      sequence: this.#sequence,
      captureTimeMs,
      facePresent: this.#last.facePresent,
      keepAlive,
      // FaceLandmarker reports no per-face score once a face is tracked: 1 while tracked.
      confidence: this.#last.facePresent ? 1 : 0,
      blendshapes: this.#last.blendshapes,
      rotation: this.#last.rotation,
      translationCm: this.#last.translationCm,
      // Keep-alives carry no tracking data: always the plain version 1.
      ...(this.#last.code && !keepAlive ? { code: this.#last.code } : {}),
    };
    const bytes = encodeCoefficientFrame(frame, this.#buffer);
    this.#channel.send(bytes.slice().buffer);
    this.#sequence = (this.#sequence + 1) >>> 0;
    this.#lastSentAt = performance.now();
    this.#sentTimes.push(this.#lastSentAt);
    this.#sentBytes.push(bytes.length);
    if (frame.code) this.#stats.codePacketsSent += 1;
    this.#stats.packetsSent += 1;
    this.#stats.bytesSent += bytes.length;
    if (keepAlive) this.#stats.keepAlivesSent += 1;
    this.history.push({ sequence: frame.sequence, captureTimeMs, sentTimeMs: performance.timeOrigin + this.#lastSentAt, facePresent: frame.facePresent, jawOpen: frame.blendshapes[JAW_OPEN] ?? 0, code: frame.code !== undefined });
    if (this.history.length > HISTORY_LENGTH) this.history.shift();
  }
}
