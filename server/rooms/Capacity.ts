/**
 * The server's caps on rooms, peers and mediasoup objects, and their bookkeeping.
 * Server-wide counts are reserved synchronously, before the await that creates the
 * object, so concurrent requests from many connections cannot pass one check
 * together; each reservation is released once, when its object closes. Every
 * refusal is a SignalingError with the cap's own code and a message naming the
 * limit and its variable, and is counted (by cap) for /metrics.
 */
import { SIGNALING_LIMITS } from '../../shared/signaling/limits';
import type { SignalingErrorCode } from '../../shared/signaling/messages';
import { SignalingError } from '../signaling/SignalingError';

export interface CapLimits {
  /** Server-wide. */
  maxRooms: number;
  maxPeers: number;
  maxTransports: number;
  maxPeersPerRoom: number;
  maxTransportsPerPeer: number;
  maxProducersPerPeer: number;
  maxConsumersPerPeer: number;
  maxDataProducersPerPeer: number;
  /** A WebRTC transport whose DTLS is not 'connected' this long after its first use is closed. */
  transportConnectTimeoutMs: number;
}

export type CapName =
  | 'rooms' | 'peers' | 'transports'
  | 'peersPerRoom' | 'transportsPerPeer' | 'producersPerPeer' | 'consumersPerPeer' | 'dataProducersPerPeer';

/** The caps counted here, server-wide; the others are counted by their owner (a room, a peer). */
export type GlobalCap = 'rooms' | 'peers' | 'transports';

export type UnconnectedTransportReason = 'connect-timeout';

interface CapDescription {
  limit: keyof CapLimits;
  code: SignalingErrorCode;
  variable: string;
  /** The refusal's message, given the limit and who it is about. */
  says(limit: number, subject: string): string;
}

/** "1 peer", "2 peers". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export const CAPS: Readonly<Record<CapName, CapDescription>> = {
  rooms: { limit: 'maxRooms', code: 'room-limit', variable: 'VOXFACE_MAX_ROOMS', says: (n) => `the server hosts at most ${count(n, 'room')}` },
  peers: { limit: 'maxPeers', code: 'peer-limit', variable: 'VOXFACE_MAX_PEERS', says: (n) => `the server holds at most ${count(n, 'peer')}` },
  transports: {
    limit: 'maxTransports', code: 'transport-limit', variable: 'VOXFACE_MAX_TRANSPORTS', says: (n) => `the server holds at most ${count(n, 'WebRTC transport')}`,
  },
  peersPerRoom: {
    limit: 'maxPeersPerRoom', code: 'room-full', variable: 'VOXFACE_MAX_PEERS_PER_ROOM', says: (n, room) => `room ${room} holds at most ${count(n, 'peer')}`,
  },
  transportsPerPeer: {
    limit: 'maxTransportsPerPeer', code: 'transport-limit', variable: 'VOXFACE_MAX_TRANSPORTS_PER_PEER', says: (n) => `a peer may hold at most ${count(n, 'transport')}`,
  },
  producersPerPeer: {
    limit: 'maxProducersPerPeer', code: 'producer-limit', variable: 'VOXFACE_MAX_PRODUCERS_PER_PEER', says: (n) => `a peer may hold at most ${count(n, 'producer')}`,
  },
  consumersPerPeer: {
    limit: 'maxConsumersPerPeer', code: 'consumer-limit', variable: 'VOXFACE_MAX_CONSUMERS_PER_PEER', says: (n) => `a peer may hold at most ${count(n, 'consumer')}`,
  },
  dataProducersPerPeer: {
    limit: 'maxDataProducersPerPeer', code: 'data-producer-limit', variable: 'VOXFACE_MAX_DATA_PRODUCERS_PER_PEER',
    says: (n) => `a peer may hold at most ${count(n, 'data producer')}`,
  },
};

export const CAP_NAMES = Object.keys(CAPS) as CapName[];

/**
 * Server-wide peers and WebRTC transports that a port range can serve. All workers
 * bind RTP in the same range. A peer in a call binds up to three UDP ports from it:
 * its send and receive WebRTC transports (one UDP port each; their TCP ports are a
 * separate namespace) and its avatar's PlainTransport. So a range of P ports serves
 * floor(P / 3) peers and twice as many WebRTC transports; beyond that a bind fails
 * deep in mediasoup (26 peers at 4 transports each exhaust a 101-port range).
 */
export function capsForPortRange(rtcMinPort: number, rtcMaxPort: number): { maxPeers: number; maxTransports: number } {
  const ports = rtcMaxPort - rtcMinPort + 1;
  if (!Number.isInteger(ports) || ports < 1) throw new TypeError(`invalid RTC port range ${rtcMinPort}-${rtcMaxPort}`);
  const maxPeers = Math.max(1, Math.floor(ports / 3));
  return { maxPeers, maxTransports: Math.min(ports, 2 * maxPeers) };
}

/** The caps of a server on the default port range (40000-49999) with default settings. */
export function defaultCapLimits(): CapLimits {
  return {
    // An empty room closes, so rooms never outnumber peers; this bites only for wide port ranges.
    maxRooms: 1000,
    ...capsForPortRange(40000, 49999),
    maxPeersPerRoom: SIGNALING_LIMITS.maxPeersPerRoom,
    maxTransportsPerPeer: SIGNALING_LIMITS.maxTransportsPerPeer,
    maxProducersPerPeer: SIGNALING_LIMITS.maxProducersPerPeer,
    maxConsumersPerPeer: SIGNALING_LIMITS.maxConsumersPerPeer,
    maxDataProducersPerPeer: SIGNALING_LIMITS.maxDataProducersPerPeer,
    // Measured from first use to DTLS 'connected' with Chromium on a loaded 2-core machine: 0.3 s for a
    // send transport, 1.4-5.5 s for a receive transport, once over 8 s (test/e2e/connectDeadline.test.ts).
    // 30 s leaves a wide margin for slow networks and still frees, within half a minute, a port held by
    // a client that will never connect.
    transportConnectTimeoutMs: 30_000,
  };
}

export class Capacity {
  readonly limits: Readonly<CapLimits>;
  /** Refused requests by cap, since start. */
  readonly refusals = Object.fromEntries(CAP_NAMES.map((cap) => [cap, 0])) as Record<CapName, number>;
  /** WebRTC transports the server closed because they never connected, by reason. */
  readonly unconnectedTransportsClosed: Record<UnconnectedTransportReason, number> = { 'connect-timeout': 0 };
  readonly #held: Record<GlobalCap, number> = { rooms: 0, peers: 0, transports: 0 };

  constructor(limits: Partial<CapLimits> = {}) {
    const full = { ...defaultCapLimits(), ...limits };
    for (const [name, value] of Object.entries(full)) {
      if (!Number.isInteger(value) || value < (name === 'transportConnectTimeoutMs' ? 1 : 0)) {
        throw new TypeError(`${name} must be a non-negative integer, got ${value}`);
      }
    }
    this.limits = Object.freeze(full);
  }

  /** Server-wide objects of this kind now held (reserved ones included). */
  held(cap: GlobalCap): number {
    return this.#held[cap];
  }

  /**
   * Reserves one server-wide slot, or throws the cap's SignalingError. The returned
   * function gives the slot back; calling it again does nothing.
   */
  reserve(cap: GlobalCap): () => void {
    this.check(cap, this.#held[cap]);
    this.#held[cap] += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held[cap] -= 1;
    };
  }

  /** Throws (and counts) the cap's SignalingError when `held` objects already reach its limit. */
  check(cap: CapName, held: number, subject = ''): void {
    const description = CAPS[cap];
    const limit = this.limits[description.limit];
    if (held < limit) return;
    this.refusals[cap] += 1;
    throw new SignalingError(description.code, `${description.says(limit, subject)} (${description.variable})`);
  }

  countUnconnectedClosed(reason: UnconnectedTransportReason): void {
    this.unconnectedTransportsClosed[reason] += 1;
  }
}
