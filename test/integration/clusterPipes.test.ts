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
import { nodeChannel } from '../../server/cluster/sfu/NodeBus';
import { WorkerPool } from '../../server/media/WorkerPool';
import type { Peer } from '../../server/rooms/Peer';
import type { Room } from '../../server/rooms/Room';
import { RoomManager } from '../../server/rooms/RoomManager';
import { pollUntil } from '../helpers/pageProbes';
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
    config: { pipeListenIp: '127.0.0.1', pipeAnnouncedIp: '127.0.0.1', pipeSrtp: name.endsWith('srtp'), nodeTtlMs: 1500 },
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
