/**
 * What the re-tracking page (client/retrack/retrackPage.ts, run in headless
 * Chromium) and its Node driver (server/retrack/Retracker.ts) say to each
 * other. The driver calls `window.voxfaceRetrack` through `page.evaluate`; the
 * page answers with plain JSON, which the driver checks with these schemas
 * before trusting it (a page is another process: its answers cross a boundary).
 */
import { z } from 'zod';

/** 478: the 468 mesh points and 10 iris points. */
export const RETRACK_LANDMARK_COUNT = 478;
/** Images one `track` call takes at most: bounds the page's memory and the JSON answer (~26 KB an image). */
export const RETRACK_MAX_BATCH = 16;
/** Longest side accepted, px (a 4096² RGBA image is 64 MiB; the landmark model sees 256 px anyway). */
export const RETRACK_MAX_SIDE = 4096;

export interface RetrackInit {
  wasmBaseUrl: string;
  faceModelUrl: string;
  /** CPU by default: the figures are then the same on every machine (GPU delegates round differently). */
  delegate: 'CPU' | 'GPU';
}

/** One image for the page: raw RGBA bytes at `url`, `width` x `height`. */
export interface RetrackImageRequest {
  url: string;
  width: number;
  height: number;
}

export const retrackImageRequestSchema = z.object({
  url: z.string().min(1).max(200),
  width: z.number().int().min(1).max(RETRACK_MAX_SIDE),
  height: z.number().int().min(1).max(RETRACK_MAX_SIDE),
}).strict();

export const retrackBatchSchema = z.array(retrackImageRequestSchema).min(1).max(RETRACK_MAX_BATCH);

/** One image's answer: MediaPipe's normalized landmarks (x, y, z triples), null when no face was found. */
export const retrackResultSchema = z.object({
  landmarks: z.array(z.number().finite()).length(RETRACK_LANDMARK_COUNT * 3).nullable(),
  trackerMs: z.number().finite().min(0),
}).strict();

export type RetrackResult = z.infer<typeof retrackResultSchema>;

export const retrackBatchResultSchema = z.array(retrackResultSchema).max(RETRACK_MAX_BATCH);

/** The page's `window.voxfaceRetrack`. The page declares its object with this type, so the two cannot drift apart. */
export interface RetrackPageApi {
  /** Starts FaceLandmarker (IMAGE mode); resolves to the delegate it runs on. */
  init(options: RetrackInit): Promise<string>;
  /** Landmarks of each image, in order. */
  track(images: RetrackImageRequest[]): Promise<RetrackResult[]>;
  close(): void;
}
