/**
 * Bad coefficient packets through a real mediasoup worker: a data producer on a
 * DirectTransport stands in for a hostile browser, and its messages reach the
 * server's CoefficientIngest exactly as a peer's data channel would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { types } from 'mediasoup';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import { encodeCoefficientFrame, type CoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import type { Peer } from '../../server/rooms/Peer';
import type { Room } from '../../server/rooms/Room';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;

// These tests send hundreds of packets at once to judge each: the per-peer rate limit
// (coefficientRateLimit.test.ts) is lifted out of their way.
before(async () => { server = await startTestServer({ coefficientPacketsPerSecond: 100_000, coefficientPacketBurst: 100_000 }); });
after(async () => { await server?.close(); });

function frame(sequence: number, overrides: Partial<CoefficientFrame> = {}): Buffer {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT).fill(0.25);
  return Buffer.from(encodeCoefficientFrame({
    sequence, captureTimeMs: Date.now(), facePresent: true, keepAlive: false, confidence: 1,
    blendshapes, rotation: [0, 0, 0, 1], translationCm: [0, 0, -40], ...overrides,
  }));
}

async function attach(room: Room, peerId: string): Promise<{ peer: Peer; producer: types.DataProducer }> {
  const peer = room.join(peerId, peerId, () => undefined);
  const transport = await room.router.createDirectTransport();
  const producer = await transport.produceData({ appData: { source: 'coefficients', peerId } });
  peer.dataProducers.set(producer.id, producer);
  const opened = server.coefficients.waitFor('streamOpened', 5000, (s) => s.peerId === peerId);
  room.announceDataProducer(peer, producer);
  await opened;
  return { peer, producer };
}

const settle = () => new Promise((r) => setTimeout(r, 300));

test('invalid, replayed and old packets are dropped and counted, and never reach the renderer', async () => {
  const room = await server.rooms.getOrCreate('hostile');
  const { producer } = await attach(room, 'mallory');
  const accepted: number[] = [];
  server.coefficients.on('frame', ({ peerId, frame: f }) => { if (peerId === 'mallory') accepted.push(f.sequence); });

  producer.send(frame(10));
  producer.send(frame(11));
  await settle();
  const good = frame(12);
  const truncated = good.subarray(0, 20);
  const oversized = Buffer.concat([good, Buffer.alloc(10)]);
  const wrongVersion = Buffer.from(good); wrongVersion[1] = 9;
  const badMagic = Buffer.from(good); badMagic[0] = 0;
  const reservedFlags = Buffer.from(good); reservedFlags[2] = 0xff;
  const badRotation = Buffer.from(good); badRotation.writeInt16BE(32767, 51); badRotation.writeInt16BE(32767, 53);
  for (const bad of [truncated, oversized, wrongVersion, badMagic, reservedFlags, badRotation]) producer.send(bad);
  producer.send(frame(11)); // replayed
  producer.send(frame(5)); // old
  producer.send('a text message that is not a packet');
  const random = seededRandom(7);
  for (let i = 0; i < 500; i++) {
    const bytes = Buffer.alloc(1 + Math.floor(random() * 120));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    producer.send(bytes);
  }
  producer.send(frame(13));
  await settle();

  const stats = server.coefficients.get('hostile', 'mallory')!.stats(Date.now());
  assert.deepEqual(accepted, [10, 11, 13], 'only valid, newer packets reach listeners');
  assert.equal(stats.packetsAccepted, 3);
  const sentCount = 3 /* valid */ + 6 /* malformed */ + 2 /* replayed, old */ + 1 /* text */ + 500 /* random */;
  assert.equal(stats.packetsReceived, sentCount, 'every message reached the stream and was judged');
  for (const reason of ['truncated', 'oversized', 'unsupported-version', 'bad-magic', 'bad-flags', 'out-of-range', 'stale'] as const) {
    assert.ok(stats.droppedByReason[reason] >= 1, `${reason} counted: ${JSON.stringify(stats.droppedByReason)}`);
  }
  assert.equal(stats.droppedByReason.stale, 2, 'the replayed and the old packet');
  assert.equal(server.coefficients.get('hostile', 'mallory')!.newest()!.sequence, 13);
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  assert.match(metrics, /voxface_coefficient_packets_dropped\{room="hostile",peer="mallory",reason="stale"\} 2/);
  assert.equal((await fetch(`${server.url}/health`)).status, 200, 'the server is still serving');
});

test('each peer drives only its own stream, and a stream closes with its peer', async () => {
  const room = await server.rooms.getOrCreate('pair');
  const alice = await attach(room, 'alice');
  const bob = await attach(room, 'bob');
  alice.producer.send(frame(1, { blendshapes: new Float32Array(BLENDSHAPE_COUNT).fill(0.9) }));
  bob.producer.send(frame(1, { blendshapes: new Float32Array(BLENDSHAPE_COUNT).fill(0.1) }));
  await settle();
  assert.ok(Math.abs(server.coefficients.get('pair', 'alice')!.newest()!.blendshapes[5]! - 0.9) < 0.01);
  assert.ok(Math.abs(server.coefficients.get('pair', 'bob')!.newest()!.blendshapes[5]! - 0.1) < 0.01);

  const closed = server.coefficients.waitFor('streamClosed', 5000, (s) => s.peerId === 'bob');
  room.leave(bob.peer);
  await closed;
  assert.equal(server.coefficients.get('pair', 'bob'), undefined);
  assert.ok(server.coefficients.get('pair', 'alice'), 'alice keeps her stream');
});
