/**
 * The body of one uploaded frame (PUT /api/onboarding/sessions/:id/frames/:index),
 * `application/octet-stream`: four length-prefixed parts (u32 little-endian byte
 * length, then the bytes), in order:
 *
 *   1. header: UTF-8 JSON FrameHeader (at most FRAME_HEADER_MAX_BYTES)
 *   2. image: the CROP_SIZE² crop composited on white by the mask, JPEG (baseline or progressive)
 *   3. mask: the CROP_SIZE² 8-bit soft head mask, zlib-deflated (RFC 1950, CompressionStream('deflate'))
 *   4. landmarks: LANDMARK_COUNT x (u, v) float32 LE in crop pixels; empty when no face
 *
 * This is what client/capture/FrameCapture produces per frame (image, mask,
 * landmarksPx, the tracker's blendshapes and facial transformation matrix), the
 * same content as `voxface prepare`'s capture body, so one dataset format serves
 * both paths. Binary rather than multipart: one frame is one small request whose
 * parts need no boundary scanning. Pure (no Node APIs): the capture page
 * (client/onboarding) encodes with it, the server decodes and checks.
 */
import { BLENDSHAPE_COUNT, LANDMARK_COUNT, POSE_LENGTH } from '../dataset/format';
import { packParts, unpackParts } from '../binary/lengthPrefixedParts';

/** A frame body that does not follow the format; the server answers it with 400 `bad_frame`. */
export class FrameBodyError extends Error {
  override name = 'FrameBodyError';
}

export const FRAME_HEADER_MAX_BYTES = 8 * 1024;
export const FRAME_PARTS = 4;
export const LANDMARK_BYTES = LANDMARK_COUNT * 2 * 4;

export interface FrameHeader {
  /** Must equal the index in the URL. */
  index: number;
  faceFound: boolean;
  /** BLENDSHAPE_COUNT scores in MediaPipe's order (`_neutral` first), each in [0, 1]. */
  blendshapes: number[];
  /** MediaPipe's facial transformation matrix, 4x4 column-major, cm; null without a face. */
  pose: number[] | null;
}

export interface FrameBody {
  header: FrameHeader;
  jpeg: Uint8Array;
  deflatedMask: Uint8Array;
  /** LANDMARK_COUNT * 2 floats, or null without a face. */
  landmarks: Float32Array | null;
}

export function encodeFrameBody(header: FrameHeader, jpeg: Uint8Array, deflatedMask: Uint8Array, landmarks: Float32Array | null): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const marks = landmarks ? new Uint8Array(landmarks.buffer, landmarks.byteOffset, landmarks.byteLength) : new Uint8Array(0);
  return packParts([head, jpeg, deflatedMask, marks]);
}

const invalid = (message: string) => new FrameBodyError(message);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Splits and checks the body (structure and tracking data only; the JPEG and
 * mask contents are checked by their own decoders). Throws FrameBodyError.
 */
export function decodeFrameBody(body: Uint8Array, expectedIndex: number): FrameBody {
  const unpacked = unpackParts(body, FRAME_PARTS);
  if ('error' in unpacked) throw invalid(`frame body ${unpacked.error}`);
  const [head, jpeg, deflatedMask, marks] = unpacked.parts as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  if (head.length > FRAME_HEADER_MAX_BYTES) throw invalid(`frame header is ${head.length} bytes (at most ${FRAME_HEADER_MAX_BYTES})`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head));
  } catch {
    throw invalid('frame header is not UTF-8 JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('frame header must be a JSON object');
  const h = raw as Record<string, unknown>;
  if (h.index !== expectedIndex) throw invalid(`frame header index ${String(h.index)} does not match the URL's ${expectedIndex}`);
  if (typeof h.faceFound !== 'boolean') throw invalid('frame header needs faceFound (boolean)');
  const { blendshapes, pose } = h;
  if (!Array.isArray(blendshapes) || blendshapes.length !== BLENDSHAPE_COUNT || !blendshapes.every((v) => finite(v) && v >= 0 && v <= 1)) {
    throw invalid(`blendshapes must be ${BLENDSHAPE_COUNT} numbers in [0, 1]`);
  }
  if (h.faceFound) {
    if (!Array.isArray(pose) || pose.length !== POSE_LENGTH || !pose.every(finite)) throw invalid(`a frame with a face needs pose: ${POSE_LENGTH} finite numbers`);
    if (marks.length !== LANDMARK_BYTES) throw invalid(`a frame with a face needs ${LANDMARK_COUNT} landmarks (${LANDMARK_BYTES} bytes), got ${marks.length} bytes`);
  } else {
    if (pose !== null && pose !== undefined) throw invalid('a frame without a face must have pose null');
    if (marks.length !== 0) throw invalid('a frame without a face must send no landmarks');
  }
  let landmarks: Float32Array | null = null;
  if (marks.length) {
    // Copied: a Node Buffer slice shares (and may sit unaligned in) a larger pool.
    landmarks = new Float32Array(Uint8Array.from(marks).buffer);
    if (!landmarks.every(Number.isFinite)) throw invalid('landmarks must be finite');
  }
  if (jpeg.length === 0) throw invalid('frame image part is empty');
  if (deflatedMask.length === 0) throw invalid('frame mask part is empty');
  return {
    header: { index: expectedIndex, faceFound: h.faceFound, blendshapes: blendshapes as number[], pose: h.faceFound ? (pose as number[]) : null },
    jpeg, deflatedMask, landmarks,
  };
}
