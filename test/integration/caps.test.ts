/**
 * The server's caps on rooms, peers, transports, producers, consumers and data
 * producers, against a real server and mediasoup worker: each refusal carries its
 * own code and names its limit, concurrent requests cannot pass a cap together,
 * freed slots can be taken again, and /metrics shows the limits and refusals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../server/config';
import { capsForPortRange, defaultCapLimits } from '../../server/rooms/Capacity';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import {
  OPUS_RTP_PARAMETERS, TestSockets, assertRefused, createTransport, metricValue,
} from '../helpers/signalingSocket';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let sockets: TestSockets;

const CAPS = {
  ...defaultCapLimits(),
  maxRooms: 2,
  maxPeers: 3,
  maxPeersPerRoom: 3,
  maxTransports: 5,
  maxTransportsPerPeer: 3,
  maxProducersPerPeer: 2,
  maxConsumersPerPeer: 2,
  maxDataProducersPerPeer: 1,
};

before(async () => {
  // The request rate limit is not what these tests are about.
  server = await startTestServer({ caps: CAPS, requestsPerSecond: 1000, requestBurst: 1000 });
  sockets = new TestSockets(server);
});

after(async () => {
  sockets?.closeAll();
  await server?.close();
});

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Disconnects every socket and waits until the server has let all their peers and rooms go. */
async function reset(): Promise<void> {
  sockets.closeAll();
  const capacity = server.rooms.capacity;
  await until(() => capacity.held('peers') === 0 && capacity.held('rooms') === 0 && capacity.held('transports') === 0, 'every slot to be freed');
}

function opus(ssrc: number) {
  return { ...OPUS_RTP_PARAMETERS, encodings: [{ ssrc }] };
}

test('the default caps follow from the RTC port range: a 101-port range serves 33 peers and 66 WebRTC transports', () => {
  assert.deepEqual(capsForPortRange(40000, 40100), { maxPeers: 33, maxTransports: 66 });
  assert.deepEqual(capsForPortRange(40000, 49999), { maxPeers: 3333, maxTransports: 6666 });
  assert.deepEqual(capsForPortRange(5000, 5000), { maxPeers: 1, maxTransports: 1 });
  const config = loadConfig({ VOXFACE_RTC_MIN_PORT: '40000', VOXFACE_RTC_MAX_PORT: '40100', VOXFACE_MAX_ROOMS: '7', VOXFACE_MAX_CONSUMERS_PER_PEER: '9', VOXFACE_TRANSPORT_CONNECT_TIMEOUT: '2.5' });
  assert.equal(config.caps.maxPeers, 33);
  assert.equal(config.caps.maxTransports, 66);
  assert.equal(config.caps.maxRooms, 7);
  assert.equal(config.caps.maxConsumersPerPeer, 9);
  assert.equal(config.caps.transportConnectTimeoutMs, 2500);
  assert.throws(() => loadConfig({ VOXFACE_RTC_MIN_PORT: '40000', VOXFACE_RTC_MAX_PORT: '40100', VOXFACE_MAX_TRANSPORTS: '102' }), /VOXFACE_MAX_TRANSPORTS must be an integer in \[1, 101\]/);
  assert.throws(() => loadConfig({ VOXFACE_MAX_PEERS: '0' }), /VOXFACE_MAX_PEERS/);
});

test('a room beyond the server\'s room cap is refused with room-limit, and a room freed by its last peer can be taken again', async () => {
  await sockets.joined('first', 'a');
  const second = await sockets.joined('second', 'b');
  const c = await sockets.connect();
  assertRefused(await c.request('join', { token: server.tokens.mintCall('third', 'c', { peer: 'c' }), room: 'third', displayName: 'c' }), 'room-limit', /^the server hosts at most 2 rooms \(VOXFACE_MAX_ROOMS\)$/);
  assert.equal(server.rooms.get('third'), undefined);
  assert.equal(server.rooms.capacity.held('rooms'), 2);

  assert.equal((await second.request('leave', {})).ok, true);
  const retry = await c.request('join', { token: server.tokens.mintCall('third', 'c', { peer: 'c' }), room: 'third', displayName: 'c' });
  assert.equal(retry.ok, true, JSON.stringify(retry));
  await reset();
});

test('a full room refuses with room-full, a full server with peer-limit, and a refused join leaves no empty room behind', async () => {
  await sockets.joined('full', 'a');
  await sockets.joined('full', 'b');
  await sockets.joined('full', 'c');
  const d = await sockets.connect();
  assertRefused(await d.request('join', { token: server.tokens.mintCall('full', 'd', { peer: 'd' }), room: 'full', displayName: 'd' }), 'room-full', /^room full holds at most 3 peers \(VOXFACE_MAX_PEERS_PER_ROOM\)$/);
  assertRefused(await d.request('join', { token: server.tokens.mintCall('overflow', 'd', { peer: 'd' }), room: 'overflow', displayName: 'd' }), 'peer-limit', /^the server holds at most 3 peers \(VOXFACE_MAX_PEERS\)$/);
  assert.equal(server.rooms.get('overflow'), undefined, 'the room made for the refused join is closed');
  assert.equal(server.rooms.capacity.held('rooms'), 1);
  assert.equal(server.rooms.capacity.held('peers'), 3);

  // A reconnection (same peer id) replaces the old session and its slot rather than needing a new one.
  const again = await d.request('join', { token: server.tokens.mintCall('full', 'a', { peer: 'a' }), room: 'full', displayName: 'a again' });
  assert.equal(again.ok, true, JSON.stringify(again));
  assert.equal(server.rooms.capacity.held('peers'), 3);
  await reset();
});

test('transports beyond a peer\'s cap or the server\'s are refused with transport-limit naming which, and a leaving peer frees its share', async () => {
  const a = await sockets.joined('ports', 'a');
  const b = await sockets.joined('ports', 'b');
  for (let i = 0; i < 3; i++) await createTransport(a, 'recv');
  assertRefused(await a.request('createWebRtcTransport', { direction: 'recv' }), 'transport-limit', /^a peer may hold at most 3 transports \(VOXFACE_MAX_TRANSPORTS_PER_PEER\)$/);
  await createTransport(b, 'send');
  await createTransport(b, 'recv');
  assertRefused(await b.request('createWebRtcTransport', { direction: 'recv' }), 'transport-limit', /^the server holds at most 5 WebRTC transports \(VOXFACE_MAX_TRANSPORTS\)$/);
  assert.equal(server.rooms.capacity.held('transports'), 5);

  assert.equal((await a.request('leave', {})).ok, true);
  assert.equal(server.rooms.capacity.held('transports'), 2, 'the leaving peer\'s transports gave their slots back');
  await createTransport(b, 'recv');
  await reset();
});

test('concurrent transport requests from many connections never pass the server\'s cap together', async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => sockets.joined('rush', id)));
  for (let i = 0; i < 3; i++) await createTransport(a!, 'recv');
  await createTransport(b!, 'recv');
  // One slot left; b and c ask at once (a connection's own requests run in turn, so
  // only requests of different connections can race past a check made before the await).
  const replies = await Promise.all([b!, c!].flatMap((peer) => [0, 1].map(() => peer.request('createWebRtcTransport', { direction: 'recv' }))));
  const granted = replies.filter((r) => r.ok).length;
  const refused = replies.filter((r) => !r.ok && r.error.code === 'transport-limit').length;
  assert.equal(granted, 1, `exactly the one slot left is granted: ${JSON.stringify(replies)}`);
  assert.equal(refused, 3);
  const held = [...server.rooms.get('rush')!.peers.values()].reduce((n, p) => n + p.transports.size, 0);
  assert.equal(held, 5, 'the worker holds no more transports than the cap');
  await reset();
});

test('producers, data producers and consumers beyond a peer\'s caps are refused with their own codes', async () => {
  const a = await sockets.joined('media', 'a');
  const b = await sockets.joined('media', 'b');
  const aSend = await createTransport(a, 'send');
  const aRecv = await createTransport(a, 'recv');
  const bSend = await createTransport(b, 'send');
  const produce = async (client: typeof a, transportId: string, ssrc: number) => {
    const reply = await client.request('produce', { transportId, kind: 'audio', rtpParameters: opus(ssrc) });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    return (reply as { data: { id: string } }).data.id;
  };
  const a1 = await produce(a, aSend.id, 1001);
  await produce(a, aSend.id, 1002);
  assertRefused(await a.request('produce', { transportId: aSend.id, kind: 'audio', rtpParameters: opus(1003) }), 'producer-limit', /^a peer may hold at most 2 producers \(VOXFACE_MAX_PRODUCERS_PER_PEER\)$/);

  const dataRequest = (streamId: number) => ({ transportId: aSend.id, sctpStreamParameters: { streamId, ordered: true }, label: 'chat' });
  const data = await a.request('produceData', dataRequest(1));
  assert.equal(data.ok, true, JSON.stringify(data));
  assertRefused(await a.request('produceData', dataRequest(2)), 'data-producer-limit', /^a peer may hold at most 1 data producer \(VOXFACE_MAX_DATA_PRODUCERS_PER_PEER\)$/);

  const b1 = await produce(b, bSend.id, 2001);
  const b2 = await produce(b, bSend.id, 2002);
  const rtpCapabilities = server.rooms.get('media')!.router.rtpCapabilities;
  for (const producerId of [b1, b2]) {
    const reply = await a.request('consume', { transportId: aRecv.id, producerId, rtpCapabilities });
    assert.equal(reply.ok, true, JSON.stringify(reply));
  }
  assertRefused(await a.request('consume', { transportId: aRecv.id, producerId: a1, rtpCapabilities }), 'consumer-limit', /^a peer may hold at most 2 consumers \(VOXFACE_MAX_CONSUMERS_PER_PEER\)$/);

  const peer = server.rooms.get('media')!.peers.get('a')!;
  assert.deepEqual([peer.producers.size, peer.dataProducers.size, peer.consumers.size], [2, 1, 2]);
  await reset();
});

test('/metrics shows every cap\'s limit and the refusals by cap', async () => {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  const expected: Record<string, number> = {
    rooms: 2, peers: 3, transports: 5, peersPerRoom: 3, transportsPerPeer: 3, producersPerPeer: 2, consumersPerPeer: 2, dataProducersPerPeer: 1,
  };
  for (const [cap, limit] of Object.entries(expected)) assert.equal(metricValue(text, `voxface_cap_limit{cap="${cap}"}`), limit, cap);
  assert.equal(metricValue(text, 'voxface_transport_connect_timeout_seconds'), 30);
  const refusals: Record<string, number> = {
    rooms: 1, peers: 1, peersPerRoom: 1, transports: 1 + 3, transportsPerPeer: 1, producersPerPeer: 1, consumersPerPeer: 1, dataProducersPerPeer: 1,
  };
  for (const [cap, count] of Object.entries(refusals)) assert.equal(metricValue(text, `voxface_cap_refusals_total{cap="${cap}"}`), count, cap);
  assert.equal(metricValue(text, 'voxface_signaling_requests_total{method="join",result="room-limit"}'), 1);
});

test('with the default caps of a 9-port range, transports beyond the ports are refused with transport-limit, not a failed bind', async () => {
  // Ports below Linux's ephemeral range (32768+), so no outgoing connection holds one.
  const config = loadConfig({ VOXFACE_RTC_MIN_PORT: '31000', VOXFACE_RTC_MAX_PORT: '31008' });
  assert.deepEqual([config.caps.maxPeers, config.caps.maxTransports], [3, 6]);
  const narrow = await startTestServer({ rtcMinPort: 31000, rtcMaxPort: 31008, caps: config.caps, requestsPerSecond: 1000, requestBurst: 1000 });
  const narrowSockets = new TestSockets(narrow);
  try {
    const peers = await Promise.all(['a', 'b', 'c'].map((id) => narrowSockets.joined('narrow', id)));
    const replies = [];
    // 12 asked for (4 per peer, the per-peer default) against 9 ports: without the cap the tenth fails to bind.
    for (const peer of peers) for (let i = 0; i < 4; i++) replies.push(await peer.request('createWebRtcTransport', { direction: 'recv' }));
    const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code));
    assert.equal(codes.filter((c) => c === 'ok').length, 6, codes.join(' '));
    assert.deepEqual([...new Set(codes.filter((c) => c !== 'ok'))], ['transport-limit'], codes.join(' '));
  } finally {
    narrowSockets.closeAll();
    await narrow.close();
  }
});
