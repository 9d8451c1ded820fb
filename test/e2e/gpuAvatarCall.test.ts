/**
 * A call whose avatar renders on the GPU backend (the WGSL kernels on Dawn; here on
 * SwiftShader, so at a small size and frame rate): page A joins as its avatar, the
 * server's GPU render host (one process, one device, every GPU session) draws it, and
 * page B decodes it like any camera. That the host's frames equal the CPU backend's is
 * test/integration/gpuRenderHost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { FACE_MODEL_PATH, clipToY4m } from '../helpers/sharedData';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

// Sets VK_ICD_FILENAMES for this process and the render processes the server starts.
const probe = await openTestGpu();
probe?.close();

let server: VoxfaceServer;
let browser: Browser;

before(async () => {
  if (!probe) return;
  const avatarFile = syntheticAvatarFile();
  // SwiftShader shades about 1 GFLOP/s, shared here with two pages' MediaPipe and the
  // encoder: a 96x54 frame renders in about a second (5 s at 160x90 measured under load).
  server = await startTestServer({
    faceModelPath: FACE_MODEL_PATH, avatarWidth: 96, avatarHeight: 54, avatarFps: 10, renderBackend: 'gpu', renderAllowSoftwareGpu: true,
  });
  copyFileSync(avatarFile, server.avatarStore.pathOf('synthetic'));
  browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a peer joins as its avatar rendered on the GPU backend: another peer decodes it, and the server reports the session on the GPU', { skip: probe ? false : 'no Vulkan adapter here' }, async (t) => {
  const a = await openPage(browser, `${server.url}/?room=gpu&name=Ada`);
  await a.page.evaluate(() => window.voxfaceDemo.join({ avatarId: 'synthetic', background: { kind: 'colour', rgb: '#2a6f97' } }));
  const aId = await a.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  const b = await openPage(browser, `${server.url}/?room=gpu&name=Bob`);
  await b.page.evaluate(() => window.voxfaceDemo.join());

  const figures = await pollUntil(() => inboundFigures(b.page), (f) => f.some((x) => x.peerId === aId && x.kind === 'video' && x.framesDecoded >= 20), 30_000);
  const video = figures.find((x) => x.peerId === aId && x.kind === 'video');
  assert.ok(video && video.framesDecoded >= 20, `B decodes A's avatar: ${JSON.stringify(figures)}`);
  const size = await b.page.evaluate((id) => {
    const v = document.querySelector<HTMLVideoElement>(`.tile[data-peer-id="${id}"] video`)!;
    return [v.videoWidth, v.videoHeight];
  }, aId);
  assert.deepEqual(size, [96, 54], 'B decodes the avatar\'s 96x54 frame');

  const session = server.avatars.sessions().find((s) => s.peer.id === aId)!;
  // Rendered frames (not repeats of one): slow on a software adapter, so waited for.
  const stats = await pollUntil(async () => session.stats(), (st) => st.framesRendered >= 4, 60_000, 500);
  t.diagnostic(`avatar session on the GPU backend: ${JSON.stringify(stats)}`);
  assert.equal(stats.backend, 'gpu');
  assert.ok(stats.framesRendered >= 4, `frames rendered: ${stats.framesRendered}`);
  const hosts = server.gpuHosts!.hosts;
  assert.equal(hosts.length, 1, 'one GPU render host');
  assert.equal(session.renderer.pid, hosts[0]!.pid, 'the avatar renders in the GPU render host');
  const host = await hosts[0]!.stats();
  t.diagnostic(`GPU render host: ${JSON.stringify(host)}`);
  assert.ok(host.frames >= 4 && host.maxSubmissionsPerTick === 2, 'the host drew the frames, two submissions a tick');
  const usage = server.avatars.usage();
  assert.equal(usage.byBackend.gpu.sessions, 1);
  assert.ok(usage.byBackend.gpu.renderMsP50 > 0, 'the GPU frame time is reported');
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  assert.match(metrics, /^voxface_avatar_sessions_gpu 1$/m);

  await a.page.evaluate(() => window.voxfaceDemo.leave());
  await pollUntil(async () => server.avatars.sessions().length, (n) => n === 0, 5000);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
});
