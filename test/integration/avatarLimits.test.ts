/**
 * Bounded avatars against a real server (real render processes on the synthetic test
 * avatar, real ffmpeg encoders, a real worker, peers over real signaling): asking for
 * an avatar again and again runs one render process and adds one listener, and the
 * caps on sessions (server and per peer), render processes and encoders refuse with
 * their own error codes and show on /metrics.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { feedCoefficients, joinOverSignaling, renderProcessPids, waitUntil, type SignalingPeer } from '../helpers/avatarPeers';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
const LIMITS = { maxSessions: 3, maxSessionsPerPeer: 1, maxRenderProcesses: 3, maxEncoders: 1 };

before(async () => {
  const avatarFile = syntheticAvatarFile();
  server = await startTestServer({ avatarWidth: 64, avatarHeight: 64, avatarFps: 25, requestsPerSecond: 100, requestBurst: 100, avatarLimits: LIMITS });
  for (const id of ['synthetic', 'other']) copyFileSync(avatarFile, server.avatarStore.pathOf(id));
});
after(async () => { await server?.close(); });

function errorCode(reply: { ok: boolean; error?: { code: string; message: string } }): string {
  return reply.ok ? 'ok' : `${reply.error!.code}: ${reply.error!.message}`;
}

test('enableAvatar 20 times runs one render process and adds one listener, in a burst or one after another', async () => {
  const peer = await joinOverSignaling(server, 'loop', 'looper');
  const stop = await feedCoefficients(server, peer.roomId, peer.peerId);
  const room = server.rooms.rooms.get(peer.roomId)!;
  const listenersBefore = room.listenerCount('peerLeft');
  try {
    const burst = await Promise.all(Array.from({ length: 20 }, () => peer.request('enableAvatar', { avatarId: 'synthetic' })));
    assert.deepEqual(burst.map(errorCode), Array(20).fill('ok'));
    for (let i = 0; i < 20; i++) assert.equal(errorCode(await peer.request('enableAvatar', { avatarId: 'synthetic' })), 'ok');
    assert.equal(renderProcessPids().length, 1, 'one render process');
    assert.equal(room.listenerCount('peerLeft'), listenersBefore + 1, 'one peer-left listener');
    assert.equal(server.avatars.sessions().length, 1);
    const session = server.avatars.sessions()[0]!;
    await waitUntil(() => session.stats().framesRendered, (n) => n >= 5, 10_000, 'the avatar renders');
    assert.equal(session.closed, false, 'asking again leaves the running session alone');

    // Switching back and forth, 20 calls in flight at once (the service's callers; one signaling
    // connection's requests run one at a time): the last wins, the others' loads are ended.
    const serverPeer = room.peers.get(peer.peerId)!;
    await Promise.all(Array.from({ length: 20 }, (_, i) => server.avatars.enable(room, serverPeer, i % 2 ? 'synthetic' : 'other')));
    await waitUntil(() => renderProcessPids().length, (n) => n === 1, 5000, 'render processes after the switches');
    assert.equal(server.avatars.usage().renderProcesses, 1);
    assert.equal(room.listenerCount('peerLeft'), listenersBefore + 1, 'still one peer-left listener');
    assert.equal(server.avatars.sessions().length, 1);
    assert.equal(session.closed, false, 'the last request was the avatar already running');
  } finally {
    stop();
    peer.close();
  }
  await waitUntil(() => renderProcessPids().length, (n) => n === 0, 5000, 'render processes after the peer left');
  assert.equal(room.closed || room.listenerCount('peerLeft') === listenersBefore, true, 'the listener went with the avatar');
});

test('each avatar cap refuses with its own error code, and /metrics shows usage and limits', async () => {
  const peers: SignalingPeer[] = [];
  const stops: (() => void)[] = [];
  try {
    const join = async (room: string, id: string) => {
      const peer = await joinOverSignaling(server, room, id);
      peers.push(peer);
      return peer;
    };
    const ada = await join('caps', 'ada');
    stops.push(await feedCoefficients(server, 'caps', 'ada'));
    assert.equal(errorCode(await ada.request('enableAvatar', { avatarId: 'synthetic' })), 'ok');
    assert.equal(server.avatars.sessions().length, 1, 'ada renders (one encoder: the cap)');

    // The same peer id in a second room: over the per-peer cap of 1.
    const adaElsewhere = await join('caps-2', 'ada');
    assert.match(errorCode(await adaElsewhere.request('enableAvatar', { avatarId: 'synthetic' })), /^avatar-peer-limit: /);

    // Bob's stream is open, so his avatar starts at once: a second encoder is over the cap.
    const bob = await join('caps', 'bob');
    stops.push(await feedCoefficients(server, 'caps', 'bob'));
    assert.match(errorCode(await bob.request('enableAvatar', { avatarId: 'synthetic' })), /^encoder-limit: /);
    await waitUntil(() => renderProcessPids().length, (n) => n === 1, 5000, 'bob\'s render process ended with his refused start');

    // Without streams, Cid and Dan wait for theirs (no encoder yet): three sessions, the cap.
    const cid = await join('caps', 'cid');
    assert.equal(errorCode(await cid.request('enableAvatar', { avatarId: 'synthetic' })), 'ok');
    const dan = await join('caps', 'dan');
    assert.equal(errorCode(await dan.request('enableAvatar', { avatarId: 'synthetic' })), 'ok');
    const eve = await join('caps', 'eve');
    assert.match(errorCode(await eve.request('enableAvatar', { avatarId: 'synthetic' })), /^avatar-session-limit: /);

    // Three render processes run (the cap): switching Ada to another avatar needs a fourth.
    assert.equal(renderProcessPids().length, 3);
    assert.match(errorCode(await ada.request('enableAvatar', { avatarId: 'other' })), /^render-process-limit: /);
    assert.equal(server.avatars.sessions().length, 1, 'Ada\'s avatar renders on');

    const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
    for (const [name, value] of [
      ['voxface_avatar_sessions', 3], ['voxface_avatar_sessions_limit', 3], ['voxface_avatar_sessions_per_peer_limit', 1],
      ['voxface_render_processes', 3], ['voxface_render_processes_limit', 3], ['voxface_avatar_encoders', 1], ['voxface_avatar_encoders_limit', 1],
    ] as const) {
      assert.match(metrics, new RegExp(`^${name} ${value}$`, 'm'), `${name} ${value} on /metrics`);
    }
    assert.match(metrics, /voxface_signaling_requests_total\{method="enableAvatar",result="encoder-limit"\} 1/);

    // Freed slots are usable again: Dan leaves, Eve gets hers.
    dan.close();
    await waitUntil(() => server.avatars.usage().sessions, (n) => n === 2, 5000, 'sessions after Dan left');
    assert.equal(errorCode(await eve.request('enableAvatar', { avatarId: 'synthetic' })), 'ok');
  } finally {
    for (const stop of stops) stop();
    for (const peer of peers) peer.close();
  }
  await waitUntil(() => renderProcessPids().length, (n) => n === 0, 5000, 'render processes after everyone left');
  await waitUntil(() => server.avatars.usage(), (u) => u.sessions === 0 && u.renderProcesses === 0 && u.encoders === 0, 5000, 'usage after everyone left');
});
