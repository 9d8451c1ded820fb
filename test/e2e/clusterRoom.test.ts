/**
 * One room across two SFU node processes (issue 15): real redis-server, two spawned
 * `server/main.ts` with VOXFACE_ROLES=sfu and the Redis URL (loopback, their own HTTP
 * ports and RTC port ranges, one mediasoup worker each), real Chromium with the fake
 * camera and microphone. A joins through node 1, B through node 2: each decodes the
 * other's video and receives audio through the pipe transports between the nodes. Then
 * node 1 is SIGKILLed: B hears A leave within 10 s, and node 2 goes on (C joins it and
 * sees B).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';
import { clusterCallToken, signalingJoinMs, startSfuNode, type SfuNode } from '../helpers/clusterNodes';

let redis: TestRedis;
let browser: Browser;
const nodes: SfuNode[] = [];

async function joinThrough(node: SfuNode, room: string, name: string): Promise<{ page: Page; errors: string[]; peerId: string; joinMs: number }> {
  const opened = await openPage(browser, `${node.url}/?room=${room}&name=${name}`);
  const joinMs = await opened.page.evaluate(async () => {
    const started = performance.now();
    await window.voxfaceDemo.join();
    return performance.now() - started;
  });
  const peerId = await opened.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  return { ...opened, peerId, joinMs };
}

/** ms from the page's join to its first remote video frame shown (the demo's own marks). */
function firstFrameMs(page: Page): Promise<number> {
  return page.evaluate(() => {
    const { joinStartedAt, firstRemoteFrameAt } = window.voxfaceDemo.timings;
    return joinStartedAt !== undefined && firstRemoteFrameAt !== undefined ? firstRemoteFrameAt - joinStartedAt : NaN;
  });
}

async function seesAndHears(page: Page, who: string, timeoutMs: number): Promise<void> {
  const figures = await pollUntil(
    () => inboundFigures(page),
    (f) => f.some((x) => x.kind === 'video' && x.framesDecoded > 30) && f.some((x) => x.kind === 'audio' && x.packetsReceived > 0),
    timeoutMs,
  );
  const video = figures.find((x) => x.kind === 'video');
  const audio = figures.find((x) => x.kind === 'audio');
  assert.ok(video && video.framesDecoded > 30, `${who} decoded ${video?.framesDecoded ?? 0} video frames within ${timeoutMs} ms`);
  assert.ok(audio && audio.packetsReceived > 0 && audio.audioSamplesReceived > 0, `${who} received audio: ${JSON.stringify(audio)}`);
  const width = await page.evaluate(() => Math.max(0, ...[...document.querySelectorAll<HTMLVideoElement>('.tile.remote video')].map((v) => v.videoWidth)));
  assert.ok(width > 0, `${who}'s remote video element shows a picture (videoWidth ${width})`);
}

before(async () => {
  redis = await startTestRedis();
  browser = await launchChromium();
  nodes.push(...await Promise.all([startSfuNode('sfu-1', redis.url, 43000), startSfuNode('sfu-2', redis.url, 43200)]));
});

after(async () => {
  for (const node of nodes) node.dispose();
  await browser?.close();
  await redis?.close();
});

test('peers of one room on two SFU nodes see and hear each other, and a killed node\'s peer leaves the other node\'s call', async (t) => {
  const [node1, node2] = nodes as [SfuNode, SfuNode];
  const alice = await joinThrough(node1, 'span', 'alice');
  const bob = await joinThrough(node2, 'span', 'bob');
  t.diagnostic(`browser join through node 1 (room new): ${alice.joinMs.toFixed(0)} ms; through node 2 (room hosted on node 1): ${bob.joinMs.toFixed(0)} ms`);

  await seesAndHears(bob.page, 'bob (node 2) seeing alice (node 1)', 20_000);
  await seesAndHears(alice.page, 'alice (node 1) seeing bob (node 2)', 20_000);
  const bobPeers = await bob.page.evaluate(() => [...window.voxfaceDemo.room!.peers.keys()]);
  assert.deepEqual(bobPeers, [alice.peerId], 'bob\'s join listed alice, who is on the other node');
  const aliceEvents = await alice.page.evaluate(() => window.voxfaceDemo.events.slice());
  assert.ok(aliceEvents.includes(`peerJoined:${bob.peerId}`), `alice heard bob join on the other node: ${aliceEvents.join(', ')}`);

  // Placement: both nodes host the room with one peer each; a new room goes to the least-loaded node.
  const anonymous = await fetch(`${node2.url}/api/cluster/place?room=span`);
  assert.equal(anonymous.status, 401, 'where a room lives is told only to a holder of its call token');
  const callToken = await clusterCallToken(node2, 'span');
  const placed = await fetch(`${node2.url}/api/cluster/place?room=span`, { headers: { authorization: `Bearer ${callToken}` } })
    .then((res) => res.json() as Promise<{ node: string; url: string }>);
  assert.ok((placed.node === 'sfu-1' && placed.url === node1.url) || (placed.node === 'sfu-2' && placed.url === node2.url), `placement picked a node hosting the room, with its URL: ${JSON.stringify(placed)}`);

  // Join round trips over signaling: into a room on this node, and into one hosted only on the other node.
  const sameNode: number[] = [];
  const crossNode: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const host = await signalingJoinMs(node1, `probe${i}`);
    const local = await signalingJoinMs(node1, `probe${i}`);
    const remote = await signalingJoinMs(node2, `probe${i}`);
    assert.equal(remote.peers, 2, 'the join through node 2 lists both peers of node 1');
    sameNode.push(local.ms);
    crossNode.push(remote.ms);
    for (const probe of [host, local, remote]) probe.close();
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  t.diagnostic(`signaling join: within one node ${median(sameNode).toFixed(1)} ms, into a room hosted on another node ${median(crossNode).toFixed(1)} ms (medians of 3)`);

  interface Health { status: string; cluster: { node: string; liveNodes: number; links: number; pipedIn: number; pipedOut: number } }
  const health = () => fetch(`${node2.url}/health`).then((res) => res.json() as Promise<Health>);
  assert.deepEqual((await health()).cluster, { node: 'sfu-2', liveNodes: 2, links: 1, pipedIn: 2, pipedOut: 2 },
    'node 2 holds one pipe to node 1 for the room, alice\'s two tracks piped in and bob\'s two piped out');

  const killedAt = Date.now();
  node1.kill();
  const events = await pollUntil(
    () => bob.page.evaluate(() => window.voxfaceDemo.events.slice()),
    (list) => list.includes(`peerLeft:${alice.peerId}`),
    10_000,
  );
  assert.ok(events.includes(`peerLeft:${alice.peerId}`), `bob heard alice leave within 10 s of node 1's death: ${events.join(', ')}`);
  t.diagnostic(`peerLeft reached bob ${Date.now() - killedAt} ms after node 1 was killed`);
  await pollUntil(() => bob.page.locator('.tile.remote').count(), (count) => count === 0, 5_000);
  assert.equal(await bob.page.locator('.tile.remote').count(), 0, 'alice\'s tile is gone from bob\'s page');

  const afterDeath = await pollUntil(health, (h) => h.cluster.links === 0, 5_000);
  assert.equal(afterDeath.status, 'ok', 'node 2 stays healthy');
  assert.deepEqual(afterDeath.cluster, { node: 'sfu-2', liveNodes: 1, links: 0, pipedIn: 0, pipedOut: 0 }, 'node 2 closed its pipe to the dead node and everything on it');
  const carol = await joinThrough(node2, 'span', 'carol');
  const carolPeers = await carol.page.evaluate(() => [...window.voxfaceDemo.room!.peers.keys()]);
  assert.deepEqual(carolPeers, [bob.peerId], 'carol joining node 2 sees bob, not the dead node\'s alice');
  await seesAndHears(carol.page, 'carol seeing bob on node 2', 20_000);
  t.diagnostic(`join to first remote frame: bob through node 2 seeing alice piped from node 1 ${(await firstFrameMs(bob.page)).toFixed(0)} ms; carol seeing bob on her own node ${(await firstFrameMs(carol.page)).toFixed(0)} ms`);

  assert.deepEqual(alice.errors.filter((e) => !/socket|disconnect|WebSocket/i.test(e)), []);
  assert.deepEqual(bob.errors, []);
  assert.deepEqual(carol.errors, []);
  assert.equal(nodes[1]!.child.exitCode, null, `node 2 is still running: ${node2.output()}`);
});
