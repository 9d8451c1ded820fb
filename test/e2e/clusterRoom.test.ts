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
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';
import { FACE_MODEL_PATH, SEGMENTER_MODEL_PATH } from '../helpers/sharedData';

interface SfuNode {
  name: string;
  url: string;
  child: ChildProcess;
  output: () => string;
  kill(): void;
}

let redis: TestRedis;
let browser: Browser;
const nodes: SfuNode[] = [];
const dirs: string[] = [];
const SECRET = 'cluster-e2e-secret-0123456789';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Spawns one SFU node in its own process group (so a SIGKILL takes its mediasoup worker too, as a dead machine would). */
async function startNode(name: string, rtcMinPort: number): Promise<SfuNode> {
  const port = await freePort();
  const avatarDir = mkdtempSync(join(tmpdir(), `voxface-${name}-`));
  dirs.push(avatarDir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VOXFACE_ROLES: 'sfu', VOXFACE_REDIS_URL: redis.url, VOXFACE_NODE_NAME: name,
    VOXFACE_HOST: '127.0.0.1', VOXFACE_PORT: String(port), VOXFACE_ADMIN_PORT: 'off', VOXFACE_WORKERS: '1', VOXFACE_QUIET: '1',
    VOXFACE_RTC_LISTEN_IP: '127.0.0.1', VOXFACE_RTC_MIN_PORT: String(rtcMinPort), VOXFACE_RTC_MAX_PORT: String(rtcMinPort + 199),
    VOXFACE_SECRET: SECRET, VOXFACE_DEV: '1', VOXFACE_DEV_TOKENS_PER_MINUTE: '100000', VOXFACE_AVATAR_DIR: avatarDir,
    VOXFACE_FACE_MODEL: FACE_MODEL_PATH, VOXFACE_SEGMENTER_MODEL: SEGMENTER_MODEL_PATH,
  };
  delete env.VOXFACE_RTC_ANNOUNCED_IP;
  delete env.VOXFACE_PIPE_ANNOUNCED_IP;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const node: SfuNode = {
    name, url: `http://localhost:${port}`, child, output: () => output,
    kill() {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    },
  };
  nodes.push(node);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`node ${name} exited (${child.exitCode ?? child.signalCode}): ${output}`);
    const healthy = await fetch(`${node.url}/health`).then((res) => res.ok, () => false);
    if (healthy) return node;
    if (Date.now() > deadline) throw new Error(`node ${name} did not become healthy within 60 s: ${output}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

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

/** Signaling-only join round trip (ms): a token minted by the node, then `join` over socket.io. */
async function signalingJoinMs(node: SfuNode, room: string): Promise<{ ms: number; peers: number; close: () => void }> {
  const { callToken: token } = await fetch(`${node.url}/api/dev/token?room=${room}`).then((res) => res.json() as Promise<{ callToken: string }>);
  const socket = io(node.url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  const started = performance.now();
  const reply = await socket.timeout(10_000).emitWithAck('request', { method: 'join', data: { token, room, displayName: 'probe' } });
  const ms = performance.now() - started;
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return { ms, peers: reply.data.peers.length, close: () => socket.close() };
}

before(async () => {
  redis = await startTestRedis();
  browser = await launchChromium();
  await Promise.all([startNode('sfu-1', 43000), startNode('sfu-2', 43200)]);
});

after(async () => {
  for (const node of nodes) node.kill();
  await browser?.close();
  await redis?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
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
  const { callToken } = await fetch(`${node2.url}/api/dev/token?room=span`).then((res) => res.json() as Promise<{ callToken: string }>);
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
