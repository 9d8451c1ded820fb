/** Starts a real Voxface server (real mediasoup workers) on a free port for one test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type VoxfaceConfig } from '../../server/config';
import { VoxfaceServer, type VoxfaceServerDependencies } from '../../server/VoxfaceServer';
import { FACE_MODEL_PATH, SEGMENTER_MODEL_PATH } from './sharedData';

/**
 * The shared copies of the MediaPipe models are served (tests never download), and
 * unless the test names its own avatar folder, a temporary one is made and removed
 * when the server closes. It is a dev-mode server on loopback, with its admin listener
 * (`server.adminUrl`: /metrics, /api/coefficient-streams) on a free port; tests mint
 * tokens with `server.tokens` (`mintCall(room, user, { peer })`, `mintOnboarding(user)`).
 */
export async function startTestServer(overrides: Partial<VoxfaceConfig> = {}, deps: VoxfaceServerDependencies = {}): Promise<VoxfaceServer> {
  process.env.VOXFACE_QUIET ??= '1';
  const env = { ...process.env };
  delete env.VOXFACE_SECRET;
  // The suite's own servers, whatever the shell running it serves: loopback, dev mode.
  delete env.VOXFACE_HOST;
  delete env.VOXFACE_DEV;
  const ownDir = overrides.avatarDir === undefined ? mkdtempSync(join(tmpdir(), 'voxface-avatars-')) : undefined;
  const config = loadConfig(env, {
    host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, numWorkers: 1,
    // Every fresh browser context of a test or benchmark is a new dev user from 127.0.0.1.
    devTokensPerMinute: 100_000, faceModelPath: FACE_MODEL_PATH, segmenterModelPath: SEGMENTER_MODEL_PATH,
    ...(ownDir ? { avatarDir: ownDir } : {}), ...overrides,
  });
  const server = await VoxfaceServer.start(config, deps);
  if (ownDir) {
    const close = server.close.bind(server);
    server.close = async () => {
      await close();
      rmSync(ownDir, { recursive: true, force: true });
    };
  }
  return server;
}
