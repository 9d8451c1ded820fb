/**
 * Server configuration from environment variables, with embedded defaults that
 * run the demo on http://localhost:3000 (loopback only, dev mode). Every variable is documented in README.md.
 */
import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { FACE_LANDMARKER_MODEL, SELFIE_SEGMENTER_MODEL } from './assets/ModelAsset';
import type { AvatarLimits } from './avatar/AvatarServiceTypes';
import type { RenderBackendChoice } from './avatar/renderBackend';
import type { OnboardingLimits } from './onboarding/OnboardingService';
import { capsForPortRange, defaultCapLimits, type CapLimits } from './rooms/Capacity';
import type { TrainingOptions } from './onboarding/TrainingJobTypes';
import { DEFAULT_FACE_SSIM_MARGIN, DEFAULT_MARGIN_DB } from './onboarding/snapshotVerdict';
import { clusterConfigFrom, type ClusterConfig } from './cluster/clusterConfig';
import { clusterTrainingConfigFrom, type ClusterTrainingConfig } from './cluster/training/clusterTrainingConfig';
import { sfuClusterConfigFrom, type SfuClusterConfig } from './cluster/sfu/sfuClusterConfig';

export interface VoxfaceConfig {
  /** HTTP listen host and port (port 0: any free port). */
  host: string;
  port: number;
  /** The address mediasoup binds RTP to, and the one it announces in ICE candidates. */
  rtcListenIp: string;
  rtcAnnouncedIp?: string;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** mediasoup workers (processes); rooms are spread over them. */
  numWorkers: number;
  /** HMAC secret for access tokens (call and onboarding). */
  tokenSecret: Buffer;
  /** The audience tokens must name (`aud`): tokens minted for another service sharing the secret are refused. */
  tokenAudience: string;
  /**
   * Dev mode: `/api/dev/token` mints tokens for anyone who can reach it. Only when asked
   * for (VOXFACE_DEV=1) or on a loopback host; the secret is generated at start unless set.
   */
  devMode: boolean;
  devTokenTtlSeconds: number;
  /** Dev tokens for new users per minute per client address (a browser's cookie keeps its user). */
  devTokensPerMinute: number;
  /** The admin listener (/metrics, /api/coefficient-streams); undefined port: none. */
  adminHost: string;
  adminPort?: number;
  /** With it, /metrics and /api/coefficient-streams are also served on the main port to `Authorization: Bearer <it>`. */
  metricsToken?: string;
  /** Signaling requests per second per connection (token bucket rate) and its burst. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Caps on rooms, peers and mediasoup objects, and the transport connect deadline (server/rooms/Capacity.ts). */
  caps: CapLimits;
  /** Coefficient packets per second per peer (token bucket rate) and its burst; more are dropped. */
  coefficientPacketsPerSecond: number;
  coefficientPacketBurst: number;
  /** Where the built client is served from. */
  clientDir: string;
  logLevel: 'debug' | 'warn' | 'error' | 'none';
  /** MediaPipe's face_landmarker.task: served to browsers, fetched (checksum verified) when missing. */
  faceModelPath: string;
  faceModelUrl: string;
  /** MediaPipe's selfie_segmenter.tflite, for the onboarding capture page; fetched likewise. */
  segmenterModelPath: string;
  segmenterModelUrl: string;
  /** Trained avatars (`<id>.vxa`), and how avatar video is made. */
  avatarDir: string;
  /** Avatar video size (the call framing: 16:9 by default; even sides, for the encoder's 4:2:0). */
  avatarWidth: number;
  avatarHeight: number;
  avatarFps: number;
  /**
   * Cores the CPU avatar sessions may keep busy together; above it their render rate is
   * lowered (down to 5 fps), and each session's sender is told to track that slowly.
   */
  avatarRenderCores: number;
  avatarCodec: 'VP8' | 'H264';
  avatarBitrateKbps: number;
  /** Rays per output pixel per axis when rendering avatars live (the LIVE preset's 0.5 unless set). */
  avatarRenderScale: number;
  /** Where avatars render: 'auto' (a hardware GPU when there is one, else the CPU), 'cpu' or 'gpu' (docs/gpu.md). */
  renderBackend: RenderBackendChoice;
  /** VOXFACE_TRAIN_BACKEND: where `voxface train` and the onboarding's trainers train (server/engine/StepTrainer.ts). */
  trainBackend: RenderBackendChoice;
  /** Accept a software GPU adapter (SwiftShader) for 'gpu': tests only, never for serving. */
  renderAllowSoftwareGpu: boolean;
  /** Sessions that moved to the CPU after a lost GPU go back to a GPU host this long after, ms (Infinity: never). */
  renderGpuRecoverMs: number;
  /** Draw a sequence-number marker into avatar frames (latency benchmarks). */
  avatarMarker: boolean;
  /** Avatar caps: sessions (server, per peer), render processes, video encoders (docs in AvatarServiceTypes). */
  avatarLimits: AvatarLimits;
  /**
   * Train-on-join: uploads, datasets and jobs.json live here (docs/onboarding.md).
   * Unset: `.onboarding` inside avatarDir, so a store and its owners' training data
   * move together (and a server on a temporary store never resumes someone else's jobs).
   */
  onboardingDir?: string;
  onboardingLimits: OnboardingLimits;
  /** What each onboarding training job runs (total budget, resolution, model preset). */
  onboardingTraining: TrainingOptions;
  /** Trainers at once, and trainer starts per job before it is failed. */
  onboardingConcurrency: number;
  onboardingMaxAttempts: number;
  /** Usable early: held-out PSNR floor (dB) and margin over the mean training image a version needs to be installed. */
  onboardingUsablePsnr: number;
  onboardingUsableMarginDb: number;
  /** How far above the mean training image's face SSIM a usable snapshot's must be (server/onboarding/snapshotVerdict.ts). */
  onboardingUsableFaceSsimMargin: number;
  /** Seconds of training between snapshots (each a candidate version and a preview). */
  onboardingSnapshotSeconds: number;
  /** How long a failed training job's data (dataset, uploads, job folder) is kept before it is removed, ms. */
  onboardingFailedRetentionMs: number;
  /** Roles, Redis and node name (issue 15, docs/cluster.md); all roles and no Redis by default. */
  cluster: ClusterConfig;
  /** Training on a queue: checkpoint and progress periods, job lock (docs/cluster.md). */
  clusterTraining: ClusterTrainingConfig;
  /** How this node shows itself to the other SFU nodes when VOXFACE_REDIS_URL is set (pipe address, node URL). */
  sfuCluster: SfuClusterConfig;
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  }
  return value;
}

/**
 * VOXFACE_AVATAR_WIDTH x VOXFACE_AVATAR_HEIGHT (default 640x360); the deprecated
 * VOXFACE_AVATAR_SIZE, when set alone, still gives a square of that side.
 */
function avatarSizeFrom(env: NodeJS.ProcessEnv): { avatarWidth: number; avatarHeight: number } {
  const square = env.VOXFACE_AVATAR_WIDTH || env.VOXFACE_AVATAR_HEIGHT ? undefined : env.VOXFACE_AVATAR_SIZE || undefined;
  const side = square === undefined ? undefined : intFrom(env, 'VOXFACE_AVATAR_SIZE', 0, 64, 1080);
  const avatarWidth = side ?? intFrom(env, 'VOXFACE_AVATAR_WIDTH', 640, 64, 1920);
  const avatarHeight = side ?? intFrom(env, 'VOXFACE_AVATAR_HEIGHT', 360, 64, 1080);
  if (avatarWidth % 2 || avatarHeight % 2) throw new TypeError(`the avatar video size must be even (4:2:0 video), got ${avatarWidth}x${avatarHeight}`);
  return { avatarWidth, avatarHeight };
}

function backendFrom(raw: string | undefined, name: string): RenderBackendChoice {
  if (raw === undefined || raw === '') return 'auto';
  if (raw === 'auto' || raw === 'cpu' || raw === 'gpu') return raw;
  throw new TypeError(`${name} must be auto, cpu or gpu, got '${raw}'`);
}

function codecFrom(raw: string | undefined): 'VP8' | 'H264' {
  if (raw === undefined || raw === '' || raw === 'VP8') return 'VP8';
  if (raw === 'H264') return 'H264';
  throw new TypeError(`VOXFACE_AVATAR_CODEC must be VP8 or H264, got '${raw}'`);
}

function secretFrom(env: NodeJS.ProcessEnv): Buffer | undefined {
  const raw = env.VOXFACE_SECRET;
  if (!raw) return undefined;
  if (Buffer.byteLength(raw) < 16) throw new TypeError('VOXFACE_SECRET must be at least 16 characters');
  return Buffer.from(raw, 'utf8');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** 127.0.0.0/8, ::1 (any spelling) or localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Dev mode lets anyone who reaches the server mint tokens, so it is on only when asked
 * for or when only this machine can reach it; a server others can reach needs a secret.
 */
function devModeFrom(env: NodeJS.ProcessEnv, host: string, secret: Buffer | undefined): boolean {
  if (env.VOXFACE_DEV === '1') return true;
  if (secret) return false;
  if (isLoopbackHost(host)) return true;
  throw new TypeError(
    `VOXFACE_SECRET is not set and VOXFACE_HOST=${host} is not a loopback address: set VOXFACE_SECRET `
    + '(at least 16 characters) to serve other machines, or VOXFACE_DEV=1 for dev mode (anyone may mint tokens)',
  );
}

function optionalTokenFrom(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  if (Buffer.byteLength(raw) < 16) throw new TypeError(`${name} must be at least 16 characters`);
  return raw;
}

function adminPortFrom(env: NodeJS.ProcessEnv): number | undefined {
  if (env.VOXFACE_ADMIN_PORT === 'off') return undefined;
  return intFrom(env, 'VOXFACE_ADMIN_PORT', 3001, 0, 65535);
}

function audienceFrom(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'voxface';
  if (raw.length > 64) throw new TypeError('VOXFACE_TOKEN_AUDIENCE must be at most 64 characters');
  return raw;
}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new TypeError(`${name} must be a number in [${min}, ${max}], got '${raw}'`);
  return value;
}

function modelFrom(raw: string | undefined): TrainingOptions['model'] {
  // fast (32-wide heads) by default: the same held-out quality as default on KatieHill, ~1.26x faster to render live.
  if (raw === undefined || raw === '') return 'fast';
  if (raw === 'default' || raw === 'small' || raw === 'fast') return raw;
  throw new TypeError(`VOXFACE_ONBOARDING_TRAIN_MODEL must be fast, default or small, got '${raw}'`);
}

const MIB = 1024 * 1024;

/**
 * Two avatar sessions per core by default (each renders in a process of its own; the
 * scheduler lowers their frame rate above the render budget), and room for a new
 * version or a replacement loading beside each of a quarter of them.
 */
function avatarLimitsFrom(env: NodeJS.ProcessEnv): AvatarLimits {
  const maxSessions = intFrom(env, 'VOXFACE_MAX_AVATAR_SESSIONS', Math.max(4, cpus().length * 2), 0, 10_000);
  return {
    maxSessions,
    maxSessionsPerPeer: intFrom(env, 'VOXFACE_MAX_AVATAR_SESSIONS_PER_PEER', 2, 0, 100),
    maxRenderProcesses: intFrom(env, 'VOXFACE_MAX_RENDER_PROCESSES', maxSessions + Math.max(2, Math.ceil(maxSessions / 4)), 0, 10_000),
    maxEncoders: intFrom(env, 'VOXFACE_MAX_AVATAR_ENCODERS', maxSessions, 0, 10_000),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<VoxfaceConfig> = {}): VoxfaceConfig {
  const secret = secretFrom(env);
  // Loopback by default: `npm start` serves this machine's browser in dev mode, and nobody else.
  const host = env.VOXFACE_HOST || '127.0.0.1';
  const devMode = devModeFrom(env, host, secret);
  const rtcMinPort = intFrom(env, 'VOXFACE_RTC_MIN_PORT', 40000, 1024, 65535);
  const rtcMaxPort = intFrom(env, 'VOXFACE_RTC_MAX_PORT', 49999, 1024, 65535);
  if (rtcMaxPort < rtcMinPort) throw new TypeError('VOXFACE_RTC_MAX_PORT must not be below VOXFACE_RTC_MIN_PORT');
  const rangeCaps = capsForPortRange(rtcMinPort, rtcMaxPort);
  const capDefaults = defaultCapLimits();
  const logLevel = env.VOXFACE_WORKER_LOG_LEVEL ?? 'warn';
  if (!['debug', 'warn', 'error', 'none'].includes(logLevel)) {
    throw new TypeError(`VOXFACE_WORKER_LOG_LEVEL must be debug, warn, error or none, got '${logLevel}'`);
  }
  // Models and avatars live under one data folder unless each is given its own path.
  const dataDir = env.VOXFACE_DATA_DIR ?? join(homedir(), '.cache', 'voxface');
  const config: VoxfaceConfig = {
    host,
    port: intFrom(env, 'VOXFACE_PORT', 3000, 0, 65535),
    rtcListenIp: env.VOXFACE_RTC_LISTEN_IP ?? '127.0.0.1',
    rtcAnnouncedIp: env.VOXFACE_RTC_ANNOUNCED_IP || undefined,
    rtcMinPort,
    rtcMaxPort,
    numWorkers: intFrom(env, 'VOXFACE_WORKERS', cpus().length, 1, 64),
    tokenSecret: secret ?? randomBytes(32),
    tokenAudience: audienceFrom(env.VOXFACE_TOKEN_AUDIENCE),
    devMode,
    devTokenTtlSeconds: intFrom(env, 'VOXFACE_DEV_TOKEN_TTL', 6 * 3600, 10, 7 * 24 * 3600),
    devTokensPerMinute: intFrom(env, 'VOXFACE_DEV_TOKENS_PER_MINUTE', 30, 1, 100_000),
    adminHost: env.VOXFACE_ADMIN_HOST || '127.0.0.1',
    adminPort: adminPortFrom(env),
    metricsToken: optionalTokenFrom(env, 'VOXFACE_METRICS_TOKEN'),
    requestsPerSecond: intFrom(env, 'VOXFACE_REQUESTS_PER_SECOND', 20, 1, 10000),
    requestBurst: intFrom(env, 'VOXFACE_REQUEST_BURST', 60, 1, 100000),
    caps: {
      maxRooms: intFrom(env, 'VOXFACE_MAX_ROOMS', capDefaults.maxRooms, 1, 1_000_000),
      // Derived from the RTC port range (capsForPortRange); more transports than ports can never bind.
      maxPeers: intFrom(env, 'VOXFACE_MAX_PEERS', rangeCaps.maxPeers, 1, 1_000_000),
      maxTransports: intFrom(env, 'VOXFACE_MAX_TRANSPORTS', rangeCaps.maxTransports, 1, rtcMaxPort - rtcMinPort + 1),
      maxPeersPerRoom: intFrom(env, 'VOXFACE_MAX_PEERS_PER_ROOM', capDefaults.maxPeersPerRoom, 1, 10_000),
      maxTransportsPerPeer: intFrom(env, 'VOXFACE_MAX_TRANSPORTS_PER_PEER', capDefaults.maxTransportsPerPeer, 1, 64),
      maxProducersPerPeer: intFrom(env, 'VOXFACE_MAX_PRODUCERS_PER_PEER', capDefaults.maxProducersPerPeer, 1, 256),
      maxConsumersPerPeer: intFrom(env, 'VOXFACE_MAX_CONSUMERS_PER_PEER', capDefaults.maxConsumersPerPeer, 1, 10_000),
      maxDataProducersPerPeer: intFrom(env, 'VOXFACE_MAX_DATA_PRODUCERS_PER_PEER', capDefaults.maxDataProducersPerPeer, 1, 256),
      transportConnectTimeoutMs: Math.round(numberFrom(env, 'VOXFACE_TRANSPORT_CONNECT_TIMEOUT', capDefaults.transportConnectTimeoutMs / 1000, 1, 3600) * 1000),
    },
    // 60: twice the tracker's default 30 Hz and the SDK's own ceiling (FaceTracker maxFps <= 60), so no stream the
    // SDK sends is throttled; a burst of 30 covers the 16 packets CoefficientSender lets queue before it skips frames.
    coefficientPacketsPerSecond: intFrom(env, 'VOXFACE_COEFFICIENT_PACKETS_PER_SECOND', 60, 1, 100_000),
    coefficientPacketBurst: intFrom(env, 'VOXFACE_COEFFICIENT_PACKET_BURST', 30, 1, 100_000),
    clientDir: env.VOXFACE_CLIENT_DIR ?? 'dist/client',
    logLevel: logLevel as VoxfaceConfig['logLevel'],
    faceModelPath: env.VOXFACE_FACE_MODEL ?? join(dataDir, 'models', FACE_LANDMARKER_MODEL.name),
    faceModelUrl: env.VOXFACE_FACE_MODEL_URL ?? FACE_LANDMARKER_MODEL.url,
    segmenterModelPath: env.VOXFACE_SEGMENTER_MODEL ?? join(dataDir, 'models', SELFIE_SEGMENTER_MODEL.name),
    segmenterModelUrl: env.VOXFACE_SEGMENTER_MODEL_URL ?? SELFIE_SEGMENTER_MODEL.url,
    avatarDir: env.VOXFACE_AVATAR_DIR ?? join(dataDir, 'avatars'),
    ...avatarSizeFrom(env),
    avatarFps: intFrom(env, 'VOXFACE_AVATAR_FPS', 25, 5, 60),
    avatarRenderCores: numberFrom(env, 'VOXFACE_AVATAR_RENDER_CORES', Math.max(0.5, cpus().length * 0.6), 0.01, 4096),
    avatarCodec: codecFrom(env.VOXFACE_AVATAR_CODEC),
    avatarBitrateKbps: intFrom(env, 'VOXFACE_AVATAR_BITRATE', 600, 50, 10000),
    avatarRenderScale: numberFrom(env, 'VOXFACE_AVATAR_RENDER_SCALE', 0.5, 0.1, 1),
    renderBackend: backendFrom(env.VOXFACE_RENDER_BACKEND, 'VOXFACE_RENDER_BACKEND'),
    // Read by the trainer processes (they inherit the environment); checked here so a typo fails at start, not in every job.
    trainBackend: backendFrom(env.VOXFACE_TRAIN_BACKEND, 'VOXFACE_TRAIN_BACKEND'),
    renderAllowSoftwareGpu: env.VOXFACE_GPU_ALLOW_SOFTWARE === '1',
    renderGpuRecoverMs: env.VOXFACE_GPU_RECOVER_SECONDS === 'off' ? Infinity : numberFrom(env, 'VOXFACE_GPU_RECOVER_SECONDS', 3, 0.1, 3600) * 1000,
    avatarMarker: env.VOXFACE_AVATAR_MARKER === '1',
    avatarLimits: avatarLimitsFrom(env),
    onboardingDir: env.VOXFACE_ONBOARDING_DIR || undefined,
    onboardingLimits: {
      maxFrameBytes: intFrom(env, 'VOXFACE_ONBOARDING_MAX_FRAME_KB', 256, 16, 8192) * 1024,
      maxPlateBytes: intFrom(env, 'VOXFACE_ONBOARDING_MAX_PLATE_KB', 2048, 64, 16384) * 1024,
      maxFramesPerSession: intFrom(env, 'VOXFACE_ONBOARDING_MAX_FRAMES', 1800, 10, 100_000),
      maxSessionsPerUser: intFrom(env, 'VOXFACE_ONBOARDING_MAX_SESSIONS', 2, 1, 100),
      maxSessionBytes: intFrom(env, 'VOXFACE_ONBOARDING_MAX_SESSION_MB', 200, 1, 100_000) * MIB,
      maxTotalBytes: intFrom(env, 'VOXFACE_ONBOARDING_MAX_TOTAL_MB', 2048, 1, 10_000_000) * MIB,
      requestsPerSecond: intFrom(env, 'VOXFACE_ONBOARDING_REQUESTS_PER_SECOND', 40, 1, 10_000),
      requestBurst: intFrom(env, 'VOXFACE_ONBOARDING_REQUEST_BURST', 80, 1, 100_000),
      minFaceFrames: intFrom(env, 'VOXFACE_ONBOARDING_MIN_FACE_FRAMES', 150, 2, 100_000),
      maxAvatarsPerUser: intFrom(env, 'VOXFACE_ONBOARDING_MAX_AVATARS', 3, 1, 1000),
    },
    onboardingTraining: {
      minutes: numberFrom(env, 'VOXFACE_ONBOARDING_TRAIN_MINUTES', 10, 0.05, 24 * 60),
      // 256: a training step's cost does not depend on the image size (random rays; loading
      // takes 512^2 taps per frame at any size). At 256 the face (forehead to chin) is 152-172
      // px tall in the six shared clips' training images (median per clip), against 162 px in
      // the 640x360 call: the detail the call shows. 384 (229-258 px) measured +0.11 dB face
      // PSNR and 1.13x its sharpness on pinkwall at 300 CPU-s (one run on one clip), too
      // small a gain for 2.25x the memory (17 bytes a pixel: 1.1 MB a frame at 256, 2.5 MB at 384;
      // docs/picture.md "Training resolution").
      res: intFrom(env, 'VOXFACE_ONBOARDING_TRAIN_RES', 256, 16, 1024),
      model: modelFrom(env.VOXFACE_ONBOARDING_TRAIN_MODEL),
      // Off by default: issue 16 makes the expression encoder the default only once the six-clip
      // comparison (encoder against blendshapes at equal budget) shows it lowers the mouth's
      // landmark distance by 15% on five of the six clips without losing face PSNR; it did on
      // one of six at 150 CPU-s (docs/fidelity.md, "Encoder against blendshapes").
      encoder: env.VOXFACE_ONBOARDING_TRAIN_ENCODER === '1',
      // The progress view's expression fidelity: the final avatar's held-out renders
      // re-tracked once, when training ends (docs/fidelity.md, "Onboarding"); `0` leaves it out.
      fidelity: env.VOXFACE_ONBOARDING_FIDELITY !== '0',
    },
    onboardingConcurrency: intFrom(env, 'VOXFACE_ONBOARDING_CONCURRENT_JOBS', 1, 1, 16),
    onboardingMaxAttempts: intFrom(env, 'VOXFACE_ONBOARDING_MAX_ATTEMPTS', 3, 1, 20),
    onboardingUsablePsnr: numberFrom(env, 'VOXFACE_ONBOARDING_USABLE_PSNR', 18, 0, 100),
    onboardingUsableMarginDb: numberFrom(env, 'VOXFACE_ONBOARDING_USABLE_MARGIN_DB', DEFAULT_MARGIN_DB, -100, 100),
    onboardingUsableFaceSsimMargin: numberFrom(env, 'VOXFACE_ONBOARDING_USABLE_FACE_SSIM_MARGIN', DEFAULT_FACE_SSIM_MARGIN, -2, 2),
    onboardingSnapshotSeconds: numberFrom(env, 'VOXFACE_ONBOARDING_SNAPSHOT_SECONDS', 20, 5, 3600),
    onboardingFailedRetentionMs: numberFrom(env, 'VOXFACE_ONBOARDING_FAILED_RETENTION_HOURS', 24, 0, 24 * 365) * 3600_000,
    cluster: clusterConfigFrom(env),
    clusterTraining: clusterTrainingConfigFrom(env),
    sfuCluster: sfuClusterConfigFrom(env),
  };
  return { ...config, ...overrides };
}
