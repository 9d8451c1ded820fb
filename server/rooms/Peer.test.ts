/** Peer against a real mediasoup worker: what it owns, what it refuses, and how it closes. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { types } from 'mediasoup';
import { SIGNALING_LIMITS } from '../../shared/signaling/limits';
import { SignalingError } from '../signaling/SignalingError';
import {
  createRouter, DEAF_CAPABILITIES, LISTEN, opusRtpParameters, recordingNotify, startWorker,
} from '../../test/helpers/mediasoupFixtures';
import { Peer } from './Peer';

let worker: types.Worker;
let router: types.Router;

before(async () => {
  worker = await startWorker();
  router = await createRouter(worker);
});
after(() => worker?.close());

async function rejectsWith(promise: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SignalingError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

function throwsWith(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SignalingError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

/** A peer with a send and a receive transport. */
async function peerWithTransports(id: string): Promise<{ peer: Peer; send: types.WebRtcTransport; recv: types.WebRtcTransport; notes: ReturnType<typeof recordingNotify> }> {
  const notes = recordingNotify();
  const peer = new Peer(id, id.toUpperCase(), notes.notify);
  const send = await peer.createWebRtcTransport(router, LISTEN, 'send');
  const recv = await peer.createWebRtcTransport(router, LISTEN, 'recv');
  return { peer, send, recv, notes };
}

test('a transport is the peer\'s, tagged with its direction, and forgotten when it closes', async () => {
  const peer = new Peer('ada', 'Ada', () => undefined);
  const transport = await peer.createWebRtcTransport(router, LISTEN, 'recv', { OS: 16, MIS: 16 });
  assert.deepEqual(transport.appData, { peerId: 'ada', direction: 'recv' });
  assert.equal(transport.iceCandidates[0]?.ip, '127.0.0.1');
  assert.equal(transport.sctpParameters?.OS, 16);
  assert.equal(peer.ownTransport(transport.id, () => false), transport);
  transport.close();
  assert.equal(peer.transports.size, 0);
  peer.close();
});

test('a peer holds at most maxTransportsPerPeer transports, and says so', async () => {
  const peer = new Peer('ada', 'Ada', () => undefined);
  for (let i = 0; i < SIGNALING_LIMITS.maxTransportsPerPeer; i += 1) await peer.createWebRtcTransport(router, LISTEN, 'send');
  await rejectsWith(peer.createWebRtcTransport(router, LISTEN, 'send'), 'transport-limit',
    `a peer may hold at most ${SIGNALING_LIMITS.maxTransportsPerPeer} transports (VOXFACE_MAX_TRANSPORTS_PER_PEER)`);
  assert.equal(peer.transports.size, SIGNALING_LIMITS.maxTransportsPerPeer);
  peer.close();
});

test('a transport that finishes after its peer left is closed, not kept', async () => {
  const peer = new Peer('ada', 'Ada', () => undefined);
  const transportsBefore = (await router.dump() as { transportIds: string[] }).transportIds.length;
  const pending = peer.createWebRtcTransport(router, LISTEN, 'send');
  peer.close();
  await rejectsWith(pending, 'not-joined', 'peer left while its transport was being created');
  assert.equal((await router.dump() as { transportIds: string[] }).transportIds.length, transportsBefore);
});

test('a producer, data producer or consumer that finishes after its peer left is closed, not kept', async () => {
  const alice = await peerWithTransports('alice');
  const theirs = await alice.peer.produce(alice.send, 'audio', opusRtpParameters(), {});
  const { peer, send, recv } = await peerWithTransports('bob');
  const made: { closed: boolean }[] = [];
  send.observer.on('newproducer', (producer) => made.push(producer));
  send.observer.on('newdataproducer', (dataProducer) => made.push(dataProducer));
  recv.observer.on('newconsumer', (consumer) => made.push(consumer));
  const pending = [
    peer.produce(send, 'audio', opusRtpParameters(), {}),
    peer.produceData(send, { sctpStreamParameters: { streamId: 0, ordered: true } }),
    peer.consume(router, recv, theirs, router.rtpCapabilities),
  ];
  peer.close(); // the client disconnected while its requests were with the worker
  const results = await Promise.allSettled(pending);
  assert.deepEqual(results.map((r) => (r.status === 'rejected' ? `${r.reason.code}: ${r.reason.message}` : 'kept')), [
    'not-joined: peer left while its producer was being created',
    'not-joined: peer left while its data producer was being created',
    'not-joined: peer left while its consumer was being created',
  ]);
  assert.deepEqual([peer.producers.size, peer.dataProducers.size, peer.consumers.size], [0, 0, 0]);
  assert.ok(made.every((object) => object.closed), 'whatever mediasoup made is closed');
  alice.peer.close();
});

test('lookups find the peer\'s own objects and tell another peer\'s from unknown ones', async () => {
  const { peer, send } = await peerWithTransports('ada');
  const producer = await peer.produce(send, 'audio', opusRtpParameters(), {});
  const dataProducer = await peer.produceData(send, { sctpStreamParameters: { streamId: 0, ordered: true } });
  assert.equal(peer.ownTransport(send.id, () => false), send);
  assert.equal(peer.ownProducer(producer.id, () => false), producer);
  assert.equal(peer.ownDataProducer(dataProducer.id, () => false), dataProducer);
  const elsewhere = () => true;
  const nowhere = () => false;
  throwsWith(() => peer.ownTransport('t1', elsewhere), 'forbidden', 'transport t1 belongs to another peer');
  throwsWith(() => peer.ownTransport('t1', nowhere), 'not-found', 'no transport t1');
  throwsWith(() => peer.ownProducer('p1', elsewhere), 'forbidden', 'producer p1 belongs to another peer');
  throwsWith(() => peer.ownProducer('p1', nowhere), 'not-found', 'no producer p1');
  throwsWith(() => peer.ownDataProducer('d1', elsewhere), 'forbidden', 'data producer d1 belongs to another peer');
  throwsWith(() => peer.ownDataProducer('d1', nowhere), 'not-found', 'no data producer d1');
  throwsWith(() => peer.ownConsumer('c1', elsewhere), 'forbidden', 'consumer c1 belongs to another peer');
  throwsWith(() => peer.ownConsumer('c1', nowhere), 'not-found', 'no consumer c1');
  peer.close();
});

test('produce and produceData need a send transport; consume needs a receive transport', async () => {
  const { peer, send, recv } = await peerWithTransports('ada');
  await rejectsWith(peer.produce(recv, 'audio', opusRtpParameters(), {}), 'bad-request', `transport ${recv.id} is not a send transport`);
  await rejectsWith(peer.produceData(recv, { sctpStreamParameters: { streamId: 0 } }), 'bad-request', `transport ${recv.id} is not a send transport`);
  const producer = await peer.produce(send, 'audio', opusRtpParameters(), {});
  await rejectsWith(peer.consume(router, send, producer, router.rtpCapabilities), 'bad-request', `transport ${send.id} is not a recv transport`);
  peer.close();
});

test('a producer carries its peer id, is listed, and is forgotten when it closes', async () => {
  const { peer, send } = await peerWithTransports('ada');
  const producer = await peer.produce(send, 'audio', opusRtpParameters(), { source: 'mic', peerId: 'forged' });
  assert.deepEqual(producer.appData, { source: 'mic', peerId: 'ada' }, 'the peer id cannot be forged');
  assert.deepEqual(peer.producerInfos(), [{ id: producer.id, kind: 'audio', appData: { source: 'mic', peerId: 'ada' } }]);
  producer.close();
  assert.equal(peer.producers.size, 0);
  assert.deepEqual(peer.producerInfos(), []);
  peer.close();
});

test('a peer holds at most maxProducersPerPeer producers and maxDataProducersPerPeer data producers', async () => {
  const { peer, send } = await peerWithTransports('ada');
  for (let i = 0; i < SIGNALING_LIMITS.maxProducersPerPeer; i += 1) await peer.produce(send, 'audio', opusRtpParameters(), {});
  await rejectsWith(peer.produce(send, 'audio', opusRtpParameters(), {}), 'producer-limit',
    `a peer may hold at most ${SIGNALING_LIMITS.maxProducersPerPeer} producers (VOXFACE_MAX_PRODUCERS_PER_PEER)`);
  for (let i = 0; i < SIGNALING_LIMITS.maxDataProducersPerPeer; i += 1) {
    await peer.produceData(send, { sctpStreamParameters: { streamId: i, ordered: true } });
  }
  await rejectsWith(peer.produceData(send, { sctpStreamParameters: { streamId: 9, ordered: true } }), 'data-producer-limit',
    `a peer may hold at most ${SIGNALING_LIMITS.maxDataProducersPerPeer} data producers (VOXFACE_MAX_DATA_PRODUCERS_PER_PEER)`);
  peer.close();
});

test('a consumer starts paused, and closes with a consumerClosed notification when its producer closes', async () => {
  const alice = await peerWithTransports('alice');
  const bob = await peerWithTransports('bob');
  const producer = await alice.peer.produce(alice.send, 'audio', opusRtpParameters(), { source: 'mic' });
  const consumer = await bob.peer.consume(router, bob.recv, producer, router.rtpCapabilities);
  assert.equal(consumer.paused, true);
  assert.equal(consumer.producerId, producer.id);
  assert.deepEqual(consumer.appData, { source: 'mic', peerId: 'alice' });
  assert.equal(bob.peer.ownConsumer(consumer.id, () => false), consumer);
  const closed = new Promise<void>((resolve) => consumer.observer.once('close', resolve));
  producer.close();
  await closed;
  assert.equal(bob.peer.consumers.size, 0);
  assert.deepEqual(bob.notes.received, [{ method: 'consumerClosed', data: { consumerId: consumer.id, producerId: producer.id } }]);
  alice.peer.close();
  bob.peer.close();
});

test('consuming with capabilities that cannot decode the producer is refused with the reason', async () => {
  const alice = await peerWithTransports('alice');
  const bob = await peerWithTransports('bob');
  const producer = await alice.peer.produce(alice.send, 'audio', opusRtpParameters(), {});
  await rejectsWith(bob.peer.consume(router, bob.recv, producer, DEAF_CAPABILITIES), 'bad-request',
    `these RTP capabilities cannot consume producer ${producer.id}`);
  assert.equal(bob.peer.consumers.size, 0);
  alice.peer.close();
  bob.peer.close();
});

test('an adopted producer is the peer\'s and closes with it', async () => {
  const peer = new Peer('ada', 'Ada', () => undefined);
  // The avatar service's video arrives on a transport the peer does not own.
  const plain = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
  const producer = await plain.produce({ kind: 'audio', rtpParameters: opusRtpParameters() });
  peer.adoptProducer(producer);
  assert.equal(peer.ownProducer(producer.id, () => false), producer);
  peer.close();
  assert.equal(producer.closed, true);
  assert.equal(plain.closed, false, 'the server\'s transport is not the peer\'s to close');
  plain.close();
});

test('close() is idempotent, closes everything the peer owns, and every later call says the peer has left', async () => {
  const alice = await peerWithTransports('alice');
  const { peer, send, recv, notes } = await peerWithTransports('bob');
  const producer = await peer.produce(send, 'audio', opusRtpParameters(), {});
  const dataProducer = await peer.produceData(send, { sctpStreamParameters: { streamId: 0, ordered: true } });
  const theirs = await alice.peer.produce(alice.send, 'audio', opusRtpParameters(), {});
  const consumer = await peer.consume(router, recv, theirs, router.rtpCapabilities);
  peer.close();
  peer.close();
  assert.equal(peer.closed, true);
  for (const object of [send, recv, producer, dataProducer, consumer]) assert.equal(object.closed, true);
  assert.deepEqual([peer.transports.size, peer.producers.size, peer.consumers.size, peer.dataProducers.size], [0, 0, 0, 0]);
  peer.notify('peerLeft', { peerId: 'x' });
  assert.deepEqual(notes.received, [], 'a closed peer hears nothing');
  await rejectsWith(peer.createWebRtcTransport(router, LISTEN, 'send'), 'not-joined', 'peer has left');
  await rejectsWith(peer.produce(send, 'audio', opusRtpParameters(), {}), 'not-joined', 'peer has left');
  await rejectsWith(peer.produceData(send, { sctpStreamParameters: { streamId: 1 } }), 'not-joined', 'peer has left');
  await rejectsWith(peer.consume(router, recv, theirs, router.rtpCapabilities), 'not-joined', 'peer has left');
  throwsWith(() => peer.adoptProducer(theirs), 'not-joined', 'peer has left');
  alice.peer.close();
});
