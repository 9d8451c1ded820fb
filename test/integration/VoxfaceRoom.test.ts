/**
 * The browser SDK (joinRoom, VoxfaceRoom) in Node against a real Voxface server
 * and worker, through mediasoup-client's FakeHandler (test/helpers/fakeDevice.ts):
 * every signaling step is real; only the browser's WebRTC stack is not there.
 * It lives in test/, not client/sdk, because it starts a server (client files
 * never import server files).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { joinRoom, type RemotePeer, type RemoteTrack, type VoxfaceRoom } from '../../client/sdk/VoxfaceRoom';
import { SignalingRequestError } from '../../client/sdk/SignalingClient';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { fakeHandlerFactory, fakeTrack } from '../helpers/fakeDevice';
import { eventually, killWorker } from '../helpers/mediasoupFixtures';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
const joined: VoxfaceRoom[] = [];

before(async () => { server = await startTestServer(); });
after(async () => {
  for (const room of joined) await room.leave();
  await server?.close();
});

async function join(room: string, peerId: string, name = peerId, on: VoxfaceServer = server): Promise<VoxfaceRoom> {
  const joinedRoom = await joinRoom({ url: on.url, room, name, token: on.tokens.mintCall(room, peerId, { peer: peerId }), handlerFactory: fakeHandlerFactory() });
  joined.push(joinedRoom);
  return joinedRoom;
}

function serverPeer(room: string, peerId: string) {
  return server.rooms.get(room)?.peers.get(peerId);
}

test('joinRoom() joins with a token: the room knows its ids, and the server holds the peer and its two transports', async () => {
  const ada = await join('hello', 'ada', 'Ada');
  assert.equal(ada.peerId, 'ada');
  assert.equal(ada.roomId, 'hello');
  assert.equal(ada.closed, false);
  assert.ok(ada.signaling.connected);
  assert.ok(ada.sendTransport, 'a send transport');
  const peer = serverPeer('hello', 'ada');
  assert.equal(peer?.displayName, 'Ada');
  assert.deepEqual([...peer!.transports.values()].map((t) => t.appData.direction).sort(), ['recv', 'send']);
  assert.ok(peer!.transports.has(ada.sendTransport!.id));
});

test('joinRoom() with a token for another room fails with the server\'s reason and leaves nothing behind', async () => {
  const clientsBefore = server.io.engine.clientsCount;
  await assert.rejects(
    joinRoom({ url: server.url, room: 'mine', name: 'Eve', token: server.tokens.mintCall('theirs', 'eve', { peer: 'eve' }), handlerFactory: fakeHandlerFactory() }),
    (error: unknown) => {
      assert.ok(error instanceof SignalingRequestError);
      assert.equal(error.code, 'unauthorized');
      assert.equal(error.message, "invalid token (wrong-room): the token is for room 'theirs', not 'mine'");
      return true;
    },
  );
  assert.equal(server.rooms.get('mine'), undefined);
  assert.ok(await eventually(() => server.io.engine.clientsCount === clientsBefore), 'the refused connection is closed');
});

test('without a handler factory, joinRoom() detects the browser; in Node there is none, so it fails and disconnects', async () => {
  const clientsBefore = server.io.engine.clientsCount;
  await assert.rejects(
    joinRoom({ url: server.url, room: 'nobrowser', name: 'Ada', token: server.tokens.mintCall('nobrowser', 'ada', { peer: 'ada' }) }),
    { name: 'UnsupportedError', message: 'device not supported' },
  );
  assert.ok(await eventually(() => server.io.engine.clientsCount === clientsBefore), 'the connection is closed');
  assert.ok(await eventually(() => server.rooms.get('nobrowser') === undefined), 'and its peer has left the room');
});

test('a newcomer sees who is there; the others hear peerJoined, then peerLeft when it leaves', async () => {
  const ada = await join('meet', 'ada', 'Ada');
  const heardJoined: RemotePeer[] = [];
  const heardLeft: RemotePeer[] = [];
  ada.on('peerJoined', (peer) => heardJoined.push(peer));
  ada.on('peerLeft', (peer) => heardLeft.push(peer));
  const bob = await join('meet', 'bob', 'Bob');
  assert.deepEqual([...bob.peers.values()], [{ id: 'ada', displayName: 'Ada' }]);
  await eventually(() => heardJoined.length === 1);
  assert.deepEqual(heardJoined, [{ id: 'bob', displayName: 'Bob' }]);
  assert.deepEqual([...ada.peers.keys()], ['bob']);

  await bob.leave();
  assert.ok(await eventually(() => heardLeft.length === 1), 'peerLeft arrives');
  assert.deepEqual(heardLeft, [{ id: 'bob', displayName: 'Bob' }]);
  assert.equal(ada.peers.size, 0);
  assert.equal(serverPeer('meet', 'bob'), undefined);
});

test('a published track reaches the others as trackAdded, resumed on the server, and leaves as trackRemoved', async () => {
  const ada = await join('media', 'ada', 'Ada');
  const bob = await join('media', 'bob', 'Bob');
  const added = bob.waitFor('trackAdded', 10_000);
  const producerId = await ada.publishTrack(fakeTrack('audio'), { source: 'mic' });

  const producer = serverPeer('media', 'ada')!.producers.get(producerId);
  assert.equal(producer?.kind, 'audio', 'the produce request made a server producer with the id the SDK returned');
  assert.equal(producer.rtpParameters.codecs[0]?.mimeType, 'audio/opus');
  assert.ok(ada.localAudioTrack(), 'the SDK keeps its microphone track');

  const track: RemoteTrack = await added;
  assert.equal(track.peerId, 'ada');
  assert.equal(track.producerId, producerId);
  assert.equal(track.kind, 'audio');
  assert.deepEqual(track.appData, { source: 'mic', peerId: 'ada' });
  assert.equal(track.track.kind, 'audio');
  assert.equal(bob.remoteTracks.get(track.consumerId), track);
  const consumer = serverPeer('media', 'bob')!.consumers.get(track.consumerId);
  assert.ok(consumer, 'the server made the consumer');
  assert.ok(await eventually(() => !consumer.paused), 'the SDK resumed it');

  // A newcomer consumes what is already published before joinRoom() resolves.
  const cy = await join('media', 'cy', 'Cy');
  assert.deepEqual([...cy.remoteTracks.values()].map((t) => [t.peerId, t.producerId]), [['ada', producerId]]);

  const removed = bob.waitFor('trackRemoved', 10_000);
  await ada.unpublish(producerId);
  assert.equal((await removed).consumerId, track.consumerId);
  assert.equal(bob.remoteTracks.size, 0);
  assert.equal(bob.consumer(track.consumerId), undefined);
  assert.equal(serverPeer('media', 'ada')!.producers.size, 0);
  await assert.rejects(ada.unpublish(producerId), { message: `no local producer ${producerId}` });
});

test('a video track is produced as VP8, and the producer\'s tracks go when its peer leaves', async () => {
  const ada = await join('video', 'ada', 'Ada');
  const bob = await join('video', 'bob', 'Bob');
  const added = bob.waitFor('trackAdded', 10_000);
  const producerId = await ada.publishTrack(fakeTrack('video'), { source: 'camera' });
  assert.equal(serverPeer('video', 'ada')!.producers.get(producerId)?.rtpParameters.codecs[0]?.mimeType, 'video/VP8');
  const track = await added;
  assert.equal(track.kind, 'video');
  const removed = bob.waitFor('trackRemoved', 10_000);
  await ada.leave();
  assert.equal((await removed).producerId, producerId);
});

test('a track the device cannot receive is reported as an error event, and the room goes on', async () => {
  const ada = await join('codecs', 'ada', 'Ada');
  const bob = await joinRoom({
    url: server.url, room: 'codecs', name: 'Bob', token: server.tokens.mintCall('codecs', 'bob', { peer: 'bob' }), handlerFactory: fakeHandlerFactory({ audioOnly: true }),
  });
  joined.push(bob);
  const failed = bob.waitFor('error', 10_000);
  const videoId = await ada.publishTrack(fakeTrack('video'), { source: 'camera' });
  const error = await failed;
  assert.ok(error instanceof SignalingRequestError);
  assert.equal(error.code, 'bad-request');
  assert.equal(error.message, `these RTP capabilities cannot consume producer ${videoId}`);
  // The audio that follows still arrives.
  const added = bob.waitFor('trackAdded', 10_000);
  await ada.publishTrack(fakeTrack('audio'), { source: 'mic' });
  assert.equal((await added).kind, 'audio');
  assert.equal(bob.closed, false);
});

test('produceData() opens a data producer on the server, and closeDataProducer() closes it there', async () => {
  const ada = await join('data', 'ada', 'Ada');
  const dataProducer = await ada.produceData({ label: 'coefficients', ordered: false, maxRetransmits: 0 });
  const serverSide = serverPeer('data', 'ada')!.dataProducers.get(dataProducer.id);
  assert.equal(serverSide?.label, 'coefficients');
  assert.equal(serverSide.sctpStreamParameters?.ordered, false);
  await ada.closeDataProducer(dataProducer);
  await ada.closeDataProducer(dataProducer); // already closed: nothing to do
  assert.equal(serverPeer('data', 'ada')!.dataProducers.size, 0);
});

test('leave() is idempotent: the server forgets the peer, and later calls say the room is closed', async () => {
  const ada = await join('bye', 'ada', 'Ada');
  const events: string[] = [];
  ada.on('roomClosed', () => events.push('roomClosed'));
  ada.on('disconnected', () => events.push('disconnected'));
  await ada.leave();
  await ada.leave();
  assert.equal(ada.closed, true);
  assert.equal(serverPeer('bye', 'ada'), undefined);
  assert.ok(await eventually(() => !ada.signaling.connected));
  await assert.rejects(ada.publishTrack(fakeTrack('audio')), { message: 'room is closed' });
  await assert.rejects(ada.enableAvatar('someone'), { name: 'SignalingRequestError', message: 'signaling is disconnected' });
  assert.deepEqual(events, [], 'leaving is not a disconnection');
});

test('a server that goes away disconnects the room: disconnected, once, with the reason, and the room is closed', async () => {
  const own = await startTestServer();
  try {
    const ada = await join('gone', 'ada', 'Ada', own);
    const events: string[] = [];
    ada.on('disconnected', ({ reason }) => events.push(`disconnected ${reason}`));
    ada.on('roomClosed', ({ reason }) => events.push(`roomClosed ${reason}`));
    const disconnected = ada.waitFor('disconnected', 10_000);
    await own.close();
    assert.equal((await disconnected).reason, 'io server disconnect');
    assert.equal(ada.closed, true);
    assert.deepEqual(events, ['disconnected io server disconnect']);
  } finally {
    await own.close();
  }
});

// Last: it kills the server's only worker (the pool replaces it).
test('when its worker dies the room hears roomClosed with worker-died and closes', async () => {
  const ada = await join('fragile', 'ada', 'Ada');
  const bob = await join('fragile', 'bob', 'Bob');
  const closedAda = ada.waitFor('roomClosed', 10_000);
  const closedBob = bob.waitFor('roomClosed', 10_000);
  const replaced = server.pool.waitFor('workerReplaced', 10_000);
  await killWorker(server.rooms.get('fragile')!.worker);
  assert.deepEqual(await closedAda, { reason: 'worker-died' });
  assert.deepEqual(await closedBob, { reason: 'worker-died' });
  assert.equal(ada.closed, true);
  assert.ok(await eventually(() => !ada.signaling.connected), 'the SDK closed its connection');
  await replaced;
  // The server still serves: the same room id makes a new room on the new worker.
  const cy = await join('fragile', 'cy', 'Cy');
  assert.equal(cy.closed, false);
});
