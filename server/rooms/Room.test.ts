/** Room against a real mediasoup worker and router: who hears what, and how it closes. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { types } from 'mediasoup';
import { SIGNALING_LIMITS } from '../../shared/signaling/limits';
import { SignalingError } from '../signaling/SignalingError';
import { createRouter, killWorker, LISTEN, opusRtpParameters, recordingNotify, startWorker } from '../../test/helpers/mediasoupFixtures';
import { Room, type RoomCloseReason } from './Room';

let worker: types.Worker;

before(async () => { worker = await startWorker(); });
after(() => worker?.close());

async function newRoom(id = 'r'): Promise<Room> {
  return new Room(id, worker, await createRouter(worker));
}

function closedReasons(room: Room): RoomCloseReason[] {
  const reasons: RoomCloseReason[] = [];
  room.on('closed', (reason) => reasons.push(reason));
  return reasons;
}

function assertSignalingError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SignalingError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

test('a peer who joins is announced to the others and to listeners, never to itself', async (t) => {
  const room = await newRoom();
  t.after(() => room.close('closed'));
  const ada = recordingNotify();
  const bob = recordingNotify();
  const joined: string[] = [];
  room.on('peerJoined', (peer) => joined.push(peer.id));
  const first = room.join('ada', 'Ada', ada.notify);
  room.join('bob', 'Bob', bob.notify);
  assert.deepEqual(joined, ['ada', 'bob']);
  assert.deepEqual(ada.received, [{ method: 'peerJoined', data: { peerId: 'bob', displayName: 'Bob' } }]);
  assert.deepEqual(bob.received, []);
  assert.equal(room.peers.get('ada'), first);
  assert.deepEqual(room.peerInfos(first), [{ id: 'bob', displayName: 'Bob', producers: [] }]);
});

test('joining again with the same peer id ends the old session first', async (t) => {
  const room = await newRoom();
  t.after(() => room.close('closed'));
  const ada = recordingNotify();
  const old = room.join('bob', 'Bob', recordingNotify().notify);
  await old.createWebRtcTransport(room.router, LISTEN, 'send');
  room.join('ada', 'Ada', ada.notify);
  const events: string[] = [];
  room.on('peerLeft', (peer) => events.push(`left ${peer.id}${peer === old ? ' (old)' : ''}`));
  room.on('peerJoined', (peer) => events.push(`joined ${peer.id}`));
  const fresh = room.join('bob', 'Bob again', recordingNotify().notify);
  assert.notEqual(fresh, old);
  assert.equal(old.closed, true);
  assert.equal(old.transports.size, 0, 'the old session\'s transports are closed');
  assert.deepEqual(events, ['left bob (old)', 'joined bob']);
  assert.deepEqual(ada.methods(), ['peerLeft', 'peerJoined']);
  assert.equal(room.peers.size, 2);
});

test('a room holds at most maxPeersPerRoom peers, and says so', async (t) => {
  const room = await newRoom('full');
  t.after(() => room.close('closed'));
  for (let i = 0; i < SIGNALING_LIMITS.maxPeersPerRoom; i += 1) room.join(`p${i}`, `P${i}`, () => undefined);
  assertSignalingError(() => room.join('late', 'Late', () => undefined), 'room-full',
    `room full holds at most ${SIGNALING_LIMITS.maxPeersPerRoom} peers (VOXFACE_MAX_PEERS_PER_ROOM)`);
  assert.equal(room.peers.has('late'), false);
  // Someone already inside may still reconnect: the old session leaves first.
  room.join('p0', 'P0 again', () => undefined);
  assert.equal(room.peers.size, SIGNALING_LIMITS.maxPeersPerRoom);
});

test('leave() closes the peer and tells the others once; a stale or repeated leave does nothing', async (t) => {
  const room = await newRoom();
  t.after(() => room.close('closed'));
  const ada = recordingNotify();
  room.join('ada', 'Ada', ada.notify);
  const bob = room.join('bob', 'Bob', recordingNotify().notify);
  const left: string[] = [];
  room.on('peerLeft', (peer) => left.push(peer.id));
  room.leave(bob);
  room.leave(bob);
  assert.equal(bob.closed, true);
  assert.equal(room.peers.has('bob'), false);
  assert.deepEqual(left, ['bob']);
  assert.deepEqual(ada.received.slice(1), [{ method: 'peerLeft', data: { peerId: 'bob' } }]);
  // A stale session (replaced by a reconnection) leaving does not remove the new one.
  const first = room.join('cy', 'Cy', () => undefined);
  const second = room.join('cy', 'Cy', () => undefined);
  room.leave(first);
  assert.equal(room.peers.get('cy'), second);
});

test('a new producer is announced to the others with its kind and appData and listed for newcomers; a data producer only to listeners', async (t) => {
  const room = await newRoom();
  t.after(() => room.close('closed'));
  const ada = recordingNotify();
  const bobNotes = recordingNotify();
  room.join('ada', 'Ada', ada.notify);
  const bob = room.join('bob', 'Bob', bobNotes.notify);
  const transport = await bob.createWebRtcTransport(room.router, LISTEN, 'send');
  const producer = await bob.produce(transport, 'audio', opusRtpParameters(), { source: 'mic' });
  const heard: string[] = [];
  room.on('newProducer', ({ peer, producer: p }) => heard.push(`${peer.id} ${p.id}`));
  room.announceProducer(bob, producer);
  assert.deepEqual(heard, [`bob ${producer.id}`]);
  assert.deepEqual(ada.received.at(-1), {
    method: 'newProducer',
    data: { peerId: 'bob', producer: { id: producer.id, kind: 'audio', appData: { source: 'mic', peerId: 'bob' } } },
  });
  assert.equal(bobNotes.received.length, 0, 'the producer\'s own peer is not told');
  const newcomer = room.join('cy', 'Cy', () => undefined);
  assert.deepEqual(room.peerInfos(newcomer).find((p) => p.id === 'bob')?.producers, [
    { id: producer.id, kind: 'audio', appData: { source: 'mic', peerId: 'bob' } },
  ]);
  // A data producer (coefficients) is for server-side listeners only: nobody is notified.
  const dataProducer = await bob.produceData(transport, { sctpStreamParameters: { streamId: 0, ordered: false } });
  const heardData: string[] = [];
  room.on('newDataProducer', ({ peer, dataProducer: d }) => heardData.push(`${peer.id} ${d.id}`));
  const notesBefore = ada.received.length;
  room.announceDataProducer(bob, dataProducer);
  assert.deepEqual(heardData, [`bob ${dataProducer.id}`]);
  assert.equal(ada.received.length, notesBefore);
  assert.equal(room.isOwnedByAnyone(dataProducer.id), true);
  assert.equal(room.findProducer(producer.id), producer);
  assert.equal(room.findProducer('nope'), undefined);
  assert.equal(room.isOwnedByAnyone(producer.id), true);
  assert.equal(room.isOwnedByAnyone(transport.id), true);
  assert.equal(room.isOwnedByAnyone('nope'), false);
});

test('close() tells every peer why, closes the peers and the router, and emits closed once', async () => {
  const room = await newRoom();
  const ada = recordingNotify();
  const peer = room.join('ada', 'Ada', ada.notify);
  const transport = await peer.createWebRtcTransport(room.router, LISTEN, 'recv');
  const reasons = closedReasons(room);
  room.close('server-shutdown');
  room.close('closed');
  assert.equal(room.closed, true);
  assert.deepEqual(reasons, ['server-shutdown']);
  assert.deepEqual(ada.received, [{ method: 'roomClosed', data: { reason: 'server-shutdown' } }]);
  assert.equal(peer.closed, true);
  assert.equal(transport.closed, true);
  assert.equal(room.router.closed, true);
  assert.equal(room.peers.size, 0);
});

test('joining a closed room is refused with not-found', async () => {
  const room = await newRoom('gone');
  room.close('closed');
  assertSignalingError(() => room.join('ada', 'Ada', () => undefined), 'not-found', 'room gone is closed');
});

test('a router closed from outside closes its room with reason closed', async () => {
  const room = await newRoom();
  const ada = recordingNotify();
  room.join('ada', 'Ada', ada.notify);
  const reasons = closedReasons(room);
  room.router.close();
  assert.equal(room.closed, true);
  assert.deepEqual(reasons, ['closed']);
  assert.deepEqual(ada.methods(), ['roomClosed']);
});

test('a room whose worker process dies closes with reason worker-died', async () => {
  const own = await startWorker();
  const room = new Room('w', own, await createRouter(own));
  const ada = recordingNotify();
  room.join('ada', 'Ada', ada.notify);
  const reasons = closedReasons(room);
  await killWorker(own);
  assert.deepEqual(reasons, ['worker-died']);
  assert.deepEqual(ada.received, [{ method: 'roomClosed', data: { reason: 'worker-died' } }]);
});
