/**
 * What the `voxface prepare` page (client/capture/preparePage.ts, run in
 * headless Chromium) and its Node driver (server/dataset/prepareDataset.ts)
 * say to each other: the calls the driver makes on the page, and the bodies
 * the page posts back over the local HTTP server (server/dataset/captureServer.ts).
 * Both tiers import it, so it lives here rather than in either.
 */
import type { CropWindow } from './format';
import { packParts, unpackParts } from '../binary/lengthPrefixedParts';

/**
 * The page's `window.voxfacePrepare`, which the driver calls through
 * `page.evaluate`. The page declares its object with this type, so the two
 * cannot drift apart.
 */
export interface PrepareApi {
  /** Starts MediaPipe (both landmarkers); resolves to the delegate it runs on. */
  init(options: PrepareInit): Promise<string>;
  /** First pass over a subsample of frames: where the face is; each result goes to POST /track. */
  trackPass(indices: number[]): Promise<void>;
  /** Captures every frame with the decided crop; each result goes to POST /capture, plate samples to POST /plate. */
  capturePass(request: CapturePassRequest): Promise<void>;
  close(): void;
}

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
  /**
   * Frames (at most PLATE_MAX_SAMPLES, spread over the clip) whose whole frame
   * is also sent, at width x height (plateSize of the decoded frame), as a
   * plate sample body (shared/dataset/plateSample.ts) to POST /plate, when a face was found in it.
   */
  plates: { frames: number[]; width: number; height: number };
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
