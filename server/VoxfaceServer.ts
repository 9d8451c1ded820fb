/**
 * The Voxface server: HTTP (the client, health, dev tokens), socket.io signaling,
 * the admin listener (metrics, stream statistics), and the mediasoup workers and
 * rooms behind them. `close()` is idempotent and stops everything it started.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import express from 'express';
import { Server as SocketIoServer } from 'socket.io';
import { SIGNALING_LIMITS } from '../shared/signaling/limits';
import { devTokenRouter } from './auth/devTokenRouter';
import { INTERNAL_PATHS, internalGate, internalRouter } from './auth/internalEndpoints';
import { TokenAuthority } from './auth/TokenAuthority';
import { verifyAccessToken } from './auth/AccessToken';
import type { VoxfaceConfig } from './config';
import { Logger } from './Logger';
import { WorkerPool } from './media/WorkerPool';
import { Metrics } from './metrics';
import { RoomManager } from './rooms/RoomManager';
import { SignalingServer } from './signaling/SignalingServer';
import { SignalingError } from './signaling/SignalingError';
import { FACE_LANDMARKER_MODEL, SELFIE_SEGMENTER_MODEL, ensureModelAsset } from './assets/ModelAsset';
import { CoefficientIngest } from './streams/CoefficientIngest';
import { AvatarService, type RendererFactory } from './avatar/AvatarService';
import { AvatarStore } from './avatar/AvatarStore';
import { ProcessFrameRenderer } from './avatar/ProcessFrameRenderer';
import { encoderCodeSizeOf } from './encoder/EncoderModels';
import { GpuRenderHostPool } from './avatar/GpuRenderHostPool';
import { onboardingRouter } from './onboarding/onboardingRouter';
import { BackgroundImages } from './backgrounds/BackgroundImages';
import { backgroundsRouter } from './backgrounds/backgroundsRouter';
import { OnboardingService } from './onboarding/OnboardingService';
import { TrainingQueue } from './onboarding/TrainingQueue';
import { trainerEnvOf } from './onboarding/trainerArgs';
import type { TrainingJobQueue } from './onboarding/TrainingJobQueue';
import { ClusterTrainingQueue } from './cluster/training/ClusterTrainingQueue';
import type { TrainingWorker } from './cluster/training/TrainingWorker';
import { trainingWorkerFor } from './cluster/training/trainerNode';
import { OnboardingProgress } from './onboarding/OnboardingProgress';
import { SfuCluster } from './cluster/sfu/SfuCluster';
import { RenderPlacement } from './cluster/render/RenderPlacement';

export interface VoxfaceServerDependencies {
  /** Makes a renderer for a stored avatar (default: a render process per avatar renderer). */
  rendererFactory?: RendererFactory;
}

const logger = new Logger('VoxfaceServer');

export class VoxfaceServer {
  readonly config: VoxfaceConfig;
  readonly pool: WorkerPool;
  readonly rooms: RoomManager;
  /** Every avatar-enabled peer's decoded coefficient stream (the renderer's input). */
  readonly coefficients: CoefficientIngest;
  readonly avatarStore: AvatarStore;
  /** Background images users uploaded for their avatars' video. */
  readonly backgrounds: BackgroundImages;
  readonly avatars: AvatarService;
  /** The GPU render hosts (VOXFACE_RENDER_BACKEND gpu or auto, and no injected renderer factory). */
  readonly gpuHosts?: GpuRenderHostPool;
  /** Train-on-join: uploads to datasets, and the training job queue behind them (BullMQ with VOXFACE_REDIS_URL). */
  readonly trainingQueue: TrainingJobQueue;
  /** With Redis and role `trainer`: this node also takes training jobs (docs/cluster.md). */
  readonly #trainingWorker?: TrainingWorker;
  readonly onboarding: OnboardingService;
  readonly metrics: Metrics;
  readonly http: HttpServer;
  readonly io: SocketIoServer;
  readonly app: express.Express;
  /** Mints and checks this server's call and onboarding tokens. */
  readonly tokens: TokenAuthority;
  /** /metrics and /api/coefficient-streams on VOXFACE_ADMIN_HOST (none when VOXFACE_ADMIN_PORT=off). */
  readonly admin?: HttpServer;
  readonly #signaling: SignalingServer;
  /** Settles once the face model is verified on disk (or could not be). */
  readonly faceModel: Promise<{ ok: true; path: string } | { ok: false; error: string }>;
  /** Fetched on the first request (only the onboarding capture page needs it). */
  #segmenterModel?: Promise<string>;
  readonly #progress: OnboardingProgress;
  /** Rooms shared with the other SFU nodes (VOXFACE_REDIS_URL and role sfu; docs/cluster.md). */
  readonly sfuCluster?: SfuCluster;
  /** Avatar sessions placed on render nodes (with the SFU cluster; docs/cluster.md, "Render nodes"). */
  readonly renderPlacement?: RenderPlacement;
  #closed = false;

  private constructor(config: VoxfaceConfig, pool: WorkerPool, deps: VoxfaceServerDependencies) {
    this.config = config;
    this.pool = pool;
    this.tokens = new TokenAuthority(config.tokenSecret, config.tokenAudience, config.devTokenTtlSeconds);
    this.rooms = new RoomManager(pool, config.caps);
    if (config.cluster.redisUrl && config.cluster.roles.has('sfu')) {
      this.sfuCluster = new SfuCluster({
        redisUrl: config.cluster.redisUrl, nodeName: config.cluster.nodeName, roles: config.cluster.roles, config: config.sfuCluster, rooms: this.rooms,
      });
    }
    this.coefficients = new CoefficientIngest(this.rooms, { packetsPerSecond: config.coefficientPacketsPerSecond, packetBurst: config.coefficientPacketBurst });
    if (this.sfuCluster) {
      this.renderPlacement = new RenderPlacement({
        cluster: this.sfuCluster, ingest: this.coefficients, listenIp: config.sfuCluster.pipeListenIp,
        announcedAddress: this.sfuCluster.pipeAddress, enableSrtp: config.sfuCluster.pipeSrtp,
      });
    }
    // With Redis the folder is shared with other nodes (docs/cluster.md).
    this.avatarStore = new AvatarStore(config.avatarDir, { shared: config.cluster.redisUrl !== undefined });
    this.backgrounds = new BackgroundImages(join(config.avatarDir, '.backgrounds'));
    // The CPU backend: a render process per avatar. A GPU (gpu, auto): every session on one
    // render host process per device, its frames batched per tick (docs/gpu.md).
    const gpuHosts = deps.rendererFactory || config.renderBackend === 'cpu' ? undefined
      : new GpuRenderHostPool({ backend: config.renderBackend, allowSoftwareGpu: config.renderAllowSoftwareGpu, recoverAfterMs: config.renderGpuRecoverMs });
    this.gpuHosts = gpuHosts;
    const rendererFactory: RendererFactory = deps.rendererFactory
      ?? ((id, size, signal) => (gpuHosts
        ? gpuHosts.open(this.avatarStore.existing(id), size, { renderScale: config.avatarRenderScale, signal })
        : ProcessFrameRenderer.open(this.avatarStore.existing(id), size, { renderScale: config.avatarRenderScale, signal })
      ).then((renderer) => {
        logger.info(`avatar ${id} renders on the ${renderer.backend.toUpperCase()} (${renderer.backendReason})`);
        return renderer;
      }));
    this.avatars = new AvatarService(this.coefficients, rendererFactory, {
      width: config.avatarWidth, height: config.avatarHeight, fps: config.avatarFps, renderBudget: config.avatarRenderCores, codec: config.avatarCodec, bitrateKbps: config.avatarBitrateKbps,
      marker: config.avatarMarker, limits: config.avatarLimits, hosting: this.renderPlacement,
      codeSizeOf: (avatarId) => encoderCodeSizeOf(this.avatarStore.existing(avatarId)),
      authorize: (userId, avatarId) => {
        if (!this.avatarStore.canDrive(userId, avatarId)) {
          throw new SignalingError('forbidden', `avatar '${avatarId}' belongs to another user`);
        }
      },
      backgroundImage: (userId, id) => {
        const path = this.backgrounds.pathOf(userId, id);
        if (!path) throw new SignalingError('not-found', `background image '${id}' is not one of yours (upload it with PUT /api/backgrounds)`);
        return path;
      },
    });
    this.metrics = new Metrics(pool, this.rooms, this.coefficients, this.avatars);
    this.app = express();
    this.app.disable('x-powered-by');
    this.http = createServer(this.app);
    this.io = new SocketIoServer(this.http, {
      maxHttpBufferSize: SIGNALING_LIMITS.maxTransportMessageBytes,
      serveClient: false,
    });
    this.#signaling = new SignalingServer(this.io, config, this.rooms, this.metrics, this.avatars, this.sfuCluster);
    const onboardingDir = config.onboardingDir ?? join(config.avatarDir, '.onboarding');
    const redisUrl = config.cluster.redisUrl;
    // With Redis this node only enqueues; trainer nodes (this one too, with role trainer) take the jobs.
    this.trainingQueue = redisUrl
      ? new ClusterTrainingQueue({
        redisUrl, dir: onboardingDir, maxAttempts: config.onboardingMaxAttempts, usablePsnr: config.onboardingUsablePsnr,
        failedRetentionMs: config.onboardingFailedRetentionMs,
      })
      : new TrainingQueue({
        dir: onboardingDir, store: this.avatarStore, concurrency: config.onboardingConcurrency, maxAttempts: config.onboardingMaxAttempts,
        usablePsnr: config.onboardingUsablePsnr, usableMarginDb: config.onboardingUsableMarginDb,
        usableFaceSsimMargin: config.onboardingUsableFaceSsimMargin, snapshotSeconds: config.onboardingSnapshotSeconds,
        failedRetentionMs: config.onboardingFailedRetentionMs, trainerEnv: trainerEnvOf(config),
      });
    this.#trainingWorker = redisUrl && config.cluster.roles.has('trainer') ? trainingWorkerFor(config, this.avatarStore) : undefined;
    // Each better version a trainer installs replaces the avatar in its owner's live call.
    this.trainingQueue.on('installed', ({ job }) => {
      this.avatars.reloadAvatar(job.avatarId).catch((error: unknown) => logger.warn(`reloading ${job.avatarId} failed: ${String(error)}`));
    });
    this.#progress = new OnboardingProgress(this.io, this.trainingQueue, this.tokens);
    this.onboarding = new OnboardingService({
      dir: onboardingDir, store: this.avatarStore, queue: this.trainingQueue, limits: config.onboardingLimits, training: config.onboardingTraining,
    });
    this.faceModel = ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path: config.faceModelPath, url: config.faceModelUrl }).then(
      (path) => ({ ok: true as const, path }),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        logger.warn(`face tracking unavailable: ${message}`);
        return { ok: false as const, error: message };
      },
    );
    this.#routes();
    if (config.adminPort !== undefined) this.admin = createServer(express().disable('x-powered-by').use(internalRouter(this.metrics, this.coefficients)));
  }

  static async start(config: VoxfaceConfig, deps: VoxfaceServerDependencies = {}): Promise<VoxfaceServer> {
    const pool = await WorkerPool.create({
      numWorkers: config.numWorkers,
      rtcMinPort: config.rtcMinPort,
      rtcMaxPort: config.rtcMaxPort,
      logLevel: config.logLevel,
    });
    let server: VoxfaceServer | undefined;
    try {
      server = new VoxfaceServer(config, pool, deps);
      await listen(server.http, config.port, config.host);
      if (server.admin) await listen(server.admin, config.adminPort!, config.adminHost);
      await server.sfuCluster?.start(server.url);
      // Unfinished jobs of a previous run resume now (from their checkpoints).
      await server.trainingQueue.start();
      await server.#trainingWorker?.start();
      return server;
    } catch (error) {
      // Leave no worker process behind to keep Node alive.
      if (server) await server.close();
      else pool.close();
      throw error;
    }
  }

  /** The HTTP origin, with `localhost` for wildcard hosts (browsers need it for a secure context). */
  get url(): string {
    const { port } = this.http.address() as AddressInfo;
    const host = ['0.0.0.0', '::', '127.0.0.1'].includes(this.config.host) ? 'localhost' : this.config.host;
    return `http://${host}:${port}`;
  }

  /** The admin listener's origin (metrics, stream statistics); undefined when it is off. */
  get adminUrl(): string | undefined {
    if (!this.admin) return undefined;
    const { port } = this.admin.address() as AddressInfo;
    const host = this.config.adminHost.includes(':') ? `[${this.config.adminHost}]` : this.config.adminHost;
    return `http://${host}:${port}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#signaling.close();
    this.#progress.close();
    // Trainers save a checkpoint on the way out, so their jobs resume on the next start.
    await this.trainingQueue.close();
    await this.#trainingWorker?.close();
    this.renderPlacement?.close();
    this.avatars.close();
    this.gpuHosts?.close();
    this.coefficients.close();
    this.rooms.close();
    // After the rooms: their peers' departures reach the other nodes before this one leaves.
    await this.sfuCluster?.close();
    this.pool.close();
    const closed = new Promise<void>((done) => this.io.close(() => done()));
    // io.close() ends with http.close(), which waits for every open connection: one request a page
    // left in flight held a CI run's server.close() (and the test) for good. Pages reconnect to a
    // restarted server, so connections are dropped until the server has closed.
    const drop = () => this.http.closeAllConnections?.();
    drop();
    const dropping = setInterval(drop, 100);
    this.admin?.close();
    this.admin?.closeAllConnections?.();
    try {
      await closed;
    } finally {
      clearInterval(dropping);
    }
  }

  #routes(): void {
    const app = this.app;
    app.get('/health', (_req, res) => {
      const healthy = this.pool.workers.length > 0;
      res.status(healthy ? 200 : 503).json({
        status: healthy ? 'ok' : 'degraded', workers: this.pool.workers.length, rooms: this.rooms.rooms.size,
        ...(this.sfuCluster ? { cluster: this.sfuCluster.health() } : {}),
        ...(this.renderPlacement ? { renderPlacement: this.renderPlacement.health() } : {}),
      });
    });
    // Room and peer ids: the admin listener's, or here with the metrics token.
    app.use([...INTERNAL_PATHS], internalGate(this.config.metricsToken));
    app.use(internalRouter(this.metrics, this.coefficients));
    if (this.sfuCluster) {
      const { tokenSecret, tokenAudience } = this.config;
      app.use(this.sfuCluster.router((token, room) => verifyAccessToken(tokenSecret, token, { audience: tokenAudience, scope: 'call', room }).ok));
    }
    app.get('/api/config', (_req, res) => {
      res.json({ devMode: this.config.devMode });
    });
    // Dev mode only (asked for, or loopback): anyone who can reach the server may mint tokens for any room.
    if (this.config.devMode) app.use(devTokenRouter(this.tokens, this.config.devTokensPerMinute));
    app.get('/api/avatars', (_req, res) => {
      // Owned avatars are listed to their owner through /api/onboarding/avatars.
      res.json(this.avatarStore.listPublic());
    });
    app.use('/api/onboarding', onboardingRouter(this.onboarding, this.tokens));
    app.use('/api/backgrounds', backgroundsRouter(this.backgrounds, this.tokens));
    app.get(`/models/${FACE_LANDMARKER_MODEL.name}`, async (_req, res) => {
      const model = await this.faceModel;
      if (model.ok) res.sendFile(model.path, { maxAge: '1d' });
      else res.status(503).json({ error: `face model unavailable: ${model.error}` });
    });
    app.get(`/models/${SELFIE_SEGMENTER_MODEL.name}`, async (_req, res) => {
      this.#segmenterModel ??= ensureModelAsset({ ...SELFIE_SEGMENTER_MODEL, path: this.config.segmenterModelPath, url: this.config.segmenterModelUrl });
      try {
        res.sendFile(await this.#segmenterModel, { maxAge: '1d' });
      } catch (error) {
        // Anonymous requests must not start a download each: the failure stands for a minute.
        const failed = this.#segmenterModel;
        setTimeout(() => { if (this.#segmenterModel === failed) this.#segmenterModel = undefined; }, 60_000).unref();
        res.status(503).json({ error: `segmenter model unavailable: ${error instanceof Error ? error.message : String(error)}` });
      }
    });
    // The wasm runtime of @mediapipe/tasks-vision, served from the installed package.
    const tasksVision = dirname(createRequire(import.meta.url).resolve('@mediapipe/tasks-vision'));
    app.use('/mediapipe/wasm', express.static(resolve(tasksVision, 'wasm'), { maxAge: '1d' }));
    // onnxruntime-web's wasm build for the tracker worker's expression encoder (client/tracking/ExpressionEncoderRunner.ts).
    app.use('/ort', express.static(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), { maxAge: '1d', index: false }));
    const clientDir = resolve(this.config.clientDir);
    if (!existsSync(clientDir)) logger.warn(`client not built (${clientDir} is missing): run 'npm run build:client'`);
    app.use(express.static(clientDir, { index: 'index.html', maxAge: 0 }));
  }
}

function listen(http: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolveListen, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolveListen();
    });
  });
}
