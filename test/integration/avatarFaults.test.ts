/**
 * Avatar faults against a real server: real render processes rendering the synthetic
 * test avatar, real ffmpeg encoders, a real mediasoup worker, peers over real
 * signaling. A render process that dies (killed with SIGSEGV, as a native fault in
 * the kernels would, or SIGKILL) ends only its peer's avatar, with a reason the peer
 * is told, while another call's media keeps flowing; and when a peer switches
 * avatars while one is still loading or starting, the last request wins.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import type { FrameRenderer } from '../../server/avatar/FrameRendererTypes';
import { ProcessFrameRenderer } from '../../server/avatar/ProcessFrameRenderer';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { countRtp, feedCoefficients, joinOverSignaling, renderProcessPids, waitUntil } from '../helpers/avatarPeers';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
/** Per avatar id, a gate its loads wait at once their process is ready (the race tests order loads with it). */
const gates = new Map<string, Promise<void>>();
/** Per avatar id, a renderer opened ahead that its next load returns at once. */
const preloaded = new Map<string, FrameRenderer>();

before(async () => {
  const avatarFile = syntheticAvatarFile();
  server = await startTestServer({ avatarWidth: 96, avatarHeight: 96, avatarFps: 25 }, {
    // The server's own renderer (a render process per renderer); loads may be held at a gate.
    rendererFactory: async (id, size, signal) => {
      const ready = preloaded.get(id);
      preloaded.delete(id);
      if (ready) return ready;
      const renderer = await ProcessFrameRenderer.open(server.avatarStore.existing(id), size, { signal });
      await gates.get(id);
      return renderer;
    },
  });
  for (const id of ['synthetic', 'a', 'b']) copyFileSync(avatarFile, server.avatarStore.pathOf(id));
});
after(async () => { await server?.close(); });

function sessionOf(peerId: string) {
  return server.avatars.sessions().find((s) => s.peer.id === peerId);
}

for (const signal of ['SIGSEGV', 'SIGKILL'] as const) {
  test(`a render process killed by ${signal} ends only that avatar: its peer is told why, and another call's media keeps flowing`, async () => {
    const crashy = await joinOverSignaling(server, `crash-${signal}`, `crashy-${signal}`);
    const steady = await joinOverSignaling(server, `steady-${signal}`, `steady-${signal}`);
    const stops = [await feedCoefficients(server, crashy.roomId, crashy.peerId), await feedCoefficients(server, steady.roomId, steady.peerId)];
    try {
      for (const peer of [crashy, steady]) assert.deepEqual(await peer.request('enableAvatar', { avatarId: 'synthetic' }), { ok: true, data: {} });
      const crashySession = sessionOf(crashy.peerId)!, steadySession = sessionOf(steady.peerId)!;
      const pid = crashySession.renderer.pid!;
      assert.ok(pid && pid !== process.pid && renderProcessPids().includes(pid), `renders in a process of its own: ${pid}`);
      const producerId = steadySession.producer.id;
      const rtp = await countRtp(server, steady.roomId, steadySession.producer);
      try {
        await waitUntil(() => rtp.packets(), (n) => n > 10, 10_000, 'the steady call\'s avatar RTP');
        process.kill(pid, signal);

        const stopped = await crashy.next('avatarStopped');
        assert.equal(stopped.reason, 'renderer-crashed');
        assert.equal(stopped.avatarId, 'synthetic');
        assert.match(stopped.message, new RegExp(`render process ${pid} was killed by ${signal}`));
        assert.equal(crashySession.closed, true, 'the crashed avatar\'s session ended');
        assert.equal(sessionOf(crashy.peerId), undefined);
        await waitUntil(() => renderProcessPids(), (pids) => !pids.includes(pid), 5000, 'the dead process is gone');

        // The other call: same session, still rendering, its RTP still flowing (waited for, not
        // timed: on a loaded machine ffmpeg may be starved for a moment).
        const before = { packets: rtp.packets(), frames: steadySession.stats().framesRendered };
        const flow = () => ({ packets: rtp.packets() - before.packets, frames: steadySession.stats().framesRendered - before.frames });
        await waitUntil(flow, (f) => f.packets >= 25 && f.frames >= 10, 15_000,
          () => `steady's avatar renders and its RTP flows on (${JSON.stringify(steadySession.stats())}, producer ${steadySession.producer.id === producerId ? 'same' : 'replaced'})`);
        assert.equal(steadySession.closed, false);
        assert.deepEqual(steady.notifications.filter((n) => n.method === 'avatarStopped'), []);

        // The crashed peer can start its avatar again.
        assert.deepEqual(await crashy.request('enableAvatar', { avatarId: 'synthetic' }), { ok: true, data: {} });
        await waitUntil(() => sessionOf(crashy.peerId)?.stats().framesRendered ?? 0, (n) => n >= 5, 10_000, 'the restarted avatar renders');
      } finally {
        rtp.close();
      }
    } finally {
      for (const stop of stops) stop();
      crashy.close();
      steady.close();
    }
    await waitUntil(() => renderProcessPids().length, (n) => n === 0, 5000, 'render processes after both peers left');
  });
}

test('two enable calls in flight for one peer: the last wins, and the abandoned load leaves no process', async () => {
  // Over signaling one connection's requests run one at a time; the service's own callers need not.
  const peer = await joinOverSignaling(server, 'race-load', 'switcher');
  const stop = await feedCoefficients(server, peer.roomId, peer.peerId);
  const room = server.rooms.rooms.get(peer.roomId)!;
  const serverPeer = room.peers.get(peer.peerId)!;
  let release!: () => void;
  gates.set('a', new Promise((r) => { release = r; }));
  try {
    // A's load is held once its process is up; B is asked for meanwhile and loads first.
    const a = server.avatars.enable(room, serverPeer, 'a');
    await waitUntil(() => renderProcessPids().length, (n) => n === 1, 15_000, 'A\'s render process');
    await server.avatars.enable(room, serverPeer, 'b');
    const bPid = sessionOf(peer.peerId)?.renderer.pid;
    release();
    await a; // the replaced call is not an error (no camera fallback for it)
    await new Promise((r) => setTimeout(r, 1000));
    const session = sessionOf(peer.peerId);
    assert.ok(session && !session.closed, 'an avatar session runs');
    assert.equal(session.renderer.pid, bPid, 'it renders B');
    assert.deepEqual(renderProcessPids(), [bPid], 'A\'s process was ended');
    assert.equal(server.avatars.usage().renderProcesses, 1);
    assert.ok(session.stats().framesRendered >= 5, `B renders: ${JSON.stringify(session.stats())}`);
    assert.deepEqual(peer.notifications.filter((n) => n.method === 'avatarStopped'), []);
  } finally {
    gates.delete('a');
    release();
    stop();
    peer.close();
  }
  await waitUntil(() => renderProcessPids().length, (n) => n === 0, 5000, 'render processes after the peer left');
});

test('enabling avatar B while avatar A\'s session is starting: B runs, A\'s session is closed and its process ended', async () => {
  const peer = await joinOverSignaling(server, 'race-start', 'starter');
  const stop = await feedCoefficients(server, peer.roomId, peer.peerId);
  const room = server.rooms.rooms.get(peer.roomId)!;
  const serverPeer = room.peers.get(peer.peerId)!;
  // B's process is up before it is asked for, so B's request completes while A's start is still
  // under way: it comes the moment A's video transport exists (A's producer and encoder are to come).
  const b = await ProcessFrameRenderer.open(server.avatarStore.existing('b'), { width: 96, height: 96 });
  preloaded.set('b', b);
  let enabledB: Promise<void> | undefined;
  room.router.observer.once('newtransport', () => { enabledB = server.avatars.enable(room, serverPeer, 'b'); });
  try {
    assert.deepEqual(await peer.request('enableAvatar', { avatarId: 'a' }), { ok: true, data: {} });
    assert.ok(enabledB, 'B was asked for while A started');
    await enabledB;
    await new Promise((r) => setTimeout(r, 1500));
    const sessions = server.avatars.sessions().filter((s) => s.peer.id === peer.peerId);
    assert.equal(sessions.length, 1, 'one avatar session');
    const session = sessions[0]!;
    assert.equal(session.renderer.pid, b.pid, 'it renders B');
    assert.ok(!session.closed && session.stats().framesRendered >= 5, `B renders: ${JSON.stringify(session.stats())}`);
    assert.deepEqual(renderProcessPids(), [b.pid], 'A\'s render process was ended');
    assert.deepEqual(peer.notifications.filter((n) => n.method === 'avatarStopped'), []);
    const producers = [...serverPeer.producers.values()].filter((p) => !p.closed && p.appData.source === 'avatar');
    assert.deepEqual(producers.map((p) => p.id), [session.producer.id], 'A\'s avatar producer was closed');
  } finally {
    preloaded.delete('b');
    stop();
    peer.close();
  }
  await waitUntil(() => renderProcessPids().length, (n) => n === 0, 5000, 'render processes after the peer left');
});
