/**
 * Two SFU nodes in one process (each its own mediasoup worker, RoomManager and
 * SfuCluster) on a real redis-server: remote peers in the join list, room events across
 * nodes, a server-injected video producer (as the avatar's) piped on consume over one
 * reused pipe and unpiped when unused, its close reaching the consumer, and malformed
 * bus messages refused without harm.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { types } from 'mediasoup';
import { VideoInjector } from '../../server/avatar/VideoInjector';
import { SfuCluster } from '../../server/cluster/sfu/SfuCluster';
import { NodeBus, nodeChannel } from '../../server/cluster/sfu/NodeBus';
import { WorkerPool } from '../../server/media/WorkerPool';
import type { Peer } from '../../server/rooms/Peer';
import type { Room } from '../../server/rooms/Room';
import { RoomManager } from '../../server/rooms/RoomManager';
import { pollUntil } from '../helpers/pageProbes';
import { arrivals, delaysSince, directConsumer, directProducer, numberedPacket, packetIndex, sendNumbered } from '../helpers/directRtp';
import { LISTEN, recordingNotify } from '../helpers/mediasoupFixtures';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';

interface TestNode {
  name: string;
  pool: WorkerPool;
  rooms: RoomManager;
  cluster: SfuCluster;
}

process.env.VOXFACE_QUIET ??= '1';

let redis: TestRedis;
const nodes: TestNode[] = [];
const injectors: VideoInjector[] = [];
let raw: Redis;

async function startNode(name: string, rtcMinPort: number): Promise<TestNode> {
  const pool = await WorkerPool.create({ numWorkers: 1, rtcMinPort, rtcMaxPort: rtcMinPort + 99, logLevel: 'error' });
  const rooms = new RoomManager(pool);
  const cluster = new SfuCluster({
    redisUrl: redis.url, nodeName: name, roles: new Set(['sfu']), rooms,
    config: { pipeListenIp: '127.0.0.1', pipeAnnouncedIp: '127.0.0.1', pipeSrtp: name.endsWith('srtp'), nodeTtlMs: 2000 },
  });
  await cluster.start(`http://${name}.test:3000`);
  const node = { name, pool, rooms, cluster };
  nodes.push(node);
  return node;
}

async function inject(room: Room, owner: Peer): Promise<VideoInjector> {
  const injector = await VideoInjector.create({ router: room.router, width: 64, height: 64, fps: 15, appData: { peerId: owner.id, source: 'avatar' } });
  injectors.push(injector);
  // What AvatarSession does with the avatar's video.
  owner.adoptProducer(injector.producer);
  room.announceProducer(owner, injector.producer);
  const frame = new Uint8Array(64 * 64 * 4).fill(128);
  const timer = setInterval(() => { if (!injector.closed) injector.pushFrame(frame); else clearInterval(timer); }, 66);
  timer.unref();
  return injector;
}

/** The producer's stream as the consuming node's router receives it (a simple consumer reports its producer's inbound stats too). */
async function bytesReceivedThroughPipe(consumer: types.Consumer): Promise<number> {
  const stats = (await consumer.getStats()) as { type: string; byteCount?: number }[];
  return stats.find((s) => s.type === 'inbound-rtp')?.byteCount ?? 0;
}

before(async () => {
  redis = await startTestRedis();
  raw = new Redis(redis.url);
});

after(async () => {
  for (const injector of injectors) injector.close();
  for (const node of nodes) {
    node.rooms.close();
    await node.cluster.close();
    node.pool.close();
  }
  raw?.disconnect();
  await redis?.close();
});

for (const srtp of [false, true]) {
  test(`an injected video producer on one node is piped to the other on consume${srtp ? ' (SRTP pipes)' : ''}, over one reused pipe, and unpiped when unused`, async () => {
    const suffix = srtp ? '-srtp' : '';
    const one = await startNode(`one${suffix}`, srtp ? 44200 : 44000);
    const two = await startNode(`two${suffix}`, srtp ? 44300 : 44100);
    const aliceNotes = recordingNotify();
    const bobNotes = recordingNotify();
    const roomId = `span${suffix}`;
    const { room: roomOne, peer: alice } = await one.rooms.join(roomId, 'alice', 'Alice', aliceNotes.notify);
    const { room: roomTwo, peer: bob } = await two.rooms.join(roomId, 'bob', 'Bob', bobNotes.notify);

    assert.deepEqual(await two.cluster.remotePeerInfos(roomTwo, bob), [{ id: 'alice', displayName: 'Alice', producers: [] }], 'bob\'s join lists alice of node one');
    await pollUntil(async () => aliceNotes.received, (list) => list.some((n) => n.method === 'peerJoined'), 5000);
    assert.deepEqual(aliceNotes.received.find((n) => n.method === 'peerJoined')?.data, { peerId: 'bob', displayName: 'Bob' }, 'alice heard bob join on node two');

    const avatar = await inject(roomOne, alice);
    const camera = await inject(roomOne, alice);
    await pollUntil(async () => bobNotes.received.filter((n) => n.method === 'newProducer').length, (count) => count === 2, 5000);
    const announced = bobNotes.received.filter((n) => n.method === 'newProducer').map((n) => (n.data as { producer: { id: string; appData: unknown } }).producer);
    assert.deepEqual(announced.map((p) => p.id), [avatar.producer.id, camera.producer.id], 'node two announced both of alice\'s producers');
    assert.deepEqual(announced[0]!.appData, { peerId: 'alice', source: 'avatar' });

    const transport = await bob.createWebRtcTransport(roomTwo.router, LISTEN, 'recv');
    const caps = roomTwo.router.rtpCapabilities;
    const [first, again] = await Promise.all([
      two.cluster.consumeRemote(roomTwo, bob, transport, avatar.producer.id, caps),
      two.cluster.consumeRemote(roomTwo, bob, transport, avatar.producer.id, caps),
    ]);
    const second = await two.cluster.consumeRemote(roomTwo, bob, transport, camera.producer.id, caps);
    assert.equal(first.producerId, avatar.producer.id, 'the piped producer keeps its id');
    assert.deepEqual(first.appData, { peerId: 'alice', source: 'avatar' }, 'and its appData');
    assert.deepEqual(two.cluster.pipes.stats(), { links: 1, pipedIn: 2, pipedOut: 0 }, 'two producers, piped once each, over one link');
    assert.deepEqual(one.cluster.pipes.stats(), { links: 1, pipedIn: 0, pipedOut: 2 });

    const bytes = await pollUntil(() => bytesReceivedThroughPipe(first), (count) => count > 2000, 10_000);
    assert.ok(bytes > 2000, `the avatar's RTP crossed the pipe into node two's router (${bytes} bytes)`);

    // Unpiped once no consumer holds it, on both nodes.
    first.close();
    assert.equal(two.cluster.pipes.stats().pipedIn, 2, 'still held by its other consumer');
    again.close();
    await pollUntil(async () => one.cluster.pipes.stats().pipedOut, (count) => count === 1, 5000);
    assert.deepEqual(two.cluster.pipes.stats(), { links: 1, pipedIn: 1, pipedOut: 0 });
    assert.deepEqual(one.cluster.pipes.stats(), { links: 1, pipedIn: 0, pipedOut: 1 });

    // The producer closing on its node closes the consumer on the other, which tells its browser.
    camera.close();
    await pollUntil(async () => bobNotes.received, (list) => list.some((n) => n.method === 'consumerClosed'), 5000);
    assert.deepEqual(bobNotes.received.find((n) => n.method === 'consumerClosed')?.data, { consumerId: second.id, producerId: camera.producer.id });
    assert.equal(second.closed, true);
    await pollUntil(async () => one.cluster.pipes.stats().pipedOut + two.cluster.pipes.stats().pipedIn, (count) => count === 0, 5000);

    // Alice leaving: bob hears it, and node one's room closes with its pipe; node two's end follows.
    roomOne.leave(alice);
    one.rooms.closeIfEmpty(roomOne);
    await pollUntil(async () => bobNotes.received, (list) => list.some((n) => n.method === 'peerLeft'), 5000);
    assert.deepEqual(bobNotes.received.find((n) => n.method === 'peerLeft')?.data, { peerId: 'alice' });
    await pollUntil(async () => two.cluster.pipes.stats().links, (count) => count === 0, 5000);
    assert.deepEqual(await two.cluster.remotePeerInfos(roomTwo, bob), []);
  });
}

test('malformed messages on a node\'s channel are refused, answered when the sender waits, and the node keeps working', async () => {
  const node = nodes[0]!;
  const before = node.cluster.bus.rejected;
  const replies: string[] = [];
  const listener = new Redis(redis.url);
  await listener.subscribe(nodeChannel('prober'));
  listener.on('message', (_channel: string, message: string) => replies.push(message));
  await raw.publish(nodeChannel(node.name), 'garbage{');
  await raw.publish(nodeChannel(node.name), 'x'.repeat(70_000));
  await raw.publish(nodeChannel(node.name), JSON.stringify({ type: 'request', id: 'q1', from: 'prober', method: 'openPipe', data: { room: 'span', ip: 'nowhere', port: 1 } }));
  await raw.publish(nodeChannel(node.name), JSON.stringify({ type: 'request', id: 'q2', from: 'prober', method: 'pipeProducer', data: { room: 'no-such-room', producerId: '5b0c1c0e-2f7a-4d0e-9a51-3c1d2b9e7f10' } }));
  await pollUntil(async () => replies.length, (count) => count === 2, 5000);
  listener.disconnect();
  assert.equal(node.cluster.bus.rejected - before, 3, 'three malformed messages refused');
  const answers = replies.map((reply) => JSON.parse(reply) as { id: string; ok: boolean; error: { code: string; message: string } });
  const q1 = answers.find((a) => a.id === 'q1');
  assert.equal(q1?.ok, false);
  assert.equal(q1?.error.code, 'bad-request');
  assert.match(q1?.error.message ?? '', /cluster request openPipe: ip: Invalid ip/);
  const q2 = answers.find((a) => a.id === 'q2');
  assert.equal(q2?.error.code, 'not-found', 'a well-formed request for nothing is answered not-found');
  assert.match(q2?.error.message ?? '', /hosts no room no-such-room/);
  // Still answering: the placement reads the registry through the same connections.
  const placed = await node.cluster.place('anything');
  assert.ok(placed, 'the node still places peers after refusing bad messages');
});

test('both nodes opening the pipe of a room at once end up on one link, and media flows both ways over it', async () => {
  const [one, two] = nodes as [TestNode, TestNode];
  const { room: roomOne, peer: alice } = await one.rooms.join('both-ways', 'alice', 'Alice', recordingNotify().notify);
  const { room: roomTwo, peer: bob } = await two.rooms.join('both-ways', 'bob', 'Bob', recordingNotify().notify);
  const fromAlice = await directProducer(roomOne, alice);
  const fromBob = await directProducer(roomTwo, bob);
  const linksBefore = one.cluster.pipes.stats().links + two.cluster.pipes.stats().links;
  const conflictsBefore = one.cluster.pipes.openConflicts + two.cluster.pipes.openConflicts;
  const [atBob, atAlice] = await Promise.all([
    two.cluster.pipes.consumeRemote(roomTwo, fromAlice.id, one.name, (producer) => directConsumer(roomTwo, producer.id)),
    one.cluster.pipes.consumeRemote(roomOne, fromBob.id, two.name, (producer) => directConsumer(roomOne, producer.id)),
  ]);
  assert.equal(one.cluster.pipes.stats().links + two.cluster.pipes.stats().links - linksBefore, 2, 'one link, one end on each node');
  assert.equal(one.cluster.pipes.openConflicts + two.cluster.pipes.openConflicts - conflictsBefore, 1, 'the two opens met, and one gave way');
  const seenAtBob = arrivals(atBob);
  const seenAtAlice = arrivals(atAlice);
  for (let i = 0; i < 20; i += 1) {
    fromAlice.send(numberedPacket(fromAlice, i));
    fromBob.send(numberedPacket(fromBob, i));
    await new Promise((done) => setTimeout(done, 5));
  }
  await pollUntil(async () => Math.min(seenAtBob.size, seenAtAlice.size), (count) => count >= 18, 5000);
  assert.ok(seenAtBob.size >= 18 && seenAtAlice.size >= 18, `packets crossed both ways (${seenAtBob.size} to bob, ${seenAtAlice.size} to alice of 20)`);
});

test('a piped stream arrives complete and in order, and the latency the pipe adds is measured', async (t) => {
  const [one, two] = nodes as [TestNode, TestNode];
  const { room: roomOne, peer: alice } = await one.rooms.join('latency', 'alice', 'Alice', recordingNotify().notify);
  const { room: roomTwo } = await two.rooms.join('latency', 'bob', 'Bob', recordingNotify().notify);
  const producer = await directProducer(roomOne, alice);
  const other = await directProducer(roomOne, alice);
  let started = performance.now();
  const local = await directConsumer(roomOne, producer.id);
  const localMs = performance.now() - started;
  started = performance.now();
  const remote = await two.cluster.pipes.consumeRemote(roomTwo, producer.id, one.name, (piped) => directConsumer(roomTwo, piped.id));
  const firstRemoteMs = performance.now() - started;
  started = performance.now();
  await two.cluster.pipes.consumeRemote(roomTwo, other.id, one.name, (piped) => directConsumer(roomTwo, piped.id));
  const reusedRemoteMs = performance.now() - started;
  t.diagnostic(`consume: on the producer's node ${localMs.toFixed(1)} ms; through a new pipe ${firstRemoteMs.toFixed(1)} ms (link opened); over the open pipe ${reusedRemoteMs.toFixed(1)} ms`);
  const seenLocal = arrivals(local);
  const seenRemote = arrivals(remote);
  const order: number[] = [];
  remote.on('rtp', (rtp: Buffer) => order.push(packetIndex(rtp)));
  const count = 150;
  const sentAt = await sendNumbered(producer, count, 20);
  await pollUntil(async () => seenRemote.size, (size) => size >= count, 3000);
  const delays = (seen: Map<number, number>) => delaysSince(sentAt, seen).sort((a, b) => a - b);
  const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const localDelays = delays(seenLocal);
  const remoteDelays = delays(seenRemote);
  t.diagnostic(`one router: p50 ${quantile(localDelays, 0.5).toFixed(2)} ms, p95 ${quantile(localDelays, 0.95).toFixed(2)} ms; through the pipe to the other node: p50 ${quantile(remoteDelays, 0.5).toFixed(2)} ms, p95 ${quantile(remoteDelays, 0.95).toFixed(2)} ms; added p50 ${(quantile(remoteDelays, 0.5) - quantile(localDelays, 0.5)).toFixed(2)} ms (${count} packets, loopback)`);
  assert.equal(seenRemote.size, count, `every packet crossed the pipe (${seenRemote.size} of ${count})`);
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'in order');
  // Loopback UDP between two worker processes: well under a millisecond on an idle machine; 50 ms bounds a loaded CI one.
  assert.ok(quantile(remoteDelays, 0.5) - quantile(localDelays, 0.5) < 50, 'the pipe adds little latency');
});

test('nodes whose heartbeats lapsed past their TTL (a stall) re-announce their peers, and the call resumes through a new pipe', async () => {
  const [one, two] = nodes as [TestNode, TestNode];
  const aliceNotes = recordingNotify();
  const bobNotes = recordingNotify();
  const { room: roomOne, peer: alice } = await one.rooms.join('stall', 'alice', 'Alice', aliceNotes.notify);
  const { room: roomTwo } = await two.rooms.join('stall', 'bob', 'Bob', bobNotes.notify);
  const producer = await directProducer(roomOne, alice);
  await pollUntil(async () => bobNotes.methods(), (methods) => methods.includes('newProducer'), 5000);
  const before = await two.cluster.pipes.consumeRemote(roomTwo, producer.id, one.name, (piped) => directConsumer(roomTwo, piped.id));
  const lapses: number[] = [];
  one.cluster.registry.on('lapsed', (gap) => lapses.push(gap));
  const seenBefore = bobNotes.received.length;

  // The whole process stalls for longer than the TTL (2 s): both nodes' keys expire.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);

  const after = () => bobNotes.received.slice(seenBefore);
  await pollUntil(async () => after(), (list) => list.some((n) => n.method === 'newProducer'), 10_000);
  // Node one notices its lapse at its first heartbeat after the stall; bob may hear alice
  // again first (node two sees node one's key come back), and the stall's timers fire in
  // any order: under a loaded CI machine the lapse came later than bob's newProducer.
  await pollUntil(async () => lapses.length, (n) => n >= 1, 5000);
  assert.ok(lapses.length >= 1 && lapses[0]! > 2000, `node one saw its heartbeat lapse (${lapses.join(', ')} ms)`);
  const methods = after().map((n) => `${n.method}:${JSON.stringify(n.data).slice(0, 40)}`);
  const left = after().findIndex((n) => n.method === 'peerLeft' && (n.data as { peerId: string }).peerId === 'alice');
  const joined = after().findIndex((n) => n.method === 'peerJoined' && (n.data as { peerId: string }).peerId === 'alice');
  const produced = after().findIndex((n) => n.method === 'newProducer' && (n.data as { producer: { id: string } }).producer.id === producer.id);
  assert.ok(left >= 0 && joined > left && produced > joined, `bob saw alice leave, come back and publish again, in that order: ${methods.join(', ')}`);
  await pollUntil(async () => before.closed, (closed) => closed, 5000);
  assert.equal(before.closed, true, 'the consumer over the stale pipe closed');

  const again = await two.cluster.pipes.consumeRemote(roomTwo, producer.id, one.name, (piped) => directConsumer(roomTwo, piped.id));
  const seen = arrivals(again);
  for (let i = 0; i < 10; i += 1) {
    producer.send(numberedPacket(producer, 1000 + i));
    await new Promise((done) => setTimeout(done, 10));
  }
  await pollUntil(async () => seen.size, (size) => size >= 9, 5000);
  assert.ok(seen.size >= 9, `media flows through the new pipe (${seen.size} of 10 packets)`);
  assert.ok(aliceNotes.methods().includes('peerJoined'), 'alice heard bob (again)');
});

test('a request that cannot be sent (Redis gone) fails at once, and nothing rejects unheard later', async () => {
  const publisher = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  publisher.on('error', () => undefined);
  const subscriber = new Redis(redis.url);
  const bus = new NodeBus('cut-off', publisher, subscriber, { request: async () => ({}), notice: () => undefined, roomEvent: () => undefined }, 100);
  await bus.start();
  publisher.disconnect();
  await assert.rejects(bus.request('nobody', 'pipeProducer', { room: 'R', producerId: '5b0c1c0e-2f7a-4d0e-9a51-3c1d2b9e7f10' }), {
    name: 'ClusterRequestError', message: /pipeProducer to node nobody was not sent/,
  });
  // Past the request timeout: an unhandled rejection here would fail the test run.
  await new Promise((done) => setTimeout(done, 300));
  bus.close();
  subscriber.disconnect();
});
