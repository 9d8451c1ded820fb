/**
 * What the `voxface prepare` page and its Node driver say to each other over
 * the local HTTP server (server/dataset/captureServer.ts). Types only.
 */
import type { CropWindow } from '../../shared/dataset/format';

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
 * The POST body: four length-prefixed parts (u32 little-endian length, bytes):
 * header JSON, image JPEG, mask (CROP_SIZE² bytes), raw tile RGBA (may be empty).
 */
export function encodeCaptureBody(header: CaptureHeader, jpeg: Uint8Array, mask: Uint8Array, tile: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const parts = [head, jpeg, mask, tile];
  const total = parts.reduce((sum, part) => sum + 4 + part.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length, true);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

export function decodeCaptureBody(body: Uint8Array): { header: CaptureHeader; jpeg: Uint8Array; mask: Uint8Array; tile: Uint8Array } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < 4; i += 1) {
    if (offset + 4 > body.length) throw new Error('capture body truncated');
    const length = view.getUint32(offset, true);
    if (offset + 4 + length > body.length) throw new Error('capture body truncated');
    parts.push(body.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  const [head, jpeg, mask, tile] = parts as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  return { header: JSON.parse(new TextDecoder().decode(head)) as CaptureHeader, jpeg, mask, tile };
}
