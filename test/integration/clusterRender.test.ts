/**
 * Render nodes without a browser (issue 15): a real redis-server, an SFU node and a render
 * node in this process (each its own mediasoup worker, bus and registry), a peer over real
 * signaling whose coefficients come from a DirectTransport data producer. The avatar is
 * placed on the render node, its coefficients piped there over SCTP, its video piped back
 * as the peer's avatar producer; stopping it ends it there; a render node that cannot load
 * the avatar fails the session and the SFU node renders it itself; notices about a
 * session from a node that does not host it change nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import { loadConfig } from '../../server/config';
import { startRenderNode, type StartedRenderNode } from '../../server/cluster/render/renderNodeMain';
import { nodeChannel } from '../../server/cluster/sfu/NodeBus';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { feedCoefficients, joinOverSignaling, waitUntil, type SignalingPeer } from '../helpers/avatarPeers';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let redis: TestRedis;
let sfu: VoxfaceServer;
let render: StartedRenderNode;
const dirs: string[] = [];

before(async () => {
  redis = await startTestRedis();
  const sfuDir = mkdtempSync(join(tmpdir(), 'voxface-render-sfu-'));
  const renderDir = mkdtempSync(join(tmpdir(), 'voxface-render-node-'));
  dirs.push(sfuDir, renderDir);
  // 'synthetic' in both folders (a shared store), 'onlyhere' only in the SFU node's: the render node cannot load it.
  for (const [dir, id] of [[sfuDir, 'synthetic'], [renderDir, 'synthetic'], [sfuDir, 'onlyhere']] as const) {
    copyFileSync(syntheticAvatarFile(), new AvatarStore(dir).pathOf(id));
  }
  const env = { ...process.env, VOXFACE_QUIET: '1' };
  render = await startRenderNode(loadConfig(env, {
    host: '127.0.0.1', port: 0, numWorkers: 1, rtcMinPort: 45000, rtcMaxPort: 45199, avatarDir: renderDir, avatarFps: 25,
    cluster: { roles: new Set(['render']), redisUrl: redis.url, nodeName: 'render-it' },
  }));
  sfu = await startTestServer({
    avatarDir: sfuDir, rtcMinPort: 45200, rtcMaxPort: 45399, avatarFps: 25,
    cluster: { roles: new Set(['sfu', 'render']), redisUrl: redis.url, nodeName: 'sfu-it' },
  });
  await waitUntil(() => sfu.sfuCluster!.registry.alive().some((node) => node.name === 'render-it'), Boolean, 10_000, 'the SFU node sees the render node');
});

after(async () => {
  await sfu?.close();
  await render?.close();
  await redis?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function avatarPeer(room: string, name: string): Promise<{ peer: SignalingPeer; stop: () => void }> {
  const peer = await joinOverSignaling(sfu, room, name);
  const stop = await feedCoefficients(sfu, room, name);
  return { peer, stop };
}

test('an avatar placed on a render node comes back as its peer\'s avatar producer, fed by coefficients piped there, and stopping it ends it there', async () => {
  const { peer: ada, stop } = await avatarPeer('placed', 'ada');
  const bob = await joinOverSignaling(sfu, 'placed', 'bob');
  try {
    assert.equal((await ada.request('enableAvatar', { avatarId: 'synthetic' })).ok, true);
    const hosted = await waitUntil(() => sfu.renderPlacement!.sessionOf('placed', 'ada'), (s) => s?.producer !== undefined, 20_000, 'the render node\'s video on the SFU node');
    const producer = hosted!.producer!;
    assert.deepEqual(producer.appData, { peerId: 'ada', source: 'avatar' }, 'the SFU node says whose video it is');
    assert.equal(sfu.rooms.get('placed')!.peers.get('ada')!.producers.get(producer.id), producer, 'ada owns it, as a local avatar');
    assert.deepEqual(sfu.avatars.sessions().filter((s) => s.peer.id === 'ada'), [], 'nothing renders it on the SFU node');
    const announced = await bob.next('newProducer');
    assert.deepEqual(announced, { peerId: 'ada', producer: { id: producer.id, kind: 'video', appData: { peerId: 'ada', source: 'avatar' } } });

    const bytes = async () => (await producer.getStats()).reduce((sum, s) => sum + s.byteCount, 0);
    const first = await bytes();
    await new Promise((done) => setTimeout(done, 1500));
    assert.ok(await bytes() > first, 'the avatar\'s RTP keeps arriving through the pipe');
    const session = render.node.health().sessions.find((s) => s.peer === 'ada');
    assert.ok(session && session.sfuNode === 'sfu-it' && session.avatarId === 'synthetic' && session.framesRendered > 0, `the render node renders it: ${JSON.stringify(session)}`);
    assert.ok(session.coefficientDelayMsP50 !== null, 'ada\'s coefficients reach the render node through the pipe');
    assert.deepEqual(sfu.renderPlacement!.health(), { hosted: 1, byNode: { 'render-it': 1 }, lost: 0 });

    assert.equal((await ada.request('disableAvatar')).ok, true);
    await waitUntil(() => render.node.health().sessions.length, (n) => n === 0, 5000, 'the render node ends the session');
    assert.equal(producer.closed, true, 'the piped producer closed with it');
    assert.deepEqual(sfu.renderPlacement!.health(), { hosted: 0, byNode: {}, lost: 0 });
  } finally {
    stop();
    ada.close();
    bob.close();
  }
});

test('notices about a session from a node that does not host it, or malformed ones, change nothing', async () => {
  const { peer: ada, stop } = await avatarPeer('forged', 'ada');
  const publisher = new Redis(redis.url);
  try {
    assert.equal((await ada.request('enableAvatar', { avatarId: 'synthetic' })).ok, true);
    const hosted = await waitUntil(() => sfu.renderPlacement!.sessionOf('forged', 'ada'), (s) => s?.producer !== undefined, 20_000, 'the hosted avatar');
    const rejectedBefore = sfu.sfuCluster!.bus.rejected;
    // Another node claims the session ended, and one sends a producer for it with bogus RTP parameters.
    await publisher.publish(nodeChannel('sfu-it'), JSON.stringify({ type: 'notice', from: 'intruder', method: 'hostedAvatarEnded', data: { session: hosted!.id, reason: 'x', message: 'y' } }));
    await publisher.publish(nodeChannel('sfu-it'), JSON.stringify({ type: 'notice', from: 'render-it', method: 'hostedAvatarProducer', data: { session: hosted!.id, producerId: hosted!.id, rtpParameters: { codecs: [], encodings: [] }, paused: false } }));
    await waitUntil(() => sfu.sfuCluster!.bus.rejected, (n) => n === rejectedBefore + 1, 3000, 'the malformed notice refused');
    await new Promise((done) => setTimeout(done, 500));
    assert.equal(hosted!.closed, false, 'the session goes on');
    assert.equal(hosted!.producers, 1, 'no producer taken from the malformed notice');
    assert.deepEqual(sfu.renderPlacement!.health().lost, 0);
  } finally {
    publisher.disconnect();
    await ada.request('disableAvatar');
    stop();
    ada.close();
  }
});

test('a render node that cannot load the avatar ends the session, and the SFU node renders it itself', async () => {
  const { peer: ada, stop } = await avatarPeer('fallback', 'ada');
  try {
    assert.equal((await ada.request('enableAvatar', { avatarId: 'onlyhere' })).ok, true);
    const local = await waitUntil(() => sfu.avatars.sessions().find((s) => s.peer.id === 'ada' && s.room.id === 'fallback'), (s) => s !== undefined, 20_000, 'the SFU node\'s own session');
    assert.deepEqual(local!.producer.appData, { peerId: 'ada', source: 'avatar' });
    assert.equal(sfu.renderPlacement!.sessionOf('fallback', 'ada'), undefined);
    assert.equal(sfu.renderPlacement!.health().lost, 1, 'the render node\'s failure counts as a lost session');
    assert.deepEqual(render.node.health().sessions.filter((s) => s.room === 'fallback'), []);
  } finally {
    await ada.request('disableAvatar');
    stop();
    ada.close();
  }
});
