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
 * when the server closes.
 */
export async function startTestServer(overrides: Partial<VoxfaceConfig> = {}, deps: VoxfaceServerDependencies = {}): Promise<VoxfaceServer> {
  process.env.VOXFACE_QUIET ??= '1';
  const env = { ...process.env };
  delete env.VOXFACE_SECRET;
  const ownDir = overrides.avatarDir === undefined ? mkdtempSync(join(tmpdir(), 'voxface-avatars-')) : undefined;
  const config = loadConfig(env, {
    host: '127.0.0.1', port: 0, numWorkers: 1, faceModelPath: FACE_MODEL_PATH, segmenterModelPath: SEGMENTER_MODEL_PATH,
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
