/** Starts a real Voxface server (real mediasoup workers) on a free port for one test file. */
import { loadConfig, type VoxfaceConfig } from '../../server/config';
import { VoxfaceServer } from '../../server/VoxfaceServer';

export async function startTestServer(overrides: Partial<VoxfaceConfig> = {}): Promise<VoxfaceServer> {
  process.env.VOXFACE_QUIET ??= '1';
  const env = { ...process.env };
  delete env.VOXFACE_SECRET;
  const config = loadConfig(env, { host: '127.0.0.1', port: 0, numWorkers: 1, ...overrides });
  return VoxfaceServer.start(config);
}
