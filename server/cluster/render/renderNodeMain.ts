/**
 * What a render-only node (`server/main.ts` with VOXFACE_ROLES=render, or render,trainer)
 * starts: one or more mediasoup workers (VOXFACE_WORKERS, its own RTC port range), the
 * avatar store on the shared folder, an AvatarService with the server's avatar settings
 * and caps (VOXFACE_MAX_AVATAR_SESSIONS is its capacity), the RenderNode on Redis, and
 * an HTTP listener with `/health` only (the node's sessions; no signaling, no client).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import type { VoxfaceConfig } from '../../config';
import { Logger } from '../../Logger';
import { WorkerPool } from '../../media/WorkerPool';
import { RoomManager } from '../../rooms/RoomManager';
import { CoefficientIngest } from '../../streams/CoefficientIngest';
import { AvatarService, type RendererFactory } from '../../avatar/AvatarService';
import { AvatarStore } from '../../avatar/AvatarStore';
import { ProcessFrameRenderer } from '../../avatar/ProcessFrameRenderer';
import { GpuRenderHostPool } from '../../avatar/GpuRenderHostPool';
import { BackgroundImages } from '../../backgrounds/BackgroundImages';
import { SignalingError } from '../../signaling/SignalingError';
import { encoderCodeSizeOf } from '../../encoder/EncoderModels';
import { requirePipeAddress } from '../sfu/sfuClusterConfig';
import { RenderNode } from './RenderNode';

const logger = new Logger('renderNode');

export interface StartedRenderNode {
  node: RenderNode;
  avatars: AvatarService;
  /** The health listener's origin. */
  url: string;
  close(): Promise<void>;
}

export async function startRenderNode(config: VoxfaceConfig): Promise<StartedRenderNode> {
  const redisUrl = config.cluster.redisUrl;
  if (!redisUrl) throw new TypeError('a render node needs VOXFACE_REDIS_URL (its sessions come from SFU nodes through Redis)');
  const announcedAddress = requirePipeAddress(config.sfuCluster);
  const pool = await WorkerPool.create({ numWorkers: config.numWorkers, rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort, logLevel: config.logLevel });
  const rooms = new RoomManager(pool, config.caps);
  const ingest = new CoefficientIngest(rooms, { packetsPerSecond: config.coefficientPacketsPerSecond, packetBurst: config.coefficientPacketBurst });
  const store = new AvatarStore(config.avatarDir, { shared: true });
  const backgrounds = new BackgroundImages(join(config.avatarDir, '.backgrounds'));
  const gpuHosts = config.renderBackend === 'cpu' ? undefined
    : new GpuRenderHostPool({ backend: config.renderBackend, allowSoftwareGpu: config.renderAllowSoftwareGpu, recoverAfterMs: config.renderGpuRecoverMs });
  const rendererFactory: RendererFactory = (id, size, signal) => (gpuHosts
    ? gpuHosts.open(store.existing(id), size, { renderScale: config.avatarRenderScale, signal })
    : ProcessFrameRenderer.open(store.existing(id), size, { renderScale: config.avatarRenderScale, signal })
  ).then((renderer) => {
    logger.info(`avatar ${id} renders on the ${renderer.backend.toUpperCase()} (${renderer.backendReason})`);
    return renderer;
  });
  const avatars = new AvatarService(ingest, rendererFactory, {
    width: config.avatarWidth, height: config.avatarHeight, fps: config.avatarFps, codec: config.avatarCodec, bitrateKbps: config.avatarBitrateKbps,
    marker: config.avatarMarker, limits: config.avatarLimits,
    // Without it an encoder avatar hosted here would drop its owner's code packets (no-encoder).
    codeSizeOf: (avatarId) => encoderCodeSizeOf(store.existing(avatarId)),
    // The SFU node checked it too; the store is shared, so the same owner rule holds here.
    authorize: (userId, avatarId) => {
      if (!store.canDrive(userId, avatarId)) throw new SignalingError('forbidden', `avatar '${avatarId}' belongs to another user`);
    },
    backgroundImage: (userId, id) => {
      const path = backgrounds.pathOf(userId, id);
      if (!path) throw new SignalingError('not-found', `background image '${id}' is not one of user ${userId}'s`);
      return path;
    },
  });
  const node = new RenderNode({
    redisUrl, nodeName: config.cluster.nodeName, rooms, avatars, ingest, capacity: config.avatarLimits.maxSessions,
    listenIp: config.sfuCluster.pipeListenIp, announcedAddress, enableSrtp: config.sfuCluster.pipeSrtp, ttlMs: config.sfuCluster.nodeTtlMs,
  });
  const app = express().disable('x-powered-by');
  app.get('/health', (_req, res) => {
    const healthy = pool.workers.length > 0;
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'degraded', workers: pool.workers.length, render: node.health() });
  });
  const http: HttpServer = createServer(app);
  const close = async () => {
    await node.close();
    avatars.close();
    gpuHosts?.close();
    ingest.close();
    rooms.close();
    pool.close();
    http.closeAllConnections?.();
    await new Promise<void>((done) => http.close(() => done()));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => { http.off('error', reject); resolve(); });
    });
    const { port } = http.address() as AddressInfo;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    await node.start(url);
    return { node, avatars, url, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
