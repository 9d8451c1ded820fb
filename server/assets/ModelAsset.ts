/**
 * A model file the browser needs (MediaPipe's face_landmarker.task) that no npm
 * package ships: served from a configured path and, when missing, fetched from
 * its official address, verified against its SHA-256 and written atomically.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomicFile';
import { Logger } from '../Logger';

const logger = new Logger('ModelAsset');

export interface ModelAssetSpec {
  name: string;
  path: string;
  url: string;
  sha256: string;
  /** Refuse downloads larger than this. */
  maxBytes: number;
}

/** MediaPipe Face Landmarker, float16 version 1 (the copy the tests use has this checksum). */
export const FACE_LANDMARKER_MODEL = {
  name: 'face_landmarker.task',
  url: 'https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task',
  sha256: '64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff',
  maxBytes: 32 * 1024 * 1024,
} as const;

/** MediaPipe Selfie Segmenter, float16 version 1 (the copy in ../shared/data/models has this checksum). */
export const SELFIE_SEGMENTER_MODEL = {
  name: 'selfie_segmenter.tflite',
  url: 'https://storage.googleapis.com/mediapipe-models/image_segmenter/selfie_segmenter/float16/latest/selfie_segmenter.tflite',
  sha256: '191ac9529ae506ee0beefa6b2c945a172dab9d07d1e802a290a4e4038226658b',
  maxBytes: 8 * 1024 * 1024,
} as const;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Resolves with the path of a verified copy of the model, downloading it when
 * the path holds nothing. A file present but with the wrong checksum is an error
 * (it is never overwritten: someone put it there).
 */
export async function ensureModelAsset(spec: ModelAssetSpec, fetchImpl: typeof fetch = fetch): Promise<string> {
  if (existsSync(spec.path)) {
    const actual = sha256(readFileSync(spec.path));
    if (actual !== spec.sha256) {
      throw new Error(`${spec.name} at ${spec.path} has SHA-256 ${actual}, expected ${spec.sha256}`);
    }
    return spec.path;
  }
  logger.info(`${spec.name} missing at ${spec.path}: fetching ${spec.url}`);
  let response: Response;
  try {
    response = await fetchImpl(spec.url, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new Error(`cannot fetch ${spec.name} from ${spec.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!response.ok) throw new Error(`cannot fetch ${spec.name} from ${spec.url}: HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > spec.maxBytes) throw new Error(`${spec.name} download of ${declared} bytes exceeds ${spec.maxBytes}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > spec.maxBytes) throw new Error(`${spec.name} download of ${bytes.length} bytes exceeds ${spec.maxBytes}`);
  const actual = sha256(bytes);
  if (actual !== spec.sha256) {
    throw new Error(`${spec.name} from ${spec.url} has SHA-256 ${actual}, expected ${spec.sha256}; not saved`);
  }
  writeFileAtomic(spec.path, bytes);
  logger.info(`${spec.name} verified and saved to ${spec.path}`);
  return spec.path;
}
