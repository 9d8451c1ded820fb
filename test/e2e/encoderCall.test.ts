/**
 * Join a call as an avatar with an expression encoder (issue 16), end to end: real
 * Chromium (a real clip as its camera), real mediasoup, the avatar a real file: the
 * synthetic-scene avatar the other e2e tests train, with an expression encoder attached
 * (test/helpers/encoderAvatar.ts; the encoder's training is covered by
 * test/engine/encoderTraining.test.ts and encoderCli.test.ts). The page fetches
 * the ONNX model as its owner, verifies its sha256, runs it in the tracker's worker and
 * sends code packets, which the server accepts and renders from. A tampered model (its
 * bytes changed on the way) and a missing one fall back to blendshape packets, and the
 * avatar stays live.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { encoderAvatarFile } from '../helpers/encoderAvatar';
import { clipToY4m, FACE_MODEL_PATH } from '../helpers/sharedData';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let browser: Browser;
let scratch: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'voxface-encoder-call-'));
  server = await startTestServer({ faceModelPath: FACE_MODEL_PATH, avatarWidth: 128, avatarHeight: 128 });
  server.avatarStore.installFor('owner', 'coded', encoderAvatarFile(scratch));
  server.avatarStore.installFor('owner', 'plain', syntheticAvatarFile());
  browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Ada joins room `room` as the owner's encoder avatar; `route` may change what the page downloads. */
async function joinAsCoded(room: string, route?: (page: Page) => Promise<void>): Promise<{ page: Page; errors: string[]; peerId: string; foreign: string[] }> {
  const query = new URLSearchParams({ room, name: 'Ada', token: server.tokens.mintCall(room, 'owner'), onboardingToken: server.tokens.mintOnboarding('owner') });
  const { page, errors } = await openPage(browser, 'about:blank');
  // onnxruntime-web and its wasm come from this server, like everything else.
  const foreign: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith(server.url) && !/^(data|blob):/.test(r.url())) foreign.push(r.url()); });
  await route?.(page);
  await page.goto(`${server.url}/?${query}`);
  await page.evaluate(() => window.voxfaceDemo.join({ avatarId: 'coded' }));
  await page.waitForFunction(() => window.voxfaceDemo.events.some((e) => e.startsWith('encoder:')), undefined, { timeout: 60_000 });
  return { page, errors, foreign, peerId: await page.evaluate(() => window.voxfaceDemo.room!.peerId) };
}

async function streamStats(room: string, peerId: string, until: (s: { packetsAccepted: number; codePacketsAccepted: number }) => boolean) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const stats = server.coefficients.get(room, peerId)?.stats(Date.now());
    if (stats && until(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`stream of ${peerId}: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the encoder endpoints answer the owner only; the stated sha256 is that of the served model', async () => {
  const get = (path: string, user: string) => fetch(`${server.url}/api/onboarding/avatars/${path}`, { headers: { authorization: `Bearer ${server.tokens.mintOnboarding(user)}` } });
  const info = (await (await get('coded/encoder', 'owner')).json()) as { encoder: { sha256: string; bytes: number; codeSize: number; spec: { landmarkIds: number[] } } };
  assert.equal(info.encoder.codeSize, 12);
  assert.equal(info.encoder.spec.landmarkIds.length, 109);
  const model = await get('coded/encoder.onnx', 'owner');
  const bytes = Buffer.from(await model.arrayBuffer());
  assert.equal(bytes.length, info.encoder.bytes);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), info.encoder.sha256);
  assert.equal(model.headers.get('x-voxface-sha256'), info.encoder.sha256);
  for (const path of ['coded/encoder', 'coded/encoder.onnx']) {
    const other = await get(path, 'someone-else');
    assert.equal(other.status, 404);
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'no_avatar');
  }
  // An avatar without an encoder: described as none (no 404 in its owner's console), its model 404.
  const plain = await get('plain/encoder', 'owner');
  assert.equal(plain.status, 200);
  assert.deepEqual(await plain.json(), { encoder: null });
  const plainModel = await get('plain/encoder.onnx', 'owner');
  assert.equal(plainModel.status, 404);
  assert.deepEqual(await plainModel.json(), { error: { code: 'no_encoder', message: "avatar 'plain' has no expression encoder" } });
  // The operator's avatars (no owner) are everyone's to drive: anyone's page may ask (a 404 would be its console error).
  copyFileSync(syntheticAvatarFile(), join(server.config.avatarDir, 'operators.vxa'));
  const operators = await get('operators/encoder', 'someone-else');
  assert.equal(operators.status, 200);
  assert.deepEqual(await operators.json(), { encoder: null });
  const anonymous = await fetch(`${server.url}/api/onboarding/avatars/coded/encoder.onnx`);
  assert.equal(anonymous.status, 401);
});

/**
 * The status of `peerId`'s avatar session once it is `wanted` (or after 20 s): polled,
 * as a frame where the tracker finds no face (this loaded machine tracks 8-15 fps)
 * turns it to 'lost' for a moment.
 */
async function avatarStatus(peerId: string, wanted: string): Promise<string | undefined> {
  const status = () => server.avatars.sessions().find((s) => s.peer.id === peerId)?.stats().status;
  const deadline = Date.now() + 20_000;
  while (status() !== wanted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return status();
}

test('an encoder avatar: the page verifies its ONNX model, sends code packets, and the server renders from the code', async () => {
  const { page, errors, foreign, peerId } = await joinAsCoded('coded');
  const events = await page.evaluate(() => window.voxfaceDemo.events);
  assert.ok(events.includes('encoder:code:downloaded'), events.join(' '));
  const stats = await streamStats('coded', peerId, (s) => s.codePacketsAccepted >= 30);
  assert.equal(stats.droppedByReason['no-encoder'], 0);
  assert.equal(stats.droppedByReason['code-size'], 0);
  const code = server.coefficients.get('coded', peerId)!.smoothed(Date.now())?.code;
  assert.ok(code && code.length === 12 && code.some((v) => v !== 0), `the smoothed face carries the code: ${String(code)}`);
  const session = [...server.avatars.sessions()].find((s) => s.peer.id === peerId);
  assert.ok(session, 'an avatar session renders Ada');
  assert.equal(await avatarStatus(peerId, 'live'), 'live');
  const rendered = session.stats().framesRendered;
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(session.stats().framesRendered > rendered, 'frames are rendered from the code packets');
  const sent = await page.evaluate(() => window.voxfaceDemo.coefficients!.readout());
  assert.ok(sent.sender.codePacketsSent >= 30);
  assert.ok(sent.tracker.recentEncoderMs.length > 0);
  await page.evaluate(() => window.voxfaceDemo.leave());
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  assert.deepEqual(foreign, []);
  // Joining again from the same page takes the model from Cache Storage.
  await page.evaluate(() => window.voxfaceDemo.join({ avatarId: 'coded' }));
  await page.waitForFunction(() => window.voxfaceDemo.events.filter((e) => e.startsWith('encoder:')).length >= 2, undefined, { timeout: 60_000 });
  assert.deepEqual((await page.evaluate(() => window.voxfaceDemo.events)).filter((e) => e.startsWith('encoder:')), ['encoder:code:downloaded', 'encoder:code:cached']);
  await page.evaluate(() => window.voxfaceDemo.leave());
  await page.context().close();
});

for (const [what, reason, route] of [
  ['a tampered ONNX model (one byte changed on the way)', 'checksum-mismatch', async (page: Page) => {
    await page.route('**/encoder.onnx', async (r) => {
      const reply = await r.fetch();
      const body = Buffer.from(await reply.body());
      body[body.length - 1] = body[body.length - 1]! ^ 0xff;
      await r.fulfill({ response: reply, body });
    });
  }],
  ['a missing ONNX model', 'unavailable', async (page: Page) => {
    await page.route('**/encoder.onnx', (r) => r.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"not_found","message":"gone"}}' }));
  }],
] as const) {
  test(`${what} falls back to blendshape packets and the call goes on`, async () => {
    const room = `fallback-${reason}`;
    // Its own browser context: an empty Cache Storage, so the model is downloaded.
    const { page, peerId, errors } = await joinAsCoded(room, route);
    const events = await page.evaluate(() => window.voxfaceDemo.events);
    assert.ok(events.includes(`encoder:fallback:${reason}`), events.join(' '));
    const before = server.coefficients.get(room, peerId)?.stats(Date.now()).packetsAccepted ?? 0;
    const stats = await streamStats(room, peerId, (s) => s.packetsAccepted >= before + 30);
    assert.equal(stats.codePacketsAccepted, 0);
    assert.equal(await avatarStatus(peerId, 'live'), 'live', 'the avatar renders from the blendshape packets');
    // The 404 of the missing model is the only failed load.
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await page.evaluate(() => window.voxfaceDemo.leave());
    await page.context().close();
  });
}
