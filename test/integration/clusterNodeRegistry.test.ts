/**
 * The SFU node registry and room directory on a real redis-server: heartbeats with
 * expiry, a silent node reported down, placement, and a dead node's entries forgotten.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { NodeRegistry, NODES_KEY, nodeKey, type NodeRecord } from '../../server/cluster/sfu/NodeRegistry';
import { RoomDirectory } from '../../server/cluster/sfu/RoomDirectory';
import { placeNode } from '../../server/cluster/sfu/placement';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';
import { startTestServer } from '../helpers/testServer';

let redis: TestRedis;
const connections: Redis[] = [];
const registries: NodeRegistry[] = [];

function connection(): Redis {
  const made = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  made.on('error', () => undefined);
  connections.push(made);
  return made;
}

function registry(name: string, ttlMs: number, load = { peers: 0, rooms: 0 }, redisConnection = connection()): NodeRegistry {
  const made = new NodeRegistry({
    redis: redisConnection, ttlMs,
    self: () => ({ name, roles: ['sfu'], signalingUrl: `http://${name}.example:3000`, pipeAddress: '10.0.0.1', load }),
  });
  registries.push(made);
  return made;
}

before(async () => {
  redis = await startTestRedis();
});

after(async () => {
  for (const made of registries) await made.close().catch(() => undefined);
  for (const made of connections) made.disconnect();
  await redis?.close();
});

test('every node lists the live nodes with their roles, signaling URL, pipe address and load', async () => {
  const a = registry('list-a', 3000, { peers: 2, rooms: 1 });
  const b = registry('list-b', 3000, { peers: 5, rooms: 2 });
  await a.start();
  await b.start();
  const nodes = (await a.liveNodes()).filter((node) => node.name.startsWith('list-')).sort((x, y) => x.name.localeCompare(y.name));
  assert.deepEqual(nodes.map(({ heartbeatAt: _, ...rest }) => rest), [
    { name: 'list-a', roles: ['sfu'], signalingUrl: 'http://list-a.example:3000', pipeAddress: '10.0.0.1', load: { peers: 2, rooms: 1 } },
    { name: 'list-b', roles: ['sfu'], signalingUrl: 'http://list-b.example:3000', pipeAddress: '10.0.0.1', load: { peers: 5, rooms: 2 } },
  ]);
  const ttl = await connection().pttl(nodeKey('list-a'));
  assert.ok(ttl > 0 && ttl <= 3000, `a node's key expires (pttl ${ttl} ms)`);
  await a.close();
  await b.close();
  assert.equal(await connection().exists(nodeKey('list-a')), 0, 'a node that closes removes its key');
});

test('a node that stops heartbeating expires, and the others report it down once within its TTL and a heartbeat', async () => {
  const ttlMs = 900;
  const watcher = registry('watch-a', ttlMs);
  const dyingConnection = connection();
  const dying = registry('watch-b', ttlMs, undefined, dyingConnection);
  await dying.start();
  await watcher.start();
  assert.equal(watcher.isAlive('watch-b'), true, 'the watcher sees the other node alive');
  const downs: { name: string; at: number }[] = [];
  watcher.on('nodeDown', (name) => downs.push({ name, at: Date.now() }));
  // As a killed process would: its heartbeats stop, its key is left to expire.
  dyingConnection.disconnect();
  const stoppedAt = Date.now();
  const deadline = stoppedAt + 5000;
  while (downs.length === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
  assert.deepEqual(downs.map((d) => d.name), ['watch-b'], 'the silent node was reported down');
  const after = downs[0]!.at - stoppedAt;
  // Its last key was written at most a heartbeat before; the watcher looks every heartbeat (300 ms here); 1 s of slack for a loaded machine.
  assert.ok(after <= ttlMs + watcher.heartbeatMs + 1000, `reported ${after} ms after its last heartbeat stopped (TTL ${ttlMs} ms)`);
  assert.equal(watcher.isAlive('watch-b'), false);
  assert.equal(await connection().sismember(NODES_KEY, 'watch-b'), 0, 'the expired node left the node set');
  await new Promise((done) => setTimeout(done, 3 * watcher.heartbeatMs));
  assert.equal(downs.length, 1, 'reported once, not at every heartbeat');
});

test('a malformed node record in Redis is skipped, not thrown', async () => {
  const reader = registry('reader', 3000);
  const raw = connection();
  await raw.multi().set(nodeKey('bogus'), '{"name":"bogus","roles":["sfu"]}', 'PX', 5000).sadd(NODES_KEY, 'bogus').exec();
  await raw.multi().set(nodeKey('garbage'), 'not json', 'PX', 5000).sadd(NODES_KEY, 'garbage').exec();
  await reader.start();
  const names = (await reader.liveNodes()).map((node) => node.name);
  assert.ok(names.includes('reader'));
  assert.ok(!names.includes('bogus') && !names.includes('garbage'), `malformed records are not listed: ${names.join(', ')}`);
});

test('placement picks the least-loaded node already hosting the room, else the least-loaded SFU node', () => {
  const node = (name: string, peers: number, roles: NodeRecord['roles'] = ['sfu']): NodeRecord => ({
    name, roles, signalingUrl: `http://${name}:3000`, pipeAddress: '10.0.0.1', load: { peers, rooms: 1 }, heartbeatAt: 0,
  });
  const nodes = [node('busy-host', 9), node('quiet-host', 4), node('idle', 0), node('renderer', 0, ['render'])];
  assert.equal(placeNode(nodes, new Set(['busy-host', 'quiet-host']))?.name, 'quiet-host');
  assert.equal(placeNode(nodes, new Set())?.name, 'idle');
  assert.equal(placeNode(nodes, new Set(['gone-node']))?.name, 'idle', 'a hosting node that is not alive does not count');
  assert.equal(placeNode([node('renderer', 0, ['render'])], new Set()), undefined, 'no SFU node, no placement');
});

test('the room directory lists each node\'s peers, and a dead node is forgotten from every room it hosted', async () => {
  const one = new RoomDirectory(connection(), 'dir-1');
  const two = new RoomDirectory(connection(), 'dir-2');
  const producer = { id: '5b0c1c0e-2f7a-4d0e-9a51-3c1d2b9e7f10', kind: 'video' as const, appData: { source: 'avatar' } };
  await one.addRoom('shared');
  await one.addRoom('only-one');
  await two.addRoom('shared');
  await one.putPeer('shared', { id: 'alice', displayName: 'Alice', producers: [producer] });
  await one.putPeer('only-one', { id: 'dora', displayName: 'Dora', producers: [] });
  await two.putPeer('shared', { id: 'bob', displayName: 'Bob', producers: [] });
  assert.deepEqual((await two.peers('shared')).sort((a, b) => a.peer.id.localeCompare(b.peer.id)), [
    { node: 'dir-1', peer: { id: 'alice', displayName: 'Alice', producers: [producer] } },
    { node: 'dir-2', peer: { id: 'bob', displayName: 'Bob', producers: [] } },
  ]);
  assert.deepEqual((await two.roomNodes('shared')).sort(), ['dir-1', 'dir-2']);
  // Node 2 removing a peer id node 1 holds leaves node 1's entry alone.
  await two.removePeer('shared', 'alice');
  assert.equal((await two.peers('shared')).length, 2);

  await two.forgetNode('dir-1');
  assert.deepEqual((await two.peers('shared')).map((entry) => entry.peer.id), ['bob']);
  assert.deepEqual(await two.roomNodes('shared'), ['dir-2']);
  assert.deepEqual(await two.peers('only-one'), []);
  assert.deepEqual(await two.roomNodes('only-one'), []);
});

test('a node whose key is back (it had only stalled) is not forgotten', async () => {
  const raw = connection();
  const stalled = new RoomDirectory(raw, 'dir-3');
  const other = new RoomDirectory(connection(), 'dir-4');
  await stalled.addRoom('stall-room');
  await stalled.putPeer('stall-room', { id: 'erin', displayName: 'Erin', producers: [] });
  await raw.set(nodeKey('dir-3'), '{}', 'PX', 5000);
  assert.equal(await other.forgetNode('dir-3'), false, 'its key is alive again: nothing forgotten');
  assert.deepEqual((await other.peers('stall-room')).map((entry) => entry.peer.id), ['erin']);
  await raw.del(nodeKey('dir-3'));
  assert.equal(await other.forgetNode('dir-3'), true);
  assert.deepEqual(await other.peers('stall-room'), []);
});

test('an SFU node that cannot reach Redis fails to start, naming the URL without its password', async () => {
  // A port nothing listens on: the test Redis's, once that server is gone, would do; this one never had one.
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  await assert.rejects(
    startTestServer({ cluster: { roles: new Set(['sfu']), redisUrl: `redis://:hunter2@127.0.0.1:${closedPort}`, nodeName: 'unreachable' } }),
    (error: Error) => {
      assert.match(error.message, new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}`));
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});
