/**
 * What the `voxface prepare` page and its Node driver say to each other over
 * the local HTTP server (server/dataset/captureServer.ts). Types only.
 */
import type { CropWindow } from '../../shared/dataset/format';
import { packParts, unpackParts } from '../../shared/binary/lengthPrefixedParts';

export interface PrepareInit {
  wasmBaseUrl: string;
  faceModelUrl: string;
  segmenterModelUrl: string;
}

/** First pass result for one sampled frame: the landmark box, normalized to the frame. */
export interface TrackSample {
  index: number;
  found: boolean;
  box: { minX: number; minY: number; maxX: number; maxY: number } | null;
}

export interface CapturePassRequest {
  frameCount: number;
  /** In decoded-frame pixels. */
  crop: CropWindow;
  /** Frames whose raw crop is also sent (downscaled to `tileSize`) for the contact sheet. */
  sheetFrames: number[];
  tileSize: number;
}

/** JSON head of one frame's POST /capture body; binary parts follow (see encodeCaptureBody). */
export interface CaptureHeader {
  index: number;
  faceFound: boolean;
  blendshapes: number[];
  transform: number[] | null;
  /** Normalized x, y, z triples over the full frame. */
  landmarks: number[] | null;
  trackerMs: number;
  segmenterMs: number;
  /** Page time for this frame from capture start to JPEG encoded. */
  pageMs: number;
}

/**
 * The POST body: five length-prefixed parts (u32 little-endian length, bytes):
 * header JSON (without the landmarks), image JPEG, mask (CROP_SIZE² bytes,
 * zlib-deflated), raw tile RGBA (may be empty), landmarks (float32 LE, may be
 * empty). Binary, and small: Playwright's CDP connection copies every POST
 * body to Node (base64 in JSON), so size costs CPU on both sides. The
 * landmarks are float32 in the tracker already, so the round trip is exact.
 */
export function encodeCaptureBody(header: CaptureHeader, jpeg: Uint8Array, deflatedMask: Uint8Array, tile: Uint8Array): Uint8Array<ArrayBuffer> {
  const landmarks = header.landmarks ? new Uint8Array(Float32Array.from(header.landmarks).buffer) : new Uint8Array(0);
  const head = new TextEncoder().encode(JSON.stringify({ ...header, landmarks: null }));
  return packParts([head, jpeg, deflatedMask, tile, landmarks]);
}

/** The parts of a POST /capture body; `deflatedMask` is still compressed. */
export function decodeCaptureBody(body: Uint8Array): { header: CaptureHeader; jpeg: Uint8Array; deflatedMask: Uint8Array; tile: Uint8Array } {
  const unpacked = unpackParts(body, 5);
  if ('error' in unpacked) throw new Error(`capture body ${unpacked.error}`);
  const [head, jpeg, deflatedMask, tile, landmarkBytes] = unpacked.parts as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const header = JSON.parse(new TextDecoder().decode(head)) as CaptureHeader;
  if (landmarkBytes.length % 4 !== 0) throw new Error('capture body landmarks are not float32');
  header.landmarks = landmarkBytes.length
    ? Array.from(new Float32Array(landmarkBytes.slice().buffer))
    : null;
  return { header, jpeg, deflatedMask, tile };
}
