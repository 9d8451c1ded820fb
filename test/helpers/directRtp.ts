/**
 * RTP fed from and read back into Node (mediasoup DirectTransports), each packet
 * numbered in its payload: what clusterPipes.test.ts and bench:cluster use to follow
 * packets through a pipe and time them.
 */
import type { types } from 'mediasoup';
import type { Peer } from '../../server/rooms/Peer';
import type { Room } from '../../server/rooms/Room';
import { opusRtpParameters } from './mediasoupFixtures';

const OPUS_PAYLOAD_TYPE = 111;

/** A producer fed from Node (DirectTransport), owned by `owner` like any of its tracks. */
export async function directProducer(room: Room, owner: Peer): Promise<types.Producer> {
  const transport = await room.router.createDirectTransport();
  const producer = await transport.produce({ kind: 'audio', rtpParameters: opusRtpParameters() });
  owner.adoptProducer(producer);
  room.announceProducer(owner, producer);
  return producer;
}

/** An RTP packet of `producer` whose last 4 payload bytes carry `index`. */
export function numberedPacket(producer: types.Producer, index: number): Buffer {
  const buffer = Buffer.alloc(12 + 20);
  buffer[0] = 0x80;
  buffer[1] = OPUS_PAYLOAD_TYPE;
  buffer.writeUInt16BE(index & 0xffff, 2);
  buffer.writeUInt32BE((index * 960) >>> 0, 4);
  buffer.writeUInt32BE(producer.rtpParameters.encodings![0]!.ssrc!, 8);
  buffer.writeUInt32BE(index, buffer.length - 4);
  return buffer;
}

/** The index a packet of `numberedPacket` carries. */
export function packetIndex(rtp: Buffer): number {
  return rtp.readUInt32BE(rtp.length - 4);
}

/**
 * Sends `count` numbered packets of `producer`, `intervalMs` apart (20 ms: an Opus stream's
 * pace); resolves with each index's send time (performance.now()) once the last is sent.
 */
export async function sendNumbered(producer: types.Producer, count: number, intervalMs: number): Promise<Map<number, number>> {
  const sentAt = new Map<number, number>();
  for (let i = 0; i < count; i += 1) {
    sentAt.set(i, performance.now());
    producer.send(numberedPacket(producer, i));
    await new Promise((done) => setTimeout(done, intervalMs));
  }
  return sentAt;
}

/** Each packet's delay (ms) from its send to its arrival, in arrival order. */
export function delaysSince(sentAt: Map<number, number>, seen: Map<number, number>): number[] {
  return [...seen].map(([i, at]) => at - sentAt.get(i)!);
}

/** Arrival times (performance.now()) of each packet index at a direct consumer. */
export function arrivals(consumer: types.Consumer): Map<number, number> {
  const seen = new Map<number, number>();
  consumer.on('rtp', (rtp: Buffer) => { seen.set(packetIndex(rtp), performance.now()); });
  return seen;
}

export async function directConsumer(room: Room, producerId: string): Promise<types.Consumer> {
  const transport = await room.router.createDirectTransport();
  return transport.consume({ producerId, rtpCapabilities: room.router.rtpCapabilities });
}
