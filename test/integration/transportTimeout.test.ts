/**
 * WebRTC transports that never connect, against a real server and mediasoup worker
 * on a 4-port range: a transport in use whose DTLS does not reach 'connected' within
 * the connect timeout is closed, its peer is told, its slot and port come back, and
 * /metrics counts it; a transport not used yet is left alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCapLimits } from '../../server/rooms/Capacity';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import {
  OPUS_RTP_PARAMETERS, TestSockets, UNANSWERED_DTLS, assertRefused, createTransport, metricValue,
} from '../helpers/signalingSocket';
import { startTestServer } from '../helpers/testServer';

// Long enough for produce and consume to finish first on a loaded 2-core machine (400 ms was not, once).
const TIMEOUT_MS = 1500;
let server: VoxfaceServer;
let sockets: TestSockets;

before(async () => {
  // Ports below Linux's ephemeral range (32768+), so no outgoing connection holds one.
  server = await startTestServer({
    rtcMinPort: 31100, rtcMaxPort: 31103,
    caps: { ...defaultCapLimits(), maxPeers: 2, maxTransports: 3, transportConnectTimeoutMs: TIMEOUT_MS },
  });
  sockets = new TestSockets(server);
});

after(async () => {
  sockets?.closeAll();
  await server?.close();
});

test('a transport asked to connect whose DTLS never connects is closed after the timeout, its peer told and its slot freed', async () => {
  const alice = await sockets.joined('deadline', 'alice');
  const bob = await sockets.joined('deadline', 'bob');
  const send = await createTransport(alice, 'send');
  const idle = await createTransport(alice, 'recv');
  const bobRecv = await createTransport(bob, 'recv');
  assertRefused(await alice.request('createWebRtcTransport', { direction: 'recv' }), 'transport-limit', /at most 3 WebRTC transports/);

  const told = alice.nextNotification('transportClosed');
  const connectedAt = Date.now();
  assert.equal((await alice.request('connectWebRtcTransport', { transportId: send.id, dtlsParameters: UNANSWERED_DTLS })).ok, true);
  const produced = await alice.request('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS });
  assert.equal(produced.ok, true, JSON.stringify(produced));
  const producerId = (produced as { data: { id: string } }).data.id;
  // Listening before the consume: its transport's deadline starts with it.
  const bobConsumerClosed = bob.nextNotification('consumerClosed');
  const bobTold = bob.nextNotification('transportClosed');
  // Bob's deadline must end well after Alice's: two deadlines a few ms apart let Bob's
  // transport close his consumer before the worker reports its producer closed, and then
  // no 'consumerClosed' is owed (a CI run lost that race). A third of the timeout apart.
  await new Promise((r) => setTimeout(r, TIMEOUT_MS / 3));
  const consumed = await bob.request('consume', { transportId: bobRecv.id, producerId, rtpCapabilities: server.rooms.get('deadline')!.router.rtpCapabilities });
  assert.equal(consumed.ok, true, JSON.stringify(consumed));

  assert.deepEqual(await told, { transportId: send.id, reason: 'connect-timeout' });
  const waitedMs = Date.now() - connectedAt;
  assert.ok(waitedMs >= TIMEOUT_MS - 20, `closed after ${waitedMs} ms, not before the ${TIMEOUT_MS} ms timeout`);
  assert.equal((await bobConsumerClosed).producerId, producerId, 'the producer on it closed, and whoever consumed it heard so');

  const peer = server.rooms.get('deadline')!.peers.get('alice')!;
  assert.equal(peer.transports.has(send.id), false);
  assert.equal(peer.producers.size, 0);
  assertRefused(await alice.request('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS }), 'not-found', /no transport/);
  // Its slot and its port came back: a new transport binds.
  await createTransport(alice, 'send');

  // Bob's receive transport, in use since his consume, never connected either.
  assert.deepEqual(await bobTold, { transportId: bobRecv.id, reason: 'connect-timeout' });
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  assert.equal(metricValue(metrics, 'voxface_transports_closed_unconnected_total{reason="connect-timeout"}'), 2);

  // A transport that was never used (a lone peer's receive transport waits for someone to consume) stays open.
  await new Promise((r) => setTimeout(r, 3 * TIMEOUT_MS));
  assert.equal(peer.transports.has(idle.id), true, 'the unused receive transport is still open');
  assert.equal(peer.transports.get(idle.id)!.dtlsState, 'new');
  assert.equal(server.rooms.capacity.unconnectedTransportsClosed['connect-timeout'], 2);
});
