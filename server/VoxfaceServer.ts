/**
 * The Voxface server: HTTP (the client, health, metrics, dev tokens), socket.io
 * signaling, and the mediasoup workers and rooms behind them. `close()` is
 * idempotent and stops everything it started.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import express from 'express';
import { Server as SocketIoServer } from 'socket.io';
import { ID_PATTERN, SIGNALING_LIMITS } from '../shared/signaling/limits';
import { mintJoinToken } from './auth/JoinToken';
import type { VoxfaceConfig } from './config';
import { Logger } from './Logger';
import { WorkerPool } from './media/WorkerPool';
import { Metrics } from './metrics';
import { RoomManager } from './rooms/RoomManager';
import { SignalingServer } from './signaling/SignalingServer';

const logger = new Logger('VoxfaceServer');

export class VoxfaceServer {
  readonly config: VoxfaceConfig;
  readonly pool: WorkerPool;
  readonly rooms: RoomManager;
  readonly metrics: Metrics;
  readonly http: HttpServer;
  readonly io: SocketIoServer;
  readonly app: express.Express;
  readonly #signaling: SignalingServer;
  #closed = false;

  private constructor(config: VoxfaceConfig, pool: WorkerPool) {
    this.config = config;
    this.pool = pool;
    this.rooms = new RoomManager(pool);
    this.metrics = new Metrics(pool, this.rooms);
    this.app = express();
    this.app.disable('x-powered-by');
    this.http = createServer(this.app);
    this.io = new SocketIoServer(this.http, {
      maxHttpBufferSize: SIGNALING_LIMITS.maxTransportMessageBytes,
      serveClient: false,
    });
    this.#signaling = new SignalingServer(this.io, config, this.rooms, this.metrics);
    this.#routes();
  }

  static async start(config: VoxfaceConfig): Promise<VoxfaceServer> {
    const pool = await WorkerPool.create({
      numWorkers: config.numWorkers,
      rtcMinPort: config.rtcMinPort,
      rtcMaxPort: config.rtcMaxPort,
      logLevel: config.logLevel,
    });
    const server = new VoxfaceServer(config, pool);
    await new Promise<void>((resolveListen, reject) => {
      server.http.once('error', reject);
      server.http.listen(config.port, config.host, () => {
        server.http.off('error', reject);
        resolveListen();
      });
    });
    return server;
  }

  /** The HTTP origin, with `localhost` for wildcard hosts (browsers need it for a secure context). */
  get url(): string {
    const { port } = this.http.address() as AddressInfo;
    const host = ['0.0.0.0', '::', '127.0.0.1'].includes(this.config.host) ? 'localhost' : this.config.host;
    return `http://${host}:${port}`;
  }

  /** Mints a join token with this server's secret (the dev endpoint and tests use it). */
  mintToken(room: string, peerId: string, ttlSeconds = this.config.devTokenTtlSeconds): string {
    return mintJoinToken(this.config.tokenSecret, { room, peerId, exp: Math.floor(Date.now() / 1000) + ttlSeconds });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#signaling.close();
    this.rooms.close();
    this.pool.close();
    await new Promise<void>((done) => this.io.close(() => done()));
    this.http.closeAllConnections?.();
  }

  #routes(): void {
    const app = this.app;
    app.get('/health', (_req, res) => {
      const healthy = this.pool.workers.length > 0;
      res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'degraded', workers: this.pool.workers.length, rooms: this.rooms.rooms.size });
    });
    app.get('/metrics', async (_req, res) => {
      res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
    });
    app.get('/api/config', (_req, res) => {
      res.json({ devMode: this.config.devMode });
    });
    if (this.config.devMode) {
      // Dev mode only: anyone who can reach the server may mint a token for any room.
      app.get('/api/dev/token', (req, res) => {
        const room = typeof req.query.room === 'string' ? req.query.room : 'demo';
        if (!ID_PATTERN.test(room)) {
          res.status(400).json({ error: 'room must be 1-64 characters of A-Z a-z 0-9 _ -' });
          return;
        }
        const peerId = randomUUID().slice(0, 8);
        res.json({ room, peerId, token: this.mintToken(room, peerId) });
      });
    }
    const clientDir = resolve(this.config.clientDir);
    if (!existsSync(clientDir)) logger.warn(`client not built (${clientDir} is missing): run 'npm run build:client'`);
    app.use(express.static(clientDir, { index: 'index.html', maxAge: 0 }));
  }
}
