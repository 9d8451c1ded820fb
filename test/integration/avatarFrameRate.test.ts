/**
 * The driving peer is told its avatar's render rate (avatarFrameRate), so its browser
 * tracks the camera that often and no more: when the session starts, when the scheduler
 * lowers the rate under load, and again when its stream reopens. A real server, a real
 * render process per session, real signaling.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { feedCoefficients, joinOverSignaling, renderProcessPids, waitUntil, type SignalingPeer } from '../helpers/avatarPeers';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

const FPS = 20;
let server: VoxfaceServer;

function ratesTold(peer: SignalingPeer): number[] {
  return peer.notifications.filter((n) => n.method === 'avatarFrameRate').map((n) => n.data.fps as number);
}

after(async () => { await server?.close(); });

test('a starting session tells its peer the configured rate, and a reopened stream is told it again', async () => {
  server = await startTestServer({ avatarWidth: 96, avatarHeight: 96, avatarFps: FPS });
  copyFileSync(syntheticAvatarFile(), server.avatarStore.pathOf('synthetic'));
  const peer = await joinOverSignaling(server, 'rate-told', 'teller');
  let stop = await feedCoefficients(server, peer.roomId, peer.peerId);
  try {
    assert.deepEqual(await peer.request('enableAvatar', { avatarId: 'synthetic' }), { ok: true, data: {} });
    assert.deepEqual(await peer.next('avatarFrameRate'), { avatarId: 'synthetic', fps: FPS });
    // One render process on 2 cores is far below 0.6 a core at 96 px: nothing more to say.
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(ratesTold(peer), [FPS]);

    stop();
    await waitUntil(() => server.avatars.sessions().some((s) => s.peer.id === peer.peerId), (running) => !running, 10_000, 'the session ends with its stream');
    stop = await feedCoefficients(server, peer.roomId, peer.peerId);
    await waitUntil(() => ratesTold(peer), (rates) => rates.length === 2, 10_000, 'the rate told again for the new session');
    assert.deepEqual(ratesTold(peer), [FPS, FPS]);
  } finally {
    stop();
    peer.close();
    await server.close();
  }
  await waitUntil(() => renderProcessPids().length, (n) => n === 0, 5000, 'render processes after the server closed');
});

test('over its render budget the scheduler lowers the rate, and the peer is told each new rate', async () => {
  // A budget of 0.01 of a core: any real render exceeds it, so the rate falls to the 5 fps floor.
  server = await startTestServer({ avatarWidth: 96, avatarHeight: 96, avatarFps: FPS, avatarRenderCores: 0.01 });
  copyFileSync(syntheticAvatarFile(), server.avatarStore.pathOf('synthetic'));
  const peer = await joinOverSignaling(server, 'rate-lowered', 'lowered');
  const stop = await feedCoefficients(server, peer.roomId, peer.peerId);
  try {
    assert.deepEqual(await peer.request('enableAvatar', { avatarId: 'synthetic' }), { ok: true, data: {} });
    const rates = await waitUntil(() => ratesTold(peer), (told) => told.at(-1) === 5, 15_000, () => `the rate lowered to 5 fps (told ${JSON.stringify(ratesTold(peer))})`);
    assert.equal(rates[0], FPS, 'first the configured rate');
    for (let i = 1; i < rates.length; i++) assert.ok(rates[i]! < rates[i - 1]!, `each told rate is a change: ${JSON.stringify(rates)}`);
    const session = server.avatars.sessions().find((s) => s.peer.id === peer.peerId)!;
    assert.equal(session.stats().targetFps, 5, 'the rate told is the session\'s');
  } finally {
    stop();
    peer.close();
  }
});
