/**
 * The onboarding page's link to the call, in Chromium: a call token for the avatar's
 * owner and the avatar's id join the room as that avatar, though the page's own
 * (dev) user owns nothing; the same link without the owner's token falls back to
 * the camera, because avatars follow the token's user.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { clipToY4m, FACE_MODEL_PATH } from '../helpers/sharedData';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ faceModelPath: FACE_MODEL_PATH, avatarWidth: 128, avatarHeight: 128 });
  server.avatarStore.installFor('owner', 'owned', syntheticAvatarFile());
  browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function eventsAfterJoin(url: string): Promise<string[]> {
  const { page, errors } = await openPage(browser, url);
  await page.waitForFunction(() => window.voxfaceDemo.events.some((e) => e === 'avatar-fallback' || e.startsWith('avatar:')), undefined, { timeout: 60_000 });
  const events = await page.evaluate(() => window.voxfaceDemo.events);
  await page.evaluate(() => window.voxfaceDemo.leave());
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  return events;
}

test('the link with the owner\'s call token joins as the owner\'s avatar', async () => {
  const token = server.tokens.mintCall('links', 'owner');
  const events = await eventsAfterJoin(`${server.url}/?room=links&token=${token}&avatar=owned&autojoin=1`);
  assert.ok(events.includes('avatar:owned'), events.join(', '));
});

test('the same link on a browser of another user falls back to the camera', async () => {
  const events = await eventsAfterJoin(`${server.url}/?room=links&avatar=owned&autojoin=1`);
  assert.ok(events.includes('avatar-fallback') && !events.includes('avatar:owned'), events.join(', '));
});
