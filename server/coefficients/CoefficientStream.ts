/**
 * Server-side state for one peer's coefficient stream: decodes raw packets,
 * keeps the newest valid frame, drops garbage and stale packets with a
 * counted reason, and measures rate, bitrate, loss and jitter.
 *
 * Packets may arrive reordered or duplicated (unordered/unreliable data
 * channels), so only a packet whose sequence is newer than the newest
 * accepted one (u32 serial arithmetic) can replace it: a late packet is
 * useless for a live avatar, and a replay must never roll the face back.
 */
import { decodeCoefficientPacket, type CoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { CoefficientSmoother, DEFAULT_SMOOTHING } from './CoefficientSmoother';
import {
  DROP_REASONS,
  type CoefficientStreamOptions,
  type CoefficientStreamStats,
  type DropReason,
  type PushOutcome,
  type SmoothedCoefficients,
} from './CoefficientStreamTypes';
import { sequenceDelta } from './sequence';
import { SlidingWindowRate } from './SlidingWindowRate';

const DEFAULT_RATE_WINDOW_MS = 1000;
const DEFAULT_RESYNC_AFTER_STALE_PACKETS = 30;
const DEFAULT_MAX_COUNTED_GAP = 3000;
// RFC 3550 §6.4.1: the jitter estimate moves 1/16 of the way to each new sample.
const JITTER_GAIN = 1 / 16;
// Packets carry capture time mod 2^32 ms; see updateJitter.
const CAPTURE_TIME_WRAP_MS = 2 ** 32;

function requireFiniteTime(value: number, name: string): void {
  if (!Number.isFinite(value)) throw new TypeError(`${name} must be a finite number; got ${value}`);
}

function requirePositiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer; got ${value}`);
  }
  return value;
}

export class CoefficientStream {
  private readonly resyncAfterStalePackets: number;
  private readonly maxCountedGap: number;
  private readonly receivedRate: SlidingWindowRate;
  private readonly acceptedRate: SlidingWindowRate;
  private readonly smoother: CoefficientSmoother;

  private closed = false;
  private packetsReceived = 0;
  private packetsAccepted = 0;
  private codePacketsAccepted = 0;
  private readonly droppedByReason = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;
  private ignoredAfterClose = 0;
  private packetsLost = 0;
  private resyncs = 0;
  private consecutiveStale = 0;

  /** The code length the peer's avatar's encoder reads; null: code packets are dropped. */
  private codeSize: number | null = null;
  private newestFrame: CoefficientFrame | null = null;
  private newestReceivedAtMs = 0;
  private smoothedReceivedAtMs = 0;

  private previousTransitMs: number | null = null;
  private jitterMs = 0;

  constructor(options: CoefficientStreamOptions = {}) {
    const windowMs = options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
    this.receivedRate = new SlidingWindowRate(windowMs);
    this.acceptedRate = new SlidingWindowRate(windowMs);
    this.resyncAfterStalePackets = requirePositiveInteger(
      options.resyncAfterStalePackets ?? DEFAULT_RESYNC_AFTER_STALE_PACKETS,
      'resyncAfterStalePackets',
    );
    this.maxCountedGap = requirePositiveInteger(options.maxCountedGap ?? DEFAULT_MAX_COUNTED_GAP, 'maxCountedGap');
    this.smoother = new CoefficientSmoother(options.smoothing ?? DEFAULT_SMOOTHING);
  }

  /**
   * Feeds one received packet. `receivedAtMs` should be Unix-epoch ms (Date.now()):
   * it is the reference that rebuilds the packet's 32-bit capture time, exact when
   * the sender's clock is within ~24.8 days of it. Never throws for bad bytes;
   * only for a non-finite receive time.
   */
  push(bytes: Uint8Array, receivedAtMs: number): PushOutcome {
    requireFiniteTime(receivedAtMs, 'receivedAtMs');
    if (this.closed) {
      this.ignoredAfterClose++;
      return { accepted: false, reason: 'closed', message: 'stream is closed' };
    }
    this.packetsReceived++;
    this.receivedRate.add(receivedAtMs, bytes instanceof Uint8Array ? bytes.byteLength : 0);

    // The packet carries only the low 32 bits of the capture millisecond; the
    // receive time (same Unix-epoch clock as the sender's) anchors the rest.
    const decoded = decodeCoefficientPacket(bytes, receivedAtMs);
    if (!decoded.ok) return this.drop(decoded.reason, decoded.message);
    const frame = decoded.frame;
    if (frame.code) {
      if (this.codeSize === null) {
        return this.drop('no-encoder', `a code packet (${frame.code.length} values) for an avatar without an expression encoder`);
      }
      if (frame.code.length !== this.codeSize) {
        return this.drop('code-size', `a code of ${frame.code.length} values; the avatar's encoder reads ${this.codeSize}`);
      }
    }

    let lost = 0;
    let resynced = false;
    if (this.newestFrame !== null) {
      const delta = sequenceDelta(this.newestFrame.sequence, frame.sequence);
      if (delta <= 0) {
        this.consecutiveStale++;
        if (this.consecutiveStale <= this.resyncAfterStalePackets) {
          return this.drop('stale', `sequence ${frame.sequence} is not newer than ${this.newestFrame.sequence}`);
        }
        resynced = true;
      } else if (delta - 1 > this.maxCountedGap) {
        resynced = true;
      } else {
        lost = delta - 1;
      }
    }
    this.consecutiveStale = 0;
    if (resynced) {
      this.resyncs++;
      // Transit times and filter state from before a restart say nothing about what follows.
      this.previousTransitMs = null;
      this.smoother.reset();
    }

    this.packetsAccepted++;
    if (frame.code) this.codePacketsAccepted++;
    this.packetsLost += lost;
    this.acceptedRate.add(receivedAtMs, 1);
    this.newestFrame = frame;
    this.newestReceivedAtMs = receivedAtMs;
    this.updateJitter(receivedAtMs - frame.captureTimeMs);
    this.smoother.update(frame);
    if (frame.facePresent && !frame.keepAlive) this.smoothedReceivedAtMs = receivedAtMs;
    return { accepted: true, frame, lost, resynced };
  }

  /**
   * Says whether code packets (version 2) can drive this peer's avatar: the code length
   * its expression encoder reads, or null (the default) when there is none, so they are
   * dropped as 'no-encoder'. Set by whoever renders the avatar (AvatarService).
   */
  setCodeSize(codeSize: number | null): void {
    if (codeSize !== null && !(Number.isInteger(codeSize) && codeSize >= 1)) {
      throw new RangeError(`codeSize must be a positive integer or null; got ${codeSize}`);
    }
    this.codeSize = codeSize;
  }

  /** The code length set by setCodeSize (null: no encoder). */
  get expressionCodeSize(): number | null {
    return this.codeSize;
  }

  /**
   * Counts a packet its receiver refused before decoding (it arrived beyond its
   * peer's rate limit): received, and dropped as 'rate-limited'.
   */
  refuseRateLimited(byteLength: number, receivedAtMs: number): void {
    requireFiniteTime(receivedAtMs, 'receivedAtMs');
    if (this.closed) {
      this.ignoredAfterClose++;
      return;
    }
    this.packetsReceived++;
    this.receivedRate.add(receivedAtMs, byteLength);
    this.droppedByReason['rate-limited']++;
  }

  /** The newest accepted frame (treat as read-only), or null before one or after close(). */
  newest(): Readonly<CoefficientFrame> | null {
    return this.newestFrame;
  }

  /** ms since the newest accepted packet arrived, or null if there is none. */
  ageMs(nowMs: number): number | null {
    requireFiniteTime(nowMs, 'nowMs');
    return this.newestFrame === null ? null : nowMs - this.newestReceivedAtMs;
  }

  /** The One Euro–smoothed face, or null when no face is being tracked. */
  smoothed(nowMs: number): SmoothedCoefficients | null {
    requireFiniteTime(nowMs, 'nowMs');
    const face = this.smoother.current();
    if (face === null) return null;
    return { ...face, ageMs: nowMs - this.smoothedReceivedAtMs };
  }

  stats(nowMs: number): CoefficientStreamStats {
    requireFiniteTime(nowMs, 'nowMs');
    const received = this.receivedRate.rate(nowMs);
    const accepted = this.acceptedRate.rate(nowMs);
    const packetsDropped = DROP_REASONS.reduce((sum, reason) => sum + this.droppedByReason[reason], 0);
    const expected = this.packetsAccepted + this.packetsLost;
    return {
      closed: this.closed,
      packetsReceived: this.packetsReceived,
      packetsAccepted: this.packetsAccepted,
      codePacketsAccepted: this.codePacketsAccepted,
      packetsDropped,
      droppedByReason: { ...this.droppedByReason },
      ignoredAfterClose: this.ignoredAfterClose,
      packetsLost: this.packetsLost,
      lossFraction: expected === 0 ? 0 : this.packetsLost / expected,
      resyncs: this.resyncs,
      packetRateHz: received.eventsPerSec,
      acceptedRateHz: accepted.eventsPerSec,
      bitrateKbps: (received.amountPerSec * 8) / 1000,
      jitterMs: this.jitterMs,
      newestSequence: this.newestFrame?.sequence ?? null,
      ageMs: this.ageMs(nowMs),
    };
  }

  /** Stops accepting packets and drops frame state. Safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.newestFrame = null;
    this.smoother.reset();
  }

  private drop(reason: DropReason, message: string): PushOutcome {
    this.droppedByReason[reason]++;
    return { accepted: false, reason, message };
  }

  private updateJitter(transitMs: number): void {
    if (this.previousTransitMs !== null) {
      // A sender clock more than ~24.8 days off the receive clock makes the
      // rebuilt capture time jump by 2^32 ms now and then; that is not jitter.
      const change = transitMs - this.previousTransitMs;
      const difference = Math.abs(change - Math.round(change / CAPTURE_TIME_WRAP_MS) * CAPTURE_TIME_WRAP_MS);
      this.jitterMs += (difference - this.jitterMs) * JITTER_GAIN;
    }
    this.previousTransitMs = transitMs;
  }
}
