/**
 * Two headless Chromium pages with fake camera and microphone call each other
 * through the real server and a real mediasoup worker.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let browser: Browser;

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function joinAs(name: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openPage(browser, `${server.url}/?room=call&name=${name}`);
  await opened.page.evaluate(() => window.voxfaceDemo.join());
  return opened;
}

test('two people in one room see and hear each other, and a leaver is cleaned up everywhere', async () => {
  const alice = await joinAs('alice');
  const bob = await joinAs('bob');

  for (const [who, page] of [['alice', alice.page], ['bob', bob.page]] as const) {
    const figures = await pollUntil(
      () => inboundFigures(page),
      (f) => f.some((x) => x.kind === 'video' && x.framesDecoded > 30) && f.some((x) => x.kind === 'audio' && x.packetsReceived > 0),
      10_000,
    );
    const video = figures.find((x) => x.kind === 'video');
    const audio = figures.find((x) => x.kind === 'audio');
    assert.ok(video && video.framesDecoded > 30, `${who} decoded ${video?.framesDecoded ?? 0} video frames within 10 s`);
    assert.ok(audio && audio.packetsReceived > 0 && audio.audioSamplesReceived > 0, `${who} received audio: ${JSON.stringify(audio)}`);
  }

  const room = server.rooms.get('call');
  assert.ok(room, 'the room exists on the server');
  const bobPeerId = await bob.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  const bobTransportIds = [...room.peers.get(bobPeerId)!.transports.keys()];
  assert.equal(bobTransportIds.length, 2, 'bob holds a send and a receive transport');

  await bob.page.evaluate(() => window.voxfaceDemo.leave());

  const aliceEvents = await pollUntil(
    () => alice.page.evaluate(() => window.voxfaceDemo.events.slice()),
    (events) => events.includes(`peerLeft:${bobPeerId}`) && events.filter((e) => e.startsWith(`trackRemoved:${bobPeerId}`)).length === 2,
    5_000,
  );
  assert.ok(aliceEvents.includes(`peerLeft:${bobPeerId}`), `alice saw bob go: ${aliceEvents.join(', ')}`);
  assert.equal(aliceEvents.filter((e) => e.startsWith(`trackRemoved:${bobPeerId}`)).length, 2, 'both of bob\'s tracks were removed at alice');
  const aliceRemaining = await alice.page.evaluate(() => window.voxfaceDemo.room!.remoteTracks.size);
  assert.equal(aliceRemaining, 0, 'alice holds no consumer of bob');
  const tiles = await alice.page.locator('.tile.remote').count();
  assert.equal(tiles, 0, 'bob\'s tile is gone from alice\'s page');

  assert.equal(room.peers.has(bobPeerId), false, 'the server forgot bob');
  const dump = (await room.router.dump()) as { transportIds: string[] };
  for (const id of bobTransportIds) assert.equal(dump.transportIds.includes(id), false, `router still holds bob's transport ${id}`);
  assert.equal(dump.transportIds.length, 2, 'only alice\'s two transports remain');

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
