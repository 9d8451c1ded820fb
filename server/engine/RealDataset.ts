// A prepared dataset (docs/dataset.md) as training frames at the model's resolution.
//
// Each 512 px crop is resampled through the look-at view of PoseMapping (the model camera
// turned towards the median head position, principal point at the image centre): for a
// model pixel, its ray in the model camera is rotated by Q into MediaPipe's camera and
// projected with the dataset intrinsics. A camera rotation is a homography for a pinhole,
// so this is exact up to resampling, and it also removes the crop's off-centre principal
// point. Each output pixel averages ss x ss bilinear taps (ss = ceil(512 / res), at most
// 8) so downsampling does not alias. Pixels that fall outside the crop are white with
// mask 0 (the background the model composites on).
//
// JPEGs are decoded by ffmpeg (already required by `prepare`) as one rawvideo stream, one
// frame in memory at a time; masks (PNG) by pngjs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { type DatasetMeta, LANDMARK_COUNT } from '../../shared/dataset/format';
import { loadDataset, type LoadedDataset } from '../dataset/loadDataset';
import type { AvatarConfig, CameraConfig, HeadPose } from './AvatarModelTypes';
import { cropToOutput, faceOvalRegion } from './FaceRegion';
import {
  cameraForReference, expressionCoefficients, headPoseFromMediaPipe, lookAtRotation, medianReference,
  type PoseReference, type Vec3Cm,
} from './PoseMapping';
import type { TrainingFrame } from './TrainerTypes';

export interface RealFrame extends TrainingFrame {
  /** Frame index in the dataset (time order). */
  readonly index: number;
  readonly split: 'train' | 'test';
  /** [res*res] head mask in [0,1]. */
  readonly mask: Float32Array;
  /** [res*res] 1 inside the frame's face oval (its own landmarks; FaceRegion.ts), absent when it has no face. */
  readonly faceRegion?: Uint8Array;
}

export interface RealDataset {
  readonly dir: string;
  readonly meta: DatasetMeta;
  readonly res: number;
  readonly reference: PoseReference;
  /** The model camera reproducing the dataset's view (distance from the reference, focal fx/512). */
  readonly camera: CameraConfig;
  readonly train: RealFrame[];
  readonly test: RealFrame[];
}

export interface RealDatasetOptions {
  /** Output side, pixels (square). */
  readonly res: number;
  /** Which splits to decode (default both). */
  readonly splits?: readonly ('train' | 'test')[];
  /** Keep only every n-th frame of each split (quick looks, tests). */
  readonly stride?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export function poseMatrix(d: LoadedDataset, i: number): Float32Array {
  return d.poses.subarray(16 * i, 16 * i + 16);
}

/** The training reference: median translation over train frames (all face frames when there are none). */
export function datasetReference(d: LoadedDataset): PoseReference {
  const use = d.frames.filter((f) => f.split === 'train');
  const src = use.length > 0 ? use : d.frames.filter((f) => f.faceFound);
  return medianReference(src.map((f) => { const m = poseMatrix(d, f.index); return [m[12]!, m[13]!, m[14]!] as Vec3Cm; }));
}

/** Pose and coefficients of frame i, as the model sees them. */
export function frameInputs(d: LoadedDataset, i: number, reference: PoseReference, config: AvatarConfig): { pose: HeadPose; coefficients: Float32Array } {
  return {
    pose: headPoseFromMediaPipe(poseMatrix(d, i), reference),
    coefficients: expressionCoefficients(d.blendshapes.subarray(52 * i, 52 * i + 52), config),
  };
}

/**
 * For every output pixel, its ss x ss source positions (u, v in crop pixels), computed
 * once per dataset: the mapping depends only on the camera, not on the frame.
 */
export function sourcePositions(meta: DatasetMeta, reference: PoseReference, res: number, ss: number): Float32Array {
  const q = lookAtRotation(reference), k = meta.intrinsics, focal = k.fx / meta.imageSize;
  const out = new Float32Array(res * res * ss * ss * 2);
  let o = 0;
  for (let j = 0; j < res; j++)
    for (let i = 0; i < res; i++)
      for (let b = 0; b < ss; b++)
        for (let a = 0; a < ss; a++) {
          // Model camera ray (x right, y up, -z forward), then rotated into MediaPipe's camera.
          const dx = (i + (a + 0.5) / ss - res / 2) / (focal * res), dy = -(j + (b + 0.5) / ss - res / 2) / (focal * res), dz = -1;
          const x = q[0]! * dx + q[1]! * dy + q[2]! * dz, y = q[3]! * dx + q[4]! * dy + q[5]! * dz, z = q[6]! * dx + q[7]! * dy + q[8]! * dz;
          out[o++] = k.cx + (k.fx * x) / -z;
          out[o++] = k.cy - (k.fy * y) / -z;
        }
  return out;
}

/** Resamples an interleaved 8-bit image (channels c) at the given source positions (pixel centres at +0.5). */
export function resample(src: Uint8Array, size: number, c: number, positions: Float32Array, ss: number, fill: number, out: Float32Array): void {
  const taps = ss * ss, n = positions.length / 2 / taps, acc = new Float64Array(c);
  for (let p = 0; p < n; p++) {
    acc.fill(0);
    for (let t = 0; t < taps; t++) {
      const u = positions[2 * (p * taps + t)]! - 0.5, v = positions[2 * (p * taps + t) + 1]! - 0.5;
      const x0 = Math.floor(u), y0 = Math.floor(v), fx = u - x0, fy = v - y0;
      for (let yy = 0; yy < 2; yy++)
        for (let xx = 0; xx < 2; xx++) {
          const w = (xx ? fx : 1 - fx) * (yy ? fy : 1 - fy);
          if (w === 0) continue;
          const x = x0 + xx, y = y0 + yy;
          if (x < 0 || y < 0 || x >= size || y >= size) { for (let ch = 0; ch < c; ch++) acc[ch]! += w * fill; continue; }
          const at = (y * size + x) * c;
          for (let ch = 0; ch < c; ch++) acc[ch]! += (w * src[at + ch]!) / 255;
        }
    }
    for (let ch = 0; ch < c; ch++) out[p * c + ch] = acc[ch]! / taps;
  }
}

/** Streams the dataset's JPEGs (index order, all frames) through ffmpeg as raw RGB. */
async function decodeImages(dir: string, meta: DatasetMeta, onFrame: (index: number, rgb: Uint8Array) => void): Promise<void> {
  const size = meta.imageSize, frameBytes = size * size * 3;
  const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-start_number', '0', '-i', join(dir, 'images', '%05d.jpg'),
    '-frames:v', String(meta.frameCount), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const buf = new Uint8Array(frameBytes);
  let filled = 0, index = 0, stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  child.stdout.on('data', (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - at);
      buf.set(chunk.subarray(at, at + n), filled);
      filled += n; at += n;
      if (filled === frameBytes) { onFrame(index++, buf); filled = 0; }
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot run ffmpeg to decode the dataset images: ${e.message}`)));
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`ffmpeg could not decode ${join(dir, 'images')}: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`);
  if (index !== meta.frameCount) throw new Error(`decoded ${index} images from ${join(dir, 'images')}, dataset.json says ${meta.frameCount}`);
}

/** Loads and validates the dataset, then decodes its train/test frames at `res`. */
export async function loadRealDataset(dir: string, config: AvatarConfig, o: RealDatasetOptions): Promise<RealDataset> {
  if (!Number.isInteger(o.res) || o.res < 8 || o.res > 1024) throw new RangeError(`resolution must be an integer in [8, 1024], got ${o.res}`);
  const d = loadDataset(dir), meta = d.meta, res = o.res, stride = Math.max(1, Math.floor(o.stride ?? 1));
  const reference = datasetReference(d);
  const camera = cameraForReference(reference, meta.intrinsics.fx / meta.imageSize);
  const splits = new Set(o.splits ?? ['train', 'test']);
  const wanted = new Map<number, 'train' | 'test'>();
  for (const split of ['train', 'test'] as const) {
    const frames = d.frames.filter((f) => f.split === split);
    if (splits.has(split)) frames.forEach((f, n) => { if (n % stride === 0) wanted.set(f.index, split); });
  }
  const ss = Math.min(8, Math.ceil(meta.imageSize / res)), positions = sourcePositions(meta, reference, res, ss);
  const cfg = { ...config, camera }, toModelView = cropToOutput(meta, reference, res, res), lm = 2 * LANDMARK_COUNT;
  const out: RealFrame[] = [];
  let done = 0;
  await decodeImages(d.dir, meta, (index, rgb) => {
    const split = wanted.get(index);
    if (!split) return;
    const image = new Float32Array(res * res * 3), mask = new Float32Array(res * res);
    resample(rgb, meta.imageSize, 3, positions, ss, 1, image);
    const png = PNG.sync.read(readFileSync(join(d.dir, d.frames[index]!.mask)));
    if (png.width !== meta.imageSize || png.height !== meta.imageSize) throw new Error(`mask of frame ${index} is ${png.width}x${png.height}, expected ${meta.imageSize}`);
    const grey = new Uint8Array(png.width * png.height);
    for (let i = 0; i < grey.length; i++) grey[i] = png.data[4 * i]!;
    resample(grey, meta.imageSize, 1, positions, ss, 0, mask);
    const faceRegion = faceOvalRegion(d.landmarks.subarray(lm * index, lm * (index + 1)), toModelView, res, res);
    const landmarks = d.landmarks.slice(lm * index, lm * (index + 1)); // crop px, NaN without a face: the expression encoder's input
    out.push({ index, split, image, mask, landmarks, ...(faceRegion ? { faceRegion } : {}), ...frameInputs(d, index, reference, cfg) });
    o.onProgress?.(++done, wanted.size);
  });
  return { dir: d.dir, meta, res, reference, camera, train: out.filter((f) => f.split === 'train'), test: out.filter((f) => f.split === 'test') };
}
