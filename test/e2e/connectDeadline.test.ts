/**
 * The transport connect deadline against real browsers: with a short timeout, a
 * call's transports connect in time and none is closed, including the receive
 * transport of a peer alone in the room, which the SDK connects only when it
 * first has something to receive.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { defaultCapLimits } from '../../server/rooms/Capacity';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { startTestServer } from '../helpers/testServer';

/**
 * Short beside the 30 s default, long beside what a real connect takes: measured here
 * (two Chromium pages on a loaded 2-core machine), send transports reached 'connected'
 * 0.25-0.3 s after their first use and receive transports 1.4-5.5 s after it.
 */
const TIMEOUT_MS = 8000;
let server: VoxfaceServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ caps: { ...defaultCapLimits(), transportConnectTimeoutMs: TIMEOUT_MS } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function joinAs(name: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openPage(browser, `${server.url}/?room=deadline&name=${name}`);
  await opened.page.evaluate(() => window.voxfaceDemo.join());
  return opened;
}

function transportStates(peerId: string): string[] {
  const peer = server.rooms.get('deadline')!.peers.get(peerId)!;
  return [...peer.transports.values()].map((t) => `${t.appData.direction}:${t.dtlsState}`).sort();
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a real call\'s transports outlive a short connect timeout, and a lone peer keeps its unused receive transport', async () => {
  const alice = await joinAs('alice');
  const aliceId = await alice.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  await pause(TIMEOUT_MS + 1000);
  assert.deepEqual(transportStates(aliceId), ['recv:new', 'send:connected'], 'alone, alice sends and waits to receive');

  const bob = await joinAs('bob');
  const bobId = await bob.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  for (const page of [alice.page, bob.page]) {
    const figures = await pollUntil(() => inboundFigures(page), (f) => f.some((x) => x.kind === 'video' && x.framesDecoded > 10), 20_000);
    assert.ok(figures.some((x) => x.kind === 'video' && x.framesDecoded > 10), `video flows: ${JSON.stringify(figures)}`);
  }
  // Past every deadline the call armed (each consume arms its receive transport's).
  await pause(TIMEOUT_MS + 1000);
  assert.deepEqual(transportStates(aliceId), ['recv:connected', 'send:connected']);
  assert.deepEqual(transportStates(bobId), ['recv:connected', 'send:connected']);
  assert.equal(server.rooms.capacity.unconnectedTransportsClosed['connect-timeout'], 0);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
