/** Starts a real Voxface server (real mediasoup workers) on a free port for one test file. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type VoxfaceConfig } from '../../server/config';
import { VoxfaceServer, type VoxfaceServerDependencies } from '../../server/VoxfaceServer';

export async function startTestServer(overrides: Partial<VoxfaceConfig> = {}, deps: VoxfaceServerDependencies = {}): Promise<VoxfaceServer> {
  process.env.VOXFACE_QUIET ??= '1';
  const env = { ...process.env };
  delete env.VOXFACE_SECRET;
  const avatarDir = mkdtempSync(join(tmpdir(), 'voxface-avatars-'));
  const config = loadConfig(env, { host: '127.0.0.1', port: 0, numWorkers: 1, avatarDir, ...overrides });
  return VoxfaceServer.start(config, deps);
}
