/**
 * Server configuration from environment variables, with embedded defaults that
 * run the demo on http://localhost:3000. Every variable is documented in README.md.
 */
import { randomBytes } from 'node:crypto';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { FACE_LANDMARKER_MODEL } from './assets/ModelAsset';

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
  /** Trained avatars (`<id>.vxa`), and how avatar video is made. */
  avatarDir: string;
  avatarSize: number;
  avatarFps: number;
  avatarCodec: 'VP8' | 'H264';
  avatarBitrateKbps: number;
  /** Draw a sequence-number marker into avatar frames (latency benchmarks). */
  avatarMarker: boolean;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<VoxfaceConfig> = {}): VoxfaceConfig {
  const secret = secretFrom(env);
  const rtcMinPort = intFrom(env, 'VOXFACE_RTC_MIN_PORT', 40000, 1024, 65535);
  const rtcMaxPort = intFrom(env, 'VOXFACE_RTC_MAX_PORT', 49999, 1024, 65535);
  if (rtcMaxPort < rtcMinPort) throw new TypeError('VOXFACE_RTC_MAX_PORT must not be below VOXFACE_RTC_MIN_PORT');
  const logLevel = env.VOXFACE_WORKER_LOG_LEVEL ?? 'warn';
  if (!['debug', 'warn', 'error', 'none'].includes(logLevel)) {
    throw new TypeError(`VOXFACE_WORKER_LOG_LEVEL must be debug, warn, error or none, got '${logLevel}'`);
  }
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
    faceModelPath: env.VOXFACE_FACE_MODEL ?? join(env.VOXFACE_DATA_DIR ?? join(homedir(), '.cache', 'voxface'), 'models', FACE_LANDMARKER_MODEL.name),
    faceModelUrl: env.VOXFACE_FACE_MODEL_URL ?? FACE_LANDMARKER_MODEL.url,
    avatarDir: env.VOXFACE_AVATAR_DIR ?? join(env.VOXFACE_DATA_DIR ?? join(homedir(), '.cache', 'voxface'), 'avatars'),
    avatarSize: intFrom(env, 'VOXFACE_AVATAR_SIZE', 256, 64, 1024),
    avatarFps: intFrom(env, 'VOXFACE_AVATAR_FPS', 25, 5, 60),
    avatarCodec: codecFrom(env.VOXFACE_AVATAR_CODEC),
    avatarBitrateKbps: intFrom(env, 'VOXFACE_AVATAR_BITRATE', 600, 50, 10000),
    avatarMarker: env.VOXFACE_AVATAR_MARKER === '1',
  };
  return { ...config, ...overrides };
}
