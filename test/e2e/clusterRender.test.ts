/**
 * An avatar rendered on a render node (issue 15): real redis-server, two SFU node
 * processes and one render node process (VOXFACE_ROLES=render) sharing one avatar
 * folder, real Chromium. A joins through SFU node 1 as its avatar (a trained synthetic
 * avatar, driven by the face tracked in a real clip), B through SFU node 2: B decodes A's
 * avatar while the render node's /health shows the session there, rendering. Then the
 * render node is SIGKILLed: SFU node 1 renders A's avatar itself (its standing-by
 * renderer) and B keeps decoding it; the longest pause in B's decoded frames is measured.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import { launchChromium, openPage } from '../helpers/browser';
import { pollUntil } from '../helpers/pageProbes';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';
import { startRenderNode, startSfuNode, type SfuNode } from '../helpers/clusterNodes';
import { clipToY4m } from '../helpers/sharedData';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';

let redis: TestRedis;
let browser: Browser;
let avatarDir: string;
const nodes: SfuNode[] = [];

interface RenderHealth {
  status: string;
  render: { node: string; capacity: number; sessions: { sfuNode: string; room: string; peer: string; avatarId: string; framesRendered: number; fps: number }[] };
}
interface SfuHealth { renderPlacement: { hosted: number; byNode: Record<string, number>; lost: number } }

/** B's decoded frames of each of A's video consumers (a fallback is a new consumer), with their source. */
function avatarFrames(page: Page, peerId: string): Promise<{ consumerId: string; source: string; framesDecoded: number }[]> {
  return page.evaluate(async (id) => {
    const room = window.voxfaceDemo.room;
    if (!room) return [];
    const out: { consumerId: string; source: string; framesDecoded: number }[] = [];
    for (const remote of room.remoteTracks.values()) {
      if (remote.peerId !== id || remote.kind !== 'video') continue;
      const consumer = room.consumer(remote.consumerId);
      if (!consumer) continue;
      let frames = 0;
      (await consumer.getStats()).forEach((stat: Record<string, unknown>) => { if (stat.type === 'inbound-rtp') frames += Number(stat.framesDecoded ?? 0); });
      out.push({ consumerId: remote.consumerId, source: String(remote.appData.source), framesDecoded: frames });
    }
    return out;
  }, peerId);
}

before(async () => {
  avatarDir = mkdtempSync(join(tmpdir(), 'voxface-render-e2e-'));
  copyFileSync(syntheticAvatarFile(), new AvatarStore(avatarDir).pathOf('synthetic'));
  redis = await startTestRedis();
  browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
  const shared = { VOXFACE_AVATAR_DIR: avatarDir, VOXFACE_AVATAR_FPS: '25' };
  nodes.push(...await Promise.all([
    startSfuNode('sfu-1', redis.url, 43400, shared),
    startSfuNode('sfu-2', redis.url, 43600, shared),
    startRenderNode('render-1', redis.url, 43800, avatarDir, { VOXFACE_AVATAR_FPS: '25' }),
  ]));
});

after(async () => {
  for (const node of nodes) node.dispose();
  await browser?.close();
  await redis?.close();
  if (avatarDir) rmSync(avatarDir, { recursive: true, force: true });
});

test('A\'s avatar renders on the render node and B on the other SFU node decodes it; the render node killed, SFU node 1 renders it and B\'s video resumes within 5 s', async (t) => {
  const [node1, node2, render] = nodes as [SfuNode, SfuNode, SfuNode];
  // The SFU nodes see the render node in the registry before A asks for its avatar.
  await pollUntil(() => fetch(`${render.url}/health`).then((res) => res.json() as Promise<RenderHealth>), (h) => h.status === 'ok', 10_000);
  await new Promise((done) => setTimeout(done, 1500));

  const a = await openPage(browser, `${node1.url}/?room=rendered&name=Ada`);
  await a.page.evaluate(() => window.voxfaceDemo.join({ avatarId: 'synthetic', background: { kind: 'colour', rgb: '#2a6f97' } }));
  const aId = await a.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  const b = await openPage(browser, `${node2.url}/?room=rendered&name=Bob`);
  await b.page.evaluate(() => window.voxfaceDemo.join());

  const decoding = await pollUntil(() => avatarFrames(b.page, aId), (f) => f.some((x) => x.source === 'avatar' && x.framesDecoded >= 30), 40_000);
  if (!decoding.some((x) => x.source === 'avatar' && x.framesDecoded >= 30)) {
    const health = await fetch(`${render.url}/health`).then((res) => res.text(), (error: unknown) => String(error));
    assert.fail(`B decodes A's avatar (>= 30 frames): ${JSON.stringify(decoding)}; render node: ${health}; SFU node 1 said: ${node1.output().slice(-2000)}; the render node said: ${render.output().slice(-2000)}`);
  }
  const renderHealth = await fetch(`${render.url}/health`).then((res) => res.json() as Promise<RenderHealth>);
  t.diagnostic(`render node health: ${JSON.stringify(renderHealth.render)}`);
  const hosted = renderHealth.render.sessions.find((s) => s.peer === aId);
  assert.ok(hosted && hosted.sfuNode === 'sfu-1' && hosted.room === 'rendered' && hosted.avatarId === 'synthetic',
    `the render node hosts A's session for SFU node 1: ${JSON.stringify(renderHealth.render.sessions)}; SFU node 1 said: ${node1.output().slice(-3000)}; the render node said: ${render.output().slice(-3000)}`);
  assert.ok(hosted.framesRendered > 10, `the render node renders A's avatar: ${hosted.framesRendered} frames`);
  const sfu1 = await fetch(`${node1.url}/health`).then((res) => res.json() as Promise<SfuHealth>);
  assert.deepEqual(sfu1.renderPlacement, { hosted: 1, byNode: { 'render-1': 1 }, lost: 0 }, 'SFU node 1 placed A\'s avatar on the render node');

  // B's page samples its own decoding every 50 ms (this process is too busy on a loaded
  // machine to sample finely): a pause is the time between two samples with new frames.
  await b.page.evaluate((id) => {
    // fresh: when each consumer was first seen, first had a packet (`<id>:packet`) and a decoded frame (`<id>:frame`), Date.now().
    const state = { last: performance.now(), longest: 0, seen: {} as Record<string, number>, fresh: {} as Record<string, number>, timer: 0 };
    (window as unknown as { avatarProgress: typeof state }).avatarProgress = state;
    state.timer = window.setInterval(async () => {
      const room = window.voxfaceDemo.room;
      if (!room) return;
      let progressed = false;
      for (const remote of room.remoteTracks.values()) {
        if (remote.peerId !== id || remote.kind !== 'video' || remote.appData.source !== 'avatar') continue;
        const consumer = room.consumer(remote.consumerId);
        if (!consumer) continue;
        let frames = 0, packets = 0;
        (await consumer.getStats()).forEach((stat: Record<string, unknown>) => { if (stat.type === 'inbound-rtp') { frames += Number(stat.framesDecoded ?? 0); packets += Number(stat.packetsReceived ?? 0); } });
        if (packets > 0 && !((remote.consumerId + ':packet') in state.fresh)) state.fresh[remote.consumerId + ':packet'] = Date.now();
        if (!(remote.consumerId in state.fresh)) state.fresh[remote.consumerId] = Date.now();
        if (frames > 0 && !((remote.consumerId + ':frame') in state.fresh)) state.fresh[remote.consumerId + ':frame'] = Date.now();
        if (frames > (state.seen[remote.consumerId] ?? 0)) {
          progressed = true;
          state.seen[remote.consumerId] = frames;
        }
      }
      const now = performance.now();
      if (progressed) {
        state.longest = Math.max(state.longest, now - state.last);
        state.last = now;
      }
    }, 50);
  }, aId);
  interface Progress { longest: number; seen: Record<string, number> }
  const progressOf = () => b.page.evaluate(() => {
    const { longest, seen } = (window as unknown as { avatarProgress: Progress }).avatarProgress;
    return { longest, seen: { ...seen } };
  });
  const resetLongest = () => b.page.evaluate(() => { (window as unknown as { avatarProgress: Progress }).avatarProgress.longest = 0; });
  await new Promise((done) => setTimeout(done, 1500));
  const before = await progressOf();
  const consumersBefore = new Set(Object.keys(before.seen));
  await resetLongest();
  const killedAt = Date.now();
  render.kill();
  const marks: Record<string, number> = {};
  let resumed: Progress | undefined;
  while (Date.now() - killedAt < 15_000) {
    const progress = await progressOf();
    if (marks.lost === undefined) {
      const h = await fetch(`${node1.url}/health`).then((res) => res.json() as Promise<SfuHealth>);
      if (h.renderPlacement.lost > 0) marks.lost = Date.now() - killedAt;
    }
    const fresh = Object.entries(progress.seen).filter(([id]) => !consumersBefore.has(id)).map(([, frames]) => frames);
    if (fresh.some((frames) => frames > 0) && marks.firstFrame === undefined) marks.firstFrame = Date.now() - killedAt;
    if (fresh.some((frames) => frames >= 30)) {
      resumed = progress;
      break;
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  t.diagnostic(`after the kill, as this process saw it (ms): ${JSON.stringify(marks)}`);
  const seenAt = await b.page.evaluate(() => (window as unknown as { avatarProgress: { fresh: Record<string, number> } }).avatarProgress.fresh);
  const fresh = Object.entries(seenAt).filter(([key]) => !consumersBefore.has(key.replace(/:(frame|packet)$/, '')));
  const when = (suffix: string) => fresh.filter(([k]) => (suffix ? k.endsWith(suffix) : !k.includes(':'))).map(([, v]) => v - killedAt).join(', ') || 'never';
  t.diagnostic(`B's page, ms after the kill: the new avatar consumer appeared ${when('')}, its first packet ${when(':packet')}, its first decoded frame ${when(':frame')}`);
  t.diagnostic(`longest pause in B's decoded avatar frames: ${before.longest.toFixed(0)} ms in 1.5 s before the kill, ${resumed?.longest.toFixed(0)} ms across it (the new producer decoded 30 frames ${Date.now() - killedAt} ms after the kill)`);
  assert.ok(resumed, `B decodes A's avatar from a new producer after the render node died: ${JSON.stringify(await progressOf())}`);
  assert.ok(resumed.longest <= 5000, `B's avatar video of A paused ${resumed.longest.toFixed(0)} ms across the render node's death (at most 5 s)`);

  const after = await pollUntil(() => fetch(`${node1.url}/health`).then((res) => res.json() as Promise<SfuHealth>), (h) => h.renderPlacement.hosted === 0, 5000);
  assert.deepEqual(after.renderPlacement, { hosted: 0, byNode: {}, lost: 1 }, 'SFU node 1 lost the session on the render node and renders A\'s avatar itself');
  const sources = await b.page.evaluate((id) => [...window.voxfaceDemo.room!.remoteTracks.values()]
    .filter((x) => x.peerId === id).map((x) => `${x.kind}:${String(x.appData.source)}`).sort(), aId);
  assert.deepEqual(sources, ['audio:mic', 'video:avatar'], 'B has one avatar video of A (the dead one closed) and its microphone');
  assert.deepEqual(b.errors, []);
  assert.deepEqual(a.errors, []);
  assert.equal(node1.child.exitCode, null, `SFU node 1 still runs: ${node1.output().slice(-2000)}`);
});
