/**
 * The per-peer rate limit on coefficient packets, through a real mediasoup worker: a
 * data producer on a DirectTransport stands in for a peer's data channel, and its
 * messages reach CoefficientIngest as a browser's would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { types } from 'mediasoup';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import { encodeCoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import type { Peer } from '../../server/rooms/Peer';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { metricValue } from '../helpers/signalingSocket';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;

before(async () => { server = await startTestServer(); });
after(async () => { await server?.close(); });

function packet(sequence: number): Buffer {
  return Buffer.from(encodeCoefficientFrame({
    sequence, captureTimeMs: Date.now(), facePresent: true, keepAlive: false, confidence: 1,
    blendshapes: new Float32Array(BLENDSHAPE_COUNT).fill(0.3), rotation: [0, 0, 0, 1], translationCm: [0, 0, -40],
  }));
}

async function attach(roomId: string, peerId: string): Promise<{ peer: Peer; producer: types.DataProducer }> {
  const room = await server.rooms.getOrCreate(roomId);
  const peer = room.join(peerId, peerId, () => undefined);
  const transport = await room.router.createDirectTransport();
  const producer = await transport.produceData({ appData: { source: 'coefficients', peerId } });
  peer.dataProducers.set(producer.id, producer);
  const opened = server.coefficients.waitFor('streamOpened', 5000, (s) => s.peerId === peerId);
  room.announceDataProducer(peer, producer);
  await opened;
  return { peer, producer };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a flood of valid packets is cut to the rate limit and counted, while a well-paced stream passes whole', async () => {
  const { packetsPerSecond, burst } = { packetsPerSecond: server.config.coefficientPacketsPerSecond, burst: server.config.coefficientPacketBurst };
  assert.deepEqual([packetsPerSecond, burst], [60, 30], 'the defaults this test is sized for');
  const flooder = await attach('flood', 'flooder');
  const steady = await attach('flood', 'steady');
  const accepted = new Map<string, number>();
  server.coefficients.on('frame', ({ peerId }) => accepted.set(peerId, (accepted.get(peerId) ?? 0) + 1));

  // 2000 valid, ever newer packets at once: a hostile or broken sender.
  const FLOOD = 2000;
  const floodStart = Date.now();
  for (let i = 1; i <= FLOOD; i++) flooder.producer.send(packet(i));
  const flooderStream = server.coefficients.get('flood', 'flooder')!;
  await until(() => flooderStream.stats(Date.now()).packetsReceived === FLOOD, 'every flooded packet to arrive');
  const floodMs = Date.now() - floodStart;

  // Another peer of the room sends at 30 Hz for 1.5 s: its own bucket, untouched by the flood.
  for (let i = 1; i <= 45; i++) {
    steady.producer.send(packet(i));
    await new Promise((r) => setTimeout(r, 33));
  }
  const steadyStream = server.coefficients.get('flood', 'steady')!;
  await until(() => steadyStream.stats(Date.now()).packetsReceived === 45, 'the steady packets to arrive');

  const flood = flooderStream.stats(Date.now());
  // At most the burst plus what the bucket refilled while the flood arrived.
  const allowed = burst + Math.ceil((floodMs / 1000) * packetsPerSecond);
  assert.ok(flood.packetsAccepted >= burst, `the burst passes: ${flood.packetsAccepted}`);
  assert.ok(flood.packetsAccepted <= allowed, `${flood.packetsAccepted} accepted, at most ${allowed} allowed in ${floodMs} ms`);
  assert.equal(flood.droppedByReason['rate-limited'], FLOOD - flood.packetsAccepted, 'every other packet was dropped for the rate, none for anything else');
  assert.equal(flood.packetsDropped, flood.droppedByReason['rate-limited']);
  assert.equal(accepted.get('flooder'), flood.packetsAccepted, 'dropped packets never reach listeners');

  const steadyStats = steadyStream.stats(Date.now());
  assert.equal(steadyStats.packetsAccepted, 45, JSON.stringify(steadyStats.droppedByReason));
  assert.equal(steadyStats.droppedByReason['rate-limited'], 0);

  // Once the flood stops, the flooder's bucket refills and a paced stream passes again.
  await new Promise((r) => setTimeout(r, (burst / packetsPerSecond) * 1000 + 100));
  const before = flooderStream.stats(Date.now()).packetsAccepted;
  for (let i = 1; i <= 20; i++) {
    flooder.producer.send(packet(FLOOD + i));
    await new Promise((r) => setTimeout(r, 33));
  }
  await until(() => flooderStream.stats(Date.now()).packetsReceived === FLOOD + 20, 'the paced packets to arrive');
  assert.equal(flooderStream.stats(Date.now()).packetsAccepted - before, 20);

  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  assert.equal(metricValue(metrics, 'voxface_coefficient_packets_rate_limited_total'), flood.droppedByReason['rate-limited']);
  assert.equal(metricValue(metrics, 'voxface_coefficient_packets_dropped{room="flood",peer="flooder",reason="rate-limited"}'), flood.droppedByReason['rate-limited']);
});

test('a new data producer does not refill its peer\'s bucket', async () => {
  // A slow bucket, so what refills during the test is small beside a second burst.
  const slow = await startTestServer({ coefficientPacketsPerSecond: 1, coefficientPacketBurst: 20 });
  try {
    // The peer's bucket is made full when its first stream opens, after this.
    const bucketMadeBy = Date.now();
    const room = await slow.rooms.getOrCreate('refill');
    const peer = room.join('mallory', 'mallory', () => undefined);
    const transport = await room.router.createDirectTransport();
    const streams = [];
    // The same peer floods, opens a second coefficient producer at once, and floods again.
    for (const offset of [0, 1000]) {
      const producer = await transport.produceData({ appData: { source: 'coefficients', peerId: 'mallory' } });
      peer.dataProducers.set(producer.id, producer);
      const opened = slow.coefficients.waitFor('streamOpened', 5000, (s) => s.dataConsumer.dataProducerId === producer.id);
      room.announceDataProducer(peer, producer);
      const { stream } = await opened;
      for (let i = 1; i <= 100; i++) producer.send(packet(offset + i));
      await until(() => stream.stats(Date.now()).packetsReceived === 100, 'the flood to arrive');
      streams.push(stream);
    }
    assert.notEqual(streams[0], streams[1]);
    // One bucket: both floods together got one burst and what refilled since it was made
    // (a fresh bucket for the second stream would give another 20).
    const allowed = 20 + Math.ceil((Date.now() - bucketMadeBy) / 1000);
    const accepted = streams.map((s) => s.stats(Date.now()).packetsAccepted);
    assert.ok(accepted[0]! >= 20, `the first stream had the burst: ${accepted[0]}`);
    assert.ok(accepted[0]! + accepted[1]! <= allowed, `${accepted.join(' + ')} accepted over both streams, at most ${allowed} from one bucket`);
  } finally {
    await slow.close();
  }
});
