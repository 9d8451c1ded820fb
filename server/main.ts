/** Starts the Voxface server from environment variables (see README.md). */
import { loadConfig } from './config';
import { Logger } from './Logger';
import { VoxfaceServer } from './VoxfaceServer';
import { startTrainerNode } from './cluster/training/trainerNode';
import { startRenderNode } from './cluster/render/renderNodeMain';

const logger = new Logger('main');

async function main(): Promise<void> {
  const config = loadConfig();
  const { roles } = config.cluster;
  // A trainer-only node: no mediasoup workers, no HTTP; jobs from Redis, files in the shared folder (docs/cluster.md).
  if (roles.has('trainer') && !roles.has('sfu') && !roles.has('render')) {
    const worker = await startTrainerNode(config);
    logger.info(`trainer node ${config.cluster.nodeName} taking training jobs (${config.avatarDir})`);
    const stopWorker = (signal: string) => {
      logger.info(`${signal}: shutting down (trainers save their checkpoints; their jobs go back to the queue)`);
      worker.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGINT', () => stopWorker('SIGINT'));
    process.once('SIGTERM', () => stopWorker('SIGTERM'));
    return;
  }
  // A render node (with or without trainer): avatar sessions placed by SFU nodes, /health only (docs/cluster.md).
  if (roles.has('render') && !roles.has('sfu')) {
    const render = await startRenderNode(config);
    const worker = roles.has('trainer') ? await startTrainerNode(config) : undefined;
    logger.info(`render node ${config.cluster.nodeName} ready (health on ${render.url}/health)`);
    const stopRender = (signal: string) => {
      logger.info(`${signal}: shutting down (SFU nodes render its sessions themselves)`);
      Promise.all([render.close(), worker?.close()]).then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGINT', () => stopRender('SIGINT'));
    process.once('SIGTERM', () => stopRender('SIGTERM'));
    return;
  }
  const server = await VoxfaceServer.start(config);
  logger.info(`listening on ${server.url} with ${server.pool.workers.length} mediasoup worker(s)`);
  if (server.adminUrl) logger.info(`metrics and stream statistics on ${server.adminUrl}/metrics (admin listener)`);
  if (config.devMode) {
    const secret = process.env.VOXFACE_SECRET ? 'VOXFACE_SECRET' : 'a secret generated at start';
    logger.info(`dev mode (tokens signed with ${secret}): anyone who reaches ${server.url} may mint tokens at /api/dev/token`);
    logger.info(`ready: open ${server.url}/?room=demo in two browser tabs`);
    logger.info(`  or as a fixed user: ${server.url}/?room=demo&token=${server.tokens.mintCall('demo', 'guest')}`);
  }
  const stop = (signal: string) => {
    logger.info(`${signal}: shutting down`);
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`voxface: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
