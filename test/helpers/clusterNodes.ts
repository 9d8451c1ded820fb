/**
 * SFU node processes for cluster tests and benchmarks (issue 15): `server/main.ts`
 * spawned with VOXFACE_ROLES=sfu and a Redis URL, on loopback with its own HTTP port and
 * RTC range and one mediasoup worker, each in its own process group (so a SIGKILL takes
 * its mediasoup worker too, as a dead machine would); and a signaling-only join probe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { freePort } from './redisServer';
import { FACE_MODEL_PATH, SEGMENTER_MODEL_PATH } from './sharedData';

export interface SfuNode {
  name: string;
  url: string;
  child: ChildProcess;
  output: () => string;
  /** SIGKILLs the node's process group; idempotent. */
  kill(): void;
  /** Kills it and removes its avatar folder. */
  dispose(): void;
}

/** Every node of a cluster signs tokens with this secret (a token minted by one is valid on all). */
export const CLUSTER_TEST_SECRET = 'cluster-e2e-secret-0123456789';

/** Starts node `name` on RTC ports [rtcMinPort, rtcMinPort + 199]; resolves once /health answers. */
export async function startSfuNode(name: string, redisUrl: string, rtcMinPort: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<SfuNode> {
  const port = await freePort();
  const avatarDir = mkdtempSync(join(tmpdir(), `voxface-${name}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VOXFACE_ROLES: 'sfu', VOXFACE_REDIS_URL: redisUrl, VOXFACE_NODE_NAME: name,
    VOXFACE_HOST: '127.0.0.1', VOXFACE_PORT: String(port), VOXFACE_ADMIN_PORT: 'off', VOXFACE_WORKERS: '1', VOXFACE_QUIET: '1',
    VOXFACE_RTC_LISTEN_IP: '127.0.0.1', VOXFACE_RTC_MIN_PORT: String(rtcMinPort), VOXFACE_RTC_MAX_PORT: String(rtcMinPort + 199),
    VOXFACE_SECRET: CLUSTER_TEST_SECRET, VOXFACE_DEV: '1', VOXFACE_DEV_TOKENS_PER_MINUTE: '100000', VOXFACE_AVATAR_DIR: avatarDir,
    VOXFACE_FACE_MODEL: FACE_MODEL_PATH, VOXFACE_SEGMENTER_MODEL: SEGMENTER_MODEL_PATH,
    ...extraEnv,
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
    dispose() {
      node.kill();
      rmSync(avatarDir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      node.dispose();
      throw new Error(`node ${name} exited (${child.exitCode ?? child.signalCode}): ${output}`);
    }
    const healthy = await fetch(`${node.url}/health`).then((res) => res.ok, () => false);
    if (healthy) return node;
    if (Date.now() > deadline) {
      node.dispose();
      throw new Error(`node ${name} did not become healthy within 60 s: ${output}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

/** A call token for `room` minted by the node's dev endpoint. */
export async function clusterCallToken(node: SfuNode, room: string): Promise<string> {
  const { callToken } = await fetch(`${node.url}/api/dev/token?room=${room}`).then((res) => res.json() as Promise<{ callToken: string }>);
  return callToken;
}

/** Signaling-only join round trip (ms): a token minted by the node, then `join` over socket.io; the peer stays until close(). */
export async function signalingJoinMs(node: SfuNode, room: string): Promise<{ ms: number; peers: number; close: () => void }> {
  const token = await clusterCallToken(node, room);
  const socket = io(node.url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  const started = performance.now();
  const reply = await socket.timeout(10_000).emitWithAck('request', { method: 'join', data: { token, room, displayName: 'probe' } });
  const ms = performance.now() - started;
  if (reply.ok !== true) {
    socket.close();
    throw new Error(`join through ${node.name} failed: ${JSON.stringify(reply)}`);
  }
  return { ms, peers: reply.data.peers.length, close: () => socket.close() };
}

/**
 * Starts a render node (VOXFACE_ROLES=render: avatar sessions placed by SFU nodes, `/health`
 * only) on RTC ports [rtcMinPort, rtcMinPort + 199]; `avatarDir` is the folder every node shares.
 */
export function startRenderNode(name: string, redisUrl: string, rtcMinPort: number, avatarDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<SfuNode> {
  return startSfuNode(name, redisUrl, rtcMinPort, { VOXFACE_ROLES: 'render', VOXFACE_AVATAR_DIR: avatarDir, ...extraEnv });
}
