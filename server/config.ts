/**
 * Server configuration from environment variables, with embedded defaults that
 * run the demo on http://localhost:3000. Every variable is documented in README.md.
 */
import { randomBytes } from 'node:crypto';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { FACE_LANDMARKER_MODEL, SELFIE_SEGMENTER_MODEL } from './assets/ModelAsset';
import type { AvatarLimits } from './avatar/AvatarServiceTypes';
import type { OnboardingLimits } from './onboarding/OnboardingService';
import type { TrainingOptions } from './onboarding/TrainingJobTypes';

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
  /** HMAC secret for join tokens. */
  tokenSecret: Buffer;
  /** Dev mode: the secret was generated at start and `/api/dev/token` mints tokens. */
  devMode: boolean;
  devTokenTtlSeconds: number;
  /** Signaling requests per second per connection (token bucket rate) and its burst. */
  requestsPerSecond: number;
  requestBurst: number;
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
  avatarSize: number;
  avatarFps: number;
  avatarCodec: 'VP8' | 'H264';
  avatarBitrateKbps: number;
  /** Rays per output pixel per axis when rendering avatars live (the LIVE preset's 0.35 unless set). */
  avatarRenderScale: number;
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
  /** Seconds of training between snapshots (each a candidate version and a preview). */
  onboardingSnapshotSeconds: number;
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
  const rtcMinPort = intFrom(env, 'VOXFACE_RTC_MIN_PORT', 40000, 1024, 65535);
  const rtcMaxPort = intFrom(env, 'VOXFACE_RTC_MAX_PORT', 49999, 1024, 65535);
  if (rtcMaxPort < rtcMinPort) throw new TypeError('VOXFACE_RTC_MAX_PORT must not be below VOXFACE_RTC_MIN_PORT');
  const logLevel = env.VOXFACE_WORKER_LOG_LEVEL ?? 'warn';
  if (!['debug', 'warn', 'error', 'none'].includes(logLevel)) {
    throw new TypeError(`VOXFACE_WORKER_LOG_LEVEL must be debug, warn, error or none, got '${logLevel}'`);
  }
  // Models and avatars live under one data folder unless each is given its own path.
  const dataDir = env.VOXFACE_DATA_DIR ?? join(homedir(), '.cache', 'voxface');
  const config: VoxfaceConfig = {
    host: env.VOXFACE_HOST ?? '0.0.0.0',
    port: intFrom(env, 'VOXFACE_PORT', 3000, 0, 65535),
    rtcListenIp: env.VOXFACE_RTC_LISTEN_IP ?? '127.0.0.1',
    rtcAnnouncedIp: env.VOXFACE_RTC_ANNOUNCED_IP || undefined,
    rtcMinPort,
    rtcMaxPort,
    numWorkers: intFrom(env, 'VOXFACE_WORKERS', cpus().length, 1, 64),
    tokenSecret: secret ?? randomBytes(32),
    devMode: !secret || env.VOXFACE_DEV === '1',
    devTokenTtlSeconds: intFrom(env, 'VOXFACE_DEV_TOKEN_TTL', 6 * 3600, 10, 7 * 24 * 3600),
    requestsPerSecond: intFrom(env, 'VOXFACE_REQUESTS_PER_SECOND', 20, 1, 10000),
    requestBurst: intFrom(env, 'VOXFACE_REQUEST_BURST', 60, 1, 100000),
    clientDir: env.VOXFACE_CLIENT_DIR ?? 'dist/client',
    logLevel: logLevel as VoxfaceConfig['logLevel'],
    faceModelPath: env.VOXFACE_FACE_MODEL ?? join(dataDir, 'models', FACE_LANDMARKER_MODEL.name),
    faceModelUrl: env.VOXFACE_FACE_MODEL_URL ?? FACE_LANDMARKER_MODEL.url,
    segmenterModelPath: env.VOXFACE_SEGMENTER_MODEL ?? join(dataDir, 'models', SELFIE_SEGMENTER_MODEL.name),
    segmenterModelUrl: env.VOXFACE_SEGMENTER_MODEL_URL ?? SELFIE_SEGMENTER_MODEL.url,
    avatarDir: env.VOXFACE_AVATAR_DIR ?? join(dataDir, 'avatars'),
    avatarSize: intFrom(env, 'VOXFACE_AVATAR_SIZE', 256, 64, 1024),
    avatarFps: intFrom(env, 'VOXFACE_AVATAR_FPS', 25, 5, 60),
    avatarCodec: codecFrom(env.VOXFACE_AVATAR_CODEC),
    avatarBitrateKbps: intFrom(env, 'VOXFACE_AVATAR_BITRATE', 600, 50, 10000),
    avatarRenderScale: numberFrom(env, 'VOXFACE_AVATAR_RENDER_SCALE', 0.35, 0.1, 1),
    avatarMarker: env.VOXFACE_AVATAR_MARKER === '1',
    avatarLimits: avatarLimitsFrom(env),
    onboardingDir: env.VOXFACE_ONBOARDING_DIR || undefined,
    onboardingLimits: {
      maxFrameBytes: intFrom(env, 'VOXFACE_ONBOARDING_MAX_FRAME_KB', 256, 16, 8192) * 1024,
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
      // 128: on 2 cores held-out quality plateaus as high as at 256 (KatieHill), with 4x cheaper steps and snapshots.
      res: intFrom(env, 'VOXFACE_ONBOARDING_TRAIN_RES', 128, 16, 1024),
      model: modelFrom(env.VOXFACE_ONBOARDING_TRAIN_MODEL),
    },
    onboardingConcurrency: intFrom(env, 'VOXFACE_ONBOARDING_CONCURRENT_JOBS', 1, 1, 16),
    onboardingMaxAttempts: intFrom(env, 'VOXFACE_ONBOARDING_MAX_ATTEMPTS', 3, 1, 20),
    onboardingUsablePsnr: numberFrom(env, 'VOXFACE_ONBOARDING_USABLE_PSNR', 18, 0, 100),
    onboardingUsableMarginDb: numberFrom(env, 'VOXFACE_ONBOARDING_USABLE_MARGIN_DB', 1.5, -100, 100),
    onboardingSnapshotSeconds: numberFrom(env, 'VOXFACE_ONBOARDING_SNAPSHOT_SECONDS', 20, 5, 3600),
  };
  return { ...config, ...overrides };
}
