/**
 * A real `redis-server` (Debian's, installed by `scripts/setup.sh --tests`) for one test
 * file: on a free loopback port, nothing saved to disk, stopped by `close()`. Tests that
 * need shared state across nodes (issue 15) start one each, so no test sees another's keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  /** `redis://127.0.0.1:<port>`: what VOXFACE_REDIS_URL takes. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'voxface-redis-'));
  const child: ChildProcess = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    // BullMQ asks for this policy; the default (volatile-lru on Debian's config) only warns.
    '--maxmemory-policy', 'noeviction',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const spawnError = new Promise<Error>((done) => child.once('error', done));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await acceptsConnections(port)) break;
    const failed = await Promise.race([spawnError, new Promise<undefined>((done) => setTimeout(done, 50))]);
    if (failed) throw new Error(`redis-server did not start (${failed.message}): run scripts/setup.sh --tests`);
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}: ${stderr.trim() || `exit ${child.exitCode}`}`);
    }
  }
  let closing: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= (async () => {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
