/**
 * Receives every avatar-enabled peer's coefficient stream in Node: a data
 * producer whose appData.source is 'coefficients' is consumed on the room's
 * DirectTransport, and each message is decoded and validated by that peer's
 * CoefficientStream. Streams are keyed by the peer the server knows owns the
 * data producer, so a peer drives only its own avatar; they close with it.
 * Each peer's messages pass a token bucket before they are decoded: beyond it they
 * are dropped and counted ('rate-limited'), so a flood costs the main thread a
 * counter increment per message, not a decode. The bucket is the peer's, not the
 * stream's: a new data producer does not refill it.
 */
import type { types } from 'mediasoup';
import { TypedEmitter } from '../../shared/TypedEmitter';
import type { CoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { CoefficientStream } from '../coefficients/CoefficientStream';
import { Logger } from '../Logger';
import type { Room } from '../rooms/Room';
import type { RoomManager } from '../rooms/RoomManager';
import { RateLimiter } from '../signaling/RateLimiter';

const logger = new Logger('CoefficientIngest');

export const COEFFICIENT_SOURCE = 'coefficients';
/** Larger messages are refused by SCTP before they reach us (packets are 63 bytes). */
const MAX_MESSAGE_BYTES = 1024;

export interface IngestedStream {
  roomId: string;
  peerId: string;
  stream: CoefficientStream;
  dataConsumer: types.DataConsumer;
}

export interface CoefficientIngestEvents {
  [key: string]: unknown;
  streamOpened: IngestedStream;
  /** An accepted packet (stale, invalid and replayed ones never get here). */
  frame: { roomId: string; peerId: string; frame: Readonly<CoefficientFrame>; receivedAtMs: number };
  streamClosed: { roomId: string; peerId: string };
}

export interface CoefficientIngestOptions {
  /** Token bucket per peer: packets per second, and the burst (the server's defaults are in config.ts). */
  packetsPerSecond?: number;
  packetBurst?: number;
}

interface RoomState {
  transport?: Promise<types.DirectTransport>;
  streams: Map<string, IngestedStream>;
  /** Per peer, kept until the peer leaves. */
  limiters: Map<string, RateLimiter>;
}

export class CoefficientIngest extends TypedEmitter<CoefficientIngestEvents> {
  readonly #rooms = new Map<Room, RoomState>();
  readonly #packetsPerSecond: number;
  readonly #packetBurst: number;
  #rateLimitedTotal = 0;
  #closed = false;

  constructor(rooms: RoomManager, options: CoefficientIngestOptions = {}) {
    super();
    this.#packetsPerSecond = options.packetsPerSecond ?? 60;
    this.#packetBurst = options.packetBurst ?? 30;
    // Checked here, not at the first packet.
    new RateLimiter(this.#packetsPerSecond, this.#packetBurst);
    rooms.on('roomCreated', (room) => this.#watch(room));
    for (const room of rooms.rooms.values()) this.#watch(room);
  }

  /** The coefficient stream of `peerId` in `roomId`, if it is sending one. */
  get(roomId: string, peerId: string): CoefficientStream | undefined {
    for (const [room, state] of this.#rooms) {
      if (room.id === roomId) return state.streams.get(peerId)?.stream;
    }
    return undefined;
  }

  /** Packets dropped for their peer's rate limit since start, streams since closed included. */
  get rateLimitedTotal(): number {
    return this.#rateLimitedTotal;
  }

  streams(): IngestedStream[] {
    return [...this.#rooms.values()].flatMap((state) => [...state.streams.values()]);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of [...this.#rooms.keys()]) this.#forget(room);
    this.removeAllListeners();
  }

  #watch(room: Room): void {
    if (this.#closed) return;
    const state: RoomState = { streams: new Map(), limiters: new Map() };
    this.#rooms.set(room, state);
    room.on('newDataProducer', ({ peer, dataProducer }) => {
      if (dataProducer.appData.source !== COEFFICIENT_SOURCE) return;
      this.#open(room, state, peer.id, dataProducer).catch((error: unknown) => {
        logger.warn(`cannot consume coefficients of peer ${peer.id}: ${String(error)}`);
      });
    });
    room.on('peerLeft', (peer) => {
      this.#closeStream(room, state, peer.id);
      state.limiters.delete(peer.id);
    });
    room.on('closed', () => this.#forget(room));
  }

  async #open(room: Room, state: RoomState, peerId: string, dataProducer: types.DataProducer): Promise<void> {
    state.transport ??= room.router.createDirectTransport({ maxMessageSize: MAX_MESSAGE_BYTES, appData: { purpose: 'coefficients' } });
    const transport = await state.transport;
    const dataConsumer = await transport.consumeData({ dataProducerId: dataProducer.id });
    if (room.closed || this.#closed || dataProducer.closed) {
      dataConsumer.close();
      return;
    }
    // One stream per peer: a newer data producer replaces the older one.
    this.#closeStream(room, state, peerId);
    const stream = new CoefficientStream();
    const ingested: IngestedStream = { roomId: room.id, peerId, stream, dataConsumer };
    state.streams.set(peerId, ingested);
    let limiter = state.limiters.get(peerId);
    if (!limiter) {
      limiter = new RateLimiter(this.#packetsPerSecond, this.#packetBurst);
      state.limiters.set(peerId, limiter);
    }
    const bucket = limiter;
    dataConsumer.on('message', (message: Buffer) => {
      const receivedAtMs = Date.now();
      if (!bucket.tryTake(receivedAtMs)) {
        this.#rateLimitedTotal += 1;
        stream.refuseRateLimited(message.byteLength, receivedAtMs);
        return;
      }
      const outcome = stream.push(new Uint8Array(message.buffer, message.byteOffset, message.byteLength), receivedAtMs);
      if (outcome.accepted) this.emit('frame', { roomId: room.id, peerId, frame: outcome.frame, receivedAtMs });
    });
    dataConsumer.on('dataproducerclose', () => this.#closeStream(room, state, peerId, ingested));
    dataConsumer.on('transportclose', () => this.#closeStream(room, state, peerId, ingested));
    logger.debug('coefficient stream of %s opened in room %s', peerId, room.id);
    this.emit('streamOpened', ingested);
  }

  #closeStream(room: Room, state: RoomState, peerId: string, only?: IngestedStream): void {
    const ingested = state.streams.get(peerId);
    if (!ingested || (only && ingested !== only)) return;
    state.streams.delete(peerId);
    ingested.stream.close();
    if (!ingested.dataConsumer.closed) ingested.dataConsumer.close();
    this.emit('streamClosed', { roomId: room.id, peerId });
  }

  #forget(room: Room): void {
    const state = this.#rooms.get(room);
    if (!state) return;
    for (const peerId of [...state.streams.keys()]) this.#closeStream(room, state, peerId);
    state.transport?.then((t) => t.close(), () => undefined);
    this.#rooms.delete(room);
  }
}
