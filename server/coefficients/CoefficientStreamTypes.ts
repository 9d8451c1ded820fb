import {
  DECODE_FAILURES,
  type CoefficientFrame,
  type DecodeFailure,
} from '../../shared/coefficients/CoefficientPacket';
import type { SmoothedFace, SmoothingParams } from './CoefficientSmoother';

/**
 * Why a packet was not accepted: it failed to decode, it was not newer than the newest
 * accepted, or its peer sent more than its rate limit allows (refused before decoding);
 * or it is a code packet (version 2) while the peer's avatar has no expression encoder
 * ('no-encoder': no avatar rendered, or one trained without it), or its code's length
 * is not the encoder's ('code-size').
 */
export type DropReason = DecodeFailure | 'stale' | 'rate-limited' | 'no-encoder' | 'code-size';

export const DROP_REASONS: readonly DropReason[] = [...DECODE_FAILURES, 'stale', 'rate-limited', 'no-encoder', 'code-size'];

export type PushOutcome =
  | {
      accepted: true;
      frame: Readonly<CoefficientFrame>;
      /** Sequence numbers skipped between the previous accepted packet and this one. */
      lost: number;
      /** True when this packet restarted sequence tracking (see CoefficientStreamOptions). */
      resynced: boolean;
    }
  | { accepted: false; reason: DropReason | 'closed'; message: string };

export interface CoefficientStreamOptions {
  /** Sliding window for packet rate and bitrate, in ms (default 1000). */
  rateWindowMs?: number;
  /**
   * After this many stale packets in a row with nothing accepted in between,
   * the next stale one is accepted as a new sequence origin (default 30, ~1 s
   * at 30 Hz). A sender that restarted its counter would otherwise look
   * stale for up to 2^31 packets and the stream would freeze.
   */
  resyncAfterStalePackets?: number;
  /**
   * A forward jump larger than this many packets is taken as a sender
   * restart rather than counted as loss (default 3000, ~100 s at 30 Hz).
   */
  maxCountedGap?: number;
  smoothing?: SmoothingParams;
}

export interface CoefficientStreamStats {
  closed: boolean;
  /** Packets pushed while open, valid or not. */
  packetsReceived: number;
  packetsAccepted: number;
  /** Accepted code packets (version 2): the avatar's expression code drove the render. */
  codePacketsAccepted: number;
  packetsDropped: number;
  droppedByReason: Record<DropReason, number>;
  /** push() calls after close(). */
  ignoredAfterClose: number;
  /** Sequence numbers never accepted (lost, or arrived too late to use). */
  packetsLost: number;
  /** packetsLost / (packetsAccepted + packetsLost), 0 before any packet. */
  lossFraction: number;
  resyncs: number;
  /** All received packets per second over the rate window. */
  packetRateHz: number;
  acceptedRateHz: number;
  /** Received payload kilobits (1000 bits) per second over the rate window. */
  bitrateKbps: number;
  /** RFC 3550 interarrival jitter in ms, from capture time vs receive time. */
  jitterMs: number;
  newestSequence: number | null;
  /** ms since the newest accepted packet was received, null before one. */
  ageMs: number | null;
}

export interface SmoothedCoefficients extends SmoothedFace {
  /** ms since the newest frame folded into the smoothing was received. */
  ageMs: number;
}
