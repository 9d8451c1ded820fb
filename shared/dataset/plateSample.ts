/**
 * One plate sample: what the capture page sends, for a few face frames spread
 * over the clip, so the server can rebuild the room behind the person (the
 * clean plate) and the body below the head (the body plate); see
 * server/dataset/plates/PlateEstimator.ts and docs/dataset.md.
 *
 * The body is four length-prefixed parts (shared/binary/lengthPrefixedParts):
 *
 *   1. header: UTF-8 JSON PlateSampleHeader (at most PLATE_HEADER_MAX_BYTES)
 *   2. rgb: the whole decoded frame at plate size, width x height x 3 bytes, zlib-deflated
 *   3. person: the selfie segmenter's person confidence at plate size, width x height bytes, zlib-deflated
 *   4. landmarks: LANDMARK_COUNT x (u, v) float32 LE in plate pixels
 *
 * Why landmarks rather than the head cut's keep weight: the server cuts the
 * person mask with the same function as the training masks
 * (shared/dataset/headCut.ts), so the body plate and the head layer meet along
 * the same line; it also needs the face's geometry (eyes, jaw) to fill the neck
 * under the chin; and 3.8 kB of exact floats replace a second mask it would
 * have to trust. RGB is lossless (deflated, not JPEG): the server has no JPEG
 * decoder, and a median over 48 samples should not inherit 48 sets of block edges.
 *
 * Only structure and the header are checked here (pure: both tiers import
 * it); the server inflates the two images and checks their exact sizes
 * (server/dataset/plates/plateSampleBody.ts).
 */
import { z } from 'zod';
import { packParts, unpackParts } from '../binary/lengthPrefixedParts';
import { LANDMARK_COUNT } from './format';

/** The plates' long side, pixels (the decoded frame is downscaled to it, never up). */
export const PLATE_MAX_SIDE = 640;
/** Samples the plates are estimated from, at most (spread evenly over the clip). */
export const PLATE_MAX_SAMPLES = 48;
export const PLATE_HEADER_MAX_BYTES = 1024;
export const PLATE_SAMPLE_PARTS = 4;
export const PLATE_LANDMARK_BYTES = LANDMARK_COUNT * 2 * 4;

export class PlateSampleError extends Error {
  override name = 'PlateSampleError';
}

/** The plate size of a width x height frame: long side at most PLATE_MAX_SIDE, aspect kept, whole pixels. */
export function plateSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, PLATE_MAX_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

export const plateSampleHeaderSchema = z.object({
  /** The frame's index in the clip. */
  index: z.number().int().min(0),
  width: z.number().int().min(16).max(PLATE_MAX_SIDE),
  height: z.number().int().min(16).max(PLATE_MAX_SIDE),
}).strict();

export type PlateSampleHeader = z.infer<typeof plateSampleHeaderSchema>;

export interface PlateSampleParts {
  header: PlateSampleHeader;
  deflatedRgb: Uint8Array;
  deflatedPerson: Uint8Array;
  /** LANDMARK_COUNT (u, v) pairs in plate pixels. */
  landmarks: Float32Array;
}

export function encodePlateSampleBody(header: PlateSampleHeader, deflatedRgb: Uint8Array, deflatedPerson: Uint8Array, landmarks: Float32Array): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(JSON.stringify(header));
  return packParts([head, deflatedRgb, deflatedPerson, new Uint8Array(landmarks.buffer, landmarks.byteOffset, landmarks.byteLength)]);
}

/** Splits the body and checks its header and landmarks; throws PlateSampleError. */
export function decodePlateSampleBody(body: Uint8Array): PlateSampleParts {
  const unpacked = unpackParts(body, PLATE_SAMPLE_PARTS);
  if ('error' in unpacked) throw new PlateSampleError(`plate sample body ${unpacked.error}`);
  const [head, deflatedRgb, deflatedPerson, marks] = unpacked.parts as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  if (head.length > PLATE_HEADER_MAX_BYTES) throw new PlateSampleError(`plate sample header is ${head.length} bytes, over ${PLATE_HEADER_MAX_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head));
  } catch {
    throw new PlateSampleError('plate sample header is not UTF-8 JSON');
  }
  const parsed = plateSampleHeaderSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PlateSampleError(`plate sample header: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const header = parsed.data;
  if (marks.length !== PLATE_LANDMARK_BYTES) throw new PlateSampleError(`plate sample landmarks are ${marks.length} bytes, expected ${PLATE_LANDMARK_BYTES} (${LANDMARK_COUNT} x 2 float32)`);
  // A copy: `marks` may be a view into a larger (pooled Node) buffer, at any offset.
  const landmarks = new Float32Array(Uint8Array.from(marks).buffer);
  if (!landmarks.every(Number.isFinite)) throw new PlateSampleError('plate sample landmarks must be finite');
  return { header, deflatedRgb, deflatedPerson, landmarks };
}
