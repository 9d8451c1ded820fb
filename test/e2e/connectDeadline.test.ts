/**
 * The transport connect deadline against real browsers: a call's transports connect
 * in time, their deadlines are cleared, and none is closed after them. (A transport
 * not used yet, such as a lone peer's receive transport, has no deadline at all:
 * test/integration/transportTimeout.test.ts.)
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
 * Shorter than the 30 s default, so the test waits less, yet long beside what a real
 * connect takes: measured here (two Chromium pages on a 2-core machine shared with other
 * builds), send transports reached 'connected' 0.25-0.3 s after their first use and
 * receive transports 1.4-5.5 s after it, once more than 8 s.
 */
const TIMEOUT_MS = 20_000;
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
  const peer = server.rooms.get('deadline')!.peers.get(peerId);
  return peer ? [...peer.transports.values()].map((t) => `${t.appData.direction}:${t.dtlsState}`).sort() : [];
}

const CONNECTED = ['recv:connected', 'send:connected'];

test('a real call\'s transports connect before their deadline and are never closed by it', async () => {
  const alice = await joinAs('alice');
  const bob = await joinAs('bob');
  const [aliceId, bobId] = await Promise.all([alice.page, bob.page].map((page) => page.evaluate(() => window.voxfaceDemo.room!.peerId)));
  // Every deadline is armed by then: each transport's first use comes before it connects.
  await pollUntil(async () => [transportStates(aliceId!), transportStates(bobId!)], (states) => states.every((s) => s.join() === CONNECTED.join()), 2 * TIMEOUT_MS);
  await new Promise((r) => setTimeout(r, TIMEOUT_MS + 1000));
  assert.deepEqual(transportStates(aliceId!), CONNECTED);
  assert.deepEqual(transportStates(bobId!), CONNECTED);
  assert.equal(server.rooms.capacity.unconnectedTransportsClosed['connect-timeout'], 0);
  for (const page of [alice.page, bob.page]) {
    const figures = await inboundFigures(page);
    assert.ok(figures.some((x) => x.kind === 'video' && x.framesDecoded > 10), `video flows: ${JSON.stringify(figures)}`);
  }
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
