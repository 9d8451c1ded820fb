/**
 * Join a call as an avatar, end to end: page A (a real clip as its camera) tracks
 * its face and sends only coefficients and audio; the server renders A's avatar
 * (built by the test: the engine trained on the synthetic head scene, driven by
 * jawOpen and browInnerUp) in a render process and injects it as A's video; page B
 * decodes it like any camera: a 640x360 call frame (the server's default size), the
 * person framed in it over the background A chose.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { readAvatarFile, writeAvatarFile } from '../../server/engine/AvatarFile';
import type { Browser, Page } from 'playwright-core';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { FACE_MODEL_PATH, clipToY4m } from '../helpers/sharedData';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let browser: Browser;

before(async () => {
  const avatarFile = syntheticAvatarFile();
  server = await startTestServer({ faceModelPath: FACE_MODEL_PATH, avatarFps: 25 });
  copyFileSync(avatarFile, server.avatarStore.pathOf('synthetic'));
  writeFileSync(server.avatarStore.pathOf('broken'), 'not an avatar at all');
  browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
});

// Each test's pages leave with it, pass or fail: a page left open keeps tracking its camera
// and its avatar rendering, and on 2 cores the next test's timings paid for it (a CI run
// where the third test's render process had not drawn 10 frames in 45 s).
afterEach(async () => {
  for (const context of browser?.contexts() ?? []) await context.close();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The background A chooses (a colour nothing in the synthetic head has). */
const BACKGROUND = { kind: 'colour', rgb: '#2a6f97' } as const;
const BACKGROUND_RGB = [0x2a, 0x6f, 0x97];

/**
 * B's decoded frame of `selector`'s video at its own size: its size, the mean colour of
 * an 8x8 patch at each corner, the share of pixels far from `rgb` (what the person
 * covers), and the mean brightness of the lower middle of the face (where the mouth moves).
 */
function decodedFrame(page: Page, selector: string, rgb: number[]) {
  return page.evaluate(({ sel, bg }) => {
    const video = document.querySelector<HTMLVideoElement>(sel)!;
    const w = video.videoWidth, h = video.videoHeight;
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0);
    const data = ctx.getImageData(0, 0, w, h).data;
    // No named functions in here: the test's transpiler would wrap them in a helper the page lacks.
    const corners: number[][] = [];
    for (const [x0, y0] of [[0, 0], [w - 8, 0], [0, h - 8], [w - 8, h - 8]]) {
      const sum = [0, 0, 0];
      for (let y = y0!; y < y0! + 8; y++) for (let x = x0!; x < x0! + 8; x++) for (let c = 0; c < 3; c++) sum[c]! += data[4 * (y * w + x) + c]!;
      corners.push(sum.map((v) => Math.round(v / 64)));
    }
    let far = 0, mid = 0, midCount = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = 4 * (y * w + x);
        if (Math.abs(data[i]! - bg[0]!) + Math.abs(data[i + 1]! - bg[1]!) + Math.abs(data[i + 2]! - bg[2]!) > 60) far++;
        if (x > 0.4 * w && x < 0.6 * w && y > 0.42 * h && y < 0.66 * h) { mid += (data[i]! + data[i + 1]! + data[i + 2]!) / 3; midCount++; }
      }
    return { width: w, height: h, corners, personShare: far / (w * h), midLevel: mid / midCount };
  }, { sel: selector, bg: rgb });
}

/** Video RTP bytes that A's send transport put on the wire. */
function outboundVideoBytes(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const report = await window.voxfaceDemo.room!.sendTransport!.getStats();
    let bytes = 0;
    report.forEach((s: Record<string, unknown>) => { if (s.type === 'outbound-rtp' && s.kind === 'video') bytes += Number(s.bytesSent ?? 0); });
    return bytes;
  });
}

test('a peer joins as its avatar: others decode the rendered 640x360 video on the chosen background, which follows the face, and no camera video leaves', async (t) => {
  const a = await openPage(browser, `${server.url}/?room=avatars&name=Ada`);
  await a.page.evaluate((background) => window.voxfaceDemo.join({ avatarId: 'synthetic', background }), BACKGROUND);
  const aId = await a.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  const b = await openPage(browser, `${server.url}/?room=avatars&name=Bob`);
  await b.page.evaluate(() => window.voxfaceDemo.join());

  const start = Date.now();
  const figures = await pollUntil(() => inboundFigures(b.page), (f) => f.some((x) => x.peerId === aId && x.kind === 'video' && x.framesDecoded >= 100), 20_000);
  const video = figures.find((x) => x.peerId === aId && x.kind === 'video');
  assert.ok(video, `B receives a video from A: ${JSON.stringify(figures)}`);
  // The call frame: 640x360, the chosen colour in its corners (VP8 moves a flat colour by a few levels),
  // and a person that covers a plausible share of it (a head, not the whole frame, not a speck).
  const frame = await decodedFrame(b.page, `.tile[data-peer-id="${aId}"] video`, BACKGROUND_RGB);
  t.diagnostic(`B's frame: ${JSON.stringify(frame)}`);
  assert.deepEqual([frame.width, frame.height], [640, 360], 'B decodes a 640x360 frame');
  for (const corner of frame.corners)
    assert.ok(corner.every((v, c) => Math.abs(v - BACKGROUND_RGB[c]!) <= 12), `a corner shows the chosen background ${BACKGROUND.rgb}: ${JSON.stringify(frame.corners)}`);
  // Measured 5.2% for the synthetic head (a bare ellipsoid, no hair or body) on a loaded machine.
  assert.ok(frame.personShare > 0.03 && frame.personShare < 0.6, `the person covers ${(frame.personShare * 100).toFixed(1)}% of the frame`);

  const t0 = { frames: video.framesDecoded, at: Date.now() };
  await b.page.waitForTimeout(4000);
  const later = (await inboundFigures(b.page)).find((x) => x.peerId === aId && x.kind === 'video')!;
  const fps = (later.framesDecoded - t0.frames) / ((Date.now() - t0.at) / 1000);
  t.diagnostic(`avatar session: ${JSON.stringify(server.avatars.sessions()[0]?.stats())}; B: ${JSON.stringify(later)}`);
  assert.ok(fps >= 15, `B decodes A's avatar at ${fps.toFixed(1)} fps (${Date.now() - start} ms after joining)`);

  // A's page tracks its camera (30 fps) at the rate the server told it (avatarFrameRate): the
  // avatar's render rate, or what the render achieves and two more when it falls short (a
  // render sharing 2 cores with two pages); never above the scheduler's rate, and no faster
  // (the tracked rate is over the last second, so one frame over).
  const session = server.avatars.sessions().find((s) => s.peer.id === aId)!;
  const tracking = await pollUntil(async () => ({
    told: server.avatars.toldFrameRate(session.room.id, aId),
    target: session.stats().targetFps,
    tracker: await a.page.evaluate(() => { const { maxFps, fps } = window.voxfaceDemo.coefficients!.readout().tracker; return { maxFps, fps }; }),
  }), (x) => x.tracker.maxFps === x.told, 5000);
  t.diagnostic(`A's tracker: ${JSON.stringify(tracking)}`);
  assert.equal(tracking.tracker.maxFps, tracking.told, `A tracks at the rate the server told: ${JSON.stringify(tracking)}`);
  assert.ok(tracking.told! <= tracking.target, `the told rate is within the avatar's render rate: ${JSON.stringify(tracking)}`);
  assert.ok(tracking.tracker.fps <= tracking.told! + 1, `A tracks no faster: ${JSON.stringify(tracking)}`);

  const sources = await b.page.evaluate((id) => [...window.voxfaceDemo.room!.remoteTracks.values()]
    .filter((t) => t.peerId === id).map((t) => `${t.kind}:${String(t.appData.source)}`), aId);
  assert.deepEqual(sources.sort(), ['audio:mic', 'video:avatar'], 'B gets A\'s microphone and avatar, no camera');
  assert.equal(await outboundVideoBytes(a.page), 0, 'A\'s uplink carries no video RTP');

  // Brightness of the lower face, where the mouth opens (the rest of the frame is still).
  const levels: number[] = [];
  for (let i = 0; i < 16; i++) {
    levels.push((await decodedFrame(b.page, `.tile[data-peer-id="${aId}"] video`, BACKGROUND_RGB)).midLevel);
    await b.page.waitForTimeout(500);
  }
  const spread = Math.max(...levels) - Math.min(...levels);
  assert.ok(spread > 1, `A's avatar changes with A's expressions: brightness ${levels.map((l) => l.toFixed(1)).join(', ')}`);

  const stats = session.stats();
  assert.ok(stats.framesRendered > 3, `frames rendered: ${JSON.stringify(stats)}`);

  // Train-on-join installs a better version while its owner is in the call: here one whose
  // colour head is biased dark, so B can tell which version it sees. It is swapped in
  // between frames: B keeps decoding through the reload, no freeze, no new stream.
  const darker = readAvatarFile(syntheticAvatarFile());
  for (let i = 0; i < 3; i++) darker.params.colorB1[i]! -= 4;
  writeAvatarFile(server.avatarStore.pathOf('synthetic'), darker);
  const before = (await inboundFigures(b.page)).find((x) => x.peerId === aId && x.kind === 'video')!;
  // Every frame B's tile presents, timed in the page, from 1 s before the reload to 2 s after.
  // (String code: tsx names the functions of compiled closures with a helper the page lacks.)
  await b.page.evaluate(`(() => {
    const video = document.querySelector('.tile[data-peer-id="${aId}"] video');
    const presented = window.swapFrames = [];
    const next = () => video.requestVideoFrameCallback((now) => { presented.push(now); next(); });
    next();
  })()`);
  await b.page.waitForTimeout(1000);
  const reloadStarted = Date.now();
  const reloadAt = await b.page.evaluate(() => performance.now());
  assert.equal(await server.avatars.reloadAvatar('synthetic'), 1, 'one live session took the new version');
  const loadMs = Date.now() - reloadStarted; // the new version's render process started and loaded
  await b.page.waitForTimeout(2000);
  const after = (await inboundFigures(b.page)).find((x) => x.peerId === aId && x.kind === 'video')!;
  const swapFps = (after.framesDecoded - before.framesDecoded) / ((Date.now() - reloadStarted + 1000) / 1000);
  const presented = await b.page.evaluate(() => [...(window as unknown as { swapFrames: number[] }).swapFrames, performance.now()]);
  const pauses = presented.slice(1).map((t, i) => ({ at: t, ms: t - presented[i]! }));
  const longestBefore = Math.max(...pauses.filter((p) => p.at <= reloadAt).map((p) => p.ms));
  const longestAcross = Math.max(...pauses.filter((p) => p.at > reloadAt).map((p) => p.ms));
  t.diagnostic(`swap: B decoded ${swapFps.toFixed(1)} fps (${fps.toFixed(1)} before); longest pause between presented frames ${longestBefore.toFixed(0)} ms in the second before the reload, ${longestAcross.toFixed(0)} ms from the reload to 2 s after the swap; the new version loaded in ${loadMs} ms`);
  // What a user would see is a freeze: the swap must not stop the frames. The average rate
  // is load-dependent (the new version's render process loads beside the old one's on 2
  // cores, with two pages and the encoder): it dipped to 13.6-14.1 fps against ~21 before,
  // and to 9.0 in one CI run, so it is reported, not asserted. The longest pause is: 367-450 ms
  // across the swap (117-233 ms before it) while the new version loaded in 2.7-5.1 s, so a
  // swap that stopped rendering while the new version loads would pause the tile for
  // seconds, as would a new stream (its consumer's first frame came ~2 s after a render
  // node's death in clusterRender.test.ts). 1.5 s leaves room for a slower CPU.
  assert.ok(longestAcross <= 1500, `B's tile paused ${longestAcross.toFixed(0)} ms across the swap (${longestBefore.toFixed(0)} ms before it)`);
  assert.equal(after.framesDecoded > before.framesDecoded, true);
  assert.equal(session.stats().rendererSwaps, 1);
  const darkLevel = (await decodedFrame(b.page, `.tile[data-peer-id="${aId}"] video`, BACKGROUND_RGB)).midLevel;
  assert.ok(darkLevel < Math.min(...levels) - 5, `B sees the new version: brightness ${darkLevel.toFixed(1)} after, ${levels.map((l) => l.toFixed(1)).join(', ')} before`);

  // A picture A uploads from the page (the demo's 'a picture' choice) replaces the colour:
  // red on its left half, blue on its right, covering B's frame edge to edge.
  const pictureId = await a.page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 36;
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#dc1e1e';
    g.fillRect(0, 0, 32, 36);
    g.fillStyle = '#1e1edc';
    g.fillRect(32, 0, 32, 36);
    const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
    return window.voxfaceDemo.useBackgroundPicture(blob);
  });
  assert.match(pictureId, /^[0-9a-f]{16}$/);
  const red = [0xdc, 0x1e, 0x1e], blue = [0x1e, 0x1e, 0xdc], close = (c: number[], want: number[]) => c.every((v, i) => Math.abs(v - want[i]!) <= 40);
  // The avatar is re-rendered with the picture, a new video track: until it decodes, B's
  // element may have no frame at all (width 0).
  const noFrame = { width: 0, height: 0, corners: [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], personShare: 0, midLevel: 0 };
  const pictured = await pollUntil(() => decodedFrame(b.page, `.tile[data-peer-id="${aId}"] video`, BACKGROUND_RGB).catch(() => noFrame),
    (f) => close(f.corners[0]!, red) && close(f.corners[2]!, red) && close(f.corners[1]!, blue) && close(f.corners[3]!, blue), 20_000);
  assert.ok(close(pictured.corners[0]!, red) && close(pictured.corners[1]!, blue), `B sees A's picture behind the avatar: corners ${JSON.stringify(pictured.corners)}`);

  // The coefficient stream stops without closing: after 2 s the avatar freezes and B is told.
  await a.page.evaluate(() => {
    const streaming = window.voxfaceDemo.coefficients!;
    streaming.tracker.stop();
    streaming.sender.close();
  });
  await b.page.waitForFunction((id) => window.voxfaceDemo.events.includes(`avatarStatus:${id}:stalled`), aId, { timeout: 6000 });
  assert.equal(await b.page.locator(`.tile[data-peer-id="${aId}"][data-avatar-status="stalled"]`).count(), 1, 'B\'s tile shows the flag');

  await a.page.evaluate(() => window.voxfaceDemo.leave());
  await pollUntil(async () => server.avatars.sessions().length, (n) => n === 0, 5000);
  assert.equal(server.avatars.sessions().length, 0, 'the avatar session ended with its peer');
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
});

test('an avatar file that fails to load falls back to the camera, and the page says so', async () => {
  const a = await openPage(browser, `${server.url}/?room=fallback&name=Ada`);
  await a.page.evaluate(() => window.voxfaceDemo.join({ avatarId: 'broken' }));
  const notice = await a.page.locator('#notice').textContent();
  assert.match(notice ?? '', /Your avatar could not be used \(avatar 'broken' cannot be used: avatar file: .*\): sending your camera instead/);
  const b = await openPage(browser, `${server.url}/?room=fallback&name=Bob`);
  await b.page.evaluate(() => window.voxfaceDemo.join());
  const aId = await a.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  const figures = await pollUntil(() => inboundFigures(b.page), (f) => f.some((x) => x.peerId === aId && x.kind === 'video' && x.framesDecoded > 10), 10_000);
  assert.ok(figures.some((x) => x.peerId === aId && x.kind === 'video' && x.framesDecoded > 10), 'B sees A\'s camera instead');
  const sources = await b.page.evaluate((id) => [...window.voxfaceDemo.room!.remoteTracks.values()].filter((t) => t.peerId === id).map((t) => String(t.appData.source)), aId);
  assert.ok(sources.includes('camera'));
  assert.equal((await fetch(`${server.url}/health`)).status, 200, 'the room keeps working');
});

test('a render process that crashes ends only that avatar: the page falls back to the camera and says why', async () => {
  const a = await openPage(browser, `${server.url}/?room=crash&name=Ada`);
  await a.page.evaluate(() => window.voxfaceDemo.join({ avatarId: 'synthetic' }));
  const aId = await a.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  const b = await openPage(browser, `${server.url}/?room=crash&name=Bob`);
  await b.page.evaluate(() => window.voxfaceDemo.join());
  const rendering = () => server.avatars.sessions().find((s) => s.peer.id === aId && s.room.id === 'crash');
  // A render process takes 1.4-2.5 s to start on an idle machine, far longer on a loaded one.
  await pollUntil(async () => rendering()?.stats().framesRendered ?? 0, (n) => n >= 10, 45_000);
  const session = rendering();
  assert.ok(session, 'A\'s avatar session renders');
  const pid = session.renderer.pid!;
  // As a native fault in the kernels would: the process gets SIGSEGV.
  process.kill(pid, 'SIGSEGV');

  await a.page.waitForFunction(() => window.voxfaceDemo.events.includes('avatar-fallback'), null, { timeout: 10_000 });
  assert.ok(await a.page.evaluate(() => window.voxfaceDemo.events.includes('avatarStopped:renderer-crashed')));
  assert.match(await a.page.locator('#notice').textContent() ?? '', new RegExp(`Your avatar stopped \\(render process ${pid} was killed by SIGSEGV\\): sending your camera instead`));
  const cameraFrames = async () => {
    const sources = await b.page.evaluate((id) => [...window.voxfaceDemo.room!.remoteTracks.values()]
      .filter((t) => t.peerId === id && t.kind === 'video').map((t) => String(t.appData.source)), aId);
    const video = (await inboundFigures(b.page)).find((x) => x.peerId === aId && x.kind === 'video');
    return sources.join() === 'camera' ? video?.framesDecoded ?? 0 : 0;
  };
  assert.ok(await pollUntil(cameraFrames, (n) => n > 10, 15_000) > 10, 'B sees A\'s camera instead of the avatar');
  assert.equal(rendering(), undefined, 'the avatar session ended');
  assert.equal((await fetch(`${server.url}/health`)).status, 200, 'the server serves on');
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
});
