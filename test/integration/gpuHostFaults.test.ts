/**
 * GPU avatar sessions through a real server (VOXFACE_RENDER_BACKEND=gpu on SwiftShader,
 * real ffmpeg encoders, a real mediasoup worker, peers over real signaling): two peers'
 * avatars render in one GPU render host, and when that host process is killed both calls
 * go on, each avatar now in a CPU render process of its own: no avatarStopped, the same
 * sessions, frames still rendered, /metrics counting them on the CPU; then both go back
 * to a fresh GPU host (VOXFACE_GPU_RECOVER_SECONDS), still the same sessions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { feedCoefficients, joinOverSignaling, renderProcessPids, waitUntil } from '../helpers/avatarPeers';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

// Sets VK_ICD_FILENAMES for this process and the processes the server starts.
const probe = await openTestGpu();
probe?.close();

let server: VoxfaceServer;

before(async () => {
  if (!probe) return;
  const avatarFile = syntheticAvatarFile();
  // SwiftShader: a small frame at a low rate.
  // The avatars go back to a GPU host 10 s after it died: long enough to look at them on the CPU first.
  server = await startTestServer({ avatarWidth: 64, avatarHeight: 36, avatarFps: 5, renderBackend: 'gpu', renderAllowSoftwareGpu: true, renderGpuRecoverMs: 10_000 });
  copyFileSync(avatarFile, server.avatarStore.pathOf('synthetic'));
});
after(async () => { await server?.close(); });

test('a GPU render host killed mid-call: its avatars render on, on the CPU, in the same sessions, then go back to a fresh GPU host, and no peer is told to stop', { skip: probe ? false : 'no Vulkan adapter here' }, async (t) => {
  const peers = [await joinOverSignaling(server, 'gpu-host-a', 'ada'), await joinOverSignaling(server, 'gpu-host-b', 'bob')];
  const stops = await Promise.all(peers.map((p) => feedCoefficients(server, p.roomId, p.peerId)));
  try {
    for (const peer of peers) assert.deepEqual(await peer.request('enableAvatar', { avatarId: 'synthetic' }), { ok: true, data: {} });
    const sessions = peers.map((p) => server.avatars.sessions().find((s) => s.peer.id === p.peerId)!);
    const hosts = server.gpuHosts!.hosts;
    assert.equal(hosts.length, 1, 'one GPU render host for both avatars');
    const pid = hosts[0]!.pid!;
    for (const s of sessions) {
      assert.equal(s.renderer.pid, pid, 'the avatar renders in the host');
      assert.equal(s.renderer.backend, 'gpu');
    }
    assert.deepEqual(renderProcessPids(), [], 'no per-avatar render process');
    assert.equal(server.avatars.usage().renderProcesses, 0, 'sessions of the GPU render host hold no render-process slot');
    await waitUntil(() => sessions.map((s) => s.stats().framesRendered), (n) => n.every((x) => x >= 2), 30_000, 'both avatars render on the GPU');

    process.kill(pid, 'SIGKILL');
    const before = sessions.map((s) => s.stats().framesRendered);
    await waitUntil(() => sessions.map((s, i) => ({ backend: s.stats().backend, frames: s.stats().framesRendered - before[i]! })),
      (x) => x.every((y) => y.backend === 'cpu' && y.frames >= 3), 30_000, 'both avatars render on, on the CPU');
    t.diagnostic(`after the host died: ${JSON.stringify(sessions.map((s) => s.stats()))}`);
    for (const [i, s] of sessions.entries()) {
      assert.equal(s.closed, false, 'the same session goes on');
      assert.equal(server.avatars.sessions().find((x) => x.peer.id === peers[i]!.peerId), s);
      assert.notEqual(s.renderer.pid, pid);
    }
    assert.equal(new Set(renderProcessPids()).size, 2, 'a CPU render process per avatar');
    for (const peer of peers) assert.deepEqual(peer.notifications.filter((n) => n.method === 'avatarStopped'), []);
    assert.deepEqual(server.gpuHosts!.hosts, [], 'the dead host left the pool');
    const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
    assert.match(metrics, /^voxface_avatar_sessions_cpu 2$/m);
    assert.match(metrics, /^voxface_avatar_sessions_gpu 0$/m);

    // VOXFACE_GPU_RECOVER_SECONDS later: both back on a fresh host, the same sessions, their CPU processes gone.
    await waitUntil(() => sessions.map((s) => s.stats().backend), (b) => b.every((x) => x === 'gpu'), 90_000, 'both avatars back on the GPU');
    // (The assertion above narrowed `hosts` to never[]: read it again untyped by it.)
    const freshPids = (server.gpuHosts!.hosts as { pid?: number }[]).map((h) => h.pid);
    assert.equal(freshPids.length, 1, 'a fresh GPU render host');
    assert.notEqual(freshPids[0], pid);
    for (const s of sessions) {
      assert.equal(s.closed, false, 'the same session goes on');
      assert.equal(s.renderer.pid, freshPids[0]);
    }
    const framesBack = sessions.map((s) => s.stats().framesRendered);
    await waitUntil(() => sessions.map((s, i) => s.stats().framesRendered - framesBack[i]!), (n) => n.every((x) => x >= 2), 30_000, 'both render on the fresh host');
    await waitUntil(() => renderProcessPids().length, (n) => n === 0, 10_000, 'the CPU render processes closed');
    const metricsBack = await (await fetch(`${server.adminUrl}/metrics`)).text();
    assert.match(metricsBack, /^voxface_avatar_sessions_gpu 2$/m);
    for (const peer of peers) assert.deepEqual(peer.notifications.filter((n) => n.method === 'avatarStopped'), []);
  } finally {
    for (const stop of stops) stop();
    for (const peer of peers) peer.close();
  }
  await waitUntil(() => renderProcessPids().length, (n) => n === 0, 10_000, 'render processes after both peers left');
});
