// The held-out frames as a call would show them: the source video's own frames (not the
// dataset's head crops on white) brought into the call's framing (Framing.ts), with the
// eval's regions there:
// - frame: the output pixels the video covers (the framing reaches past a tight clip's
//   edges; what the call shows there has no ground truth);
// - person: the dataset's head mask or the capture's body plate (alpha > 0.5);
// - face: MediaPipe's face oval from the frame's own landmarks.
// Baselines in the same framing: the mean of every training frame, and the training frame
// whose coefficients and pose are nearest. The video is decoded once, as one rawvideo
// stream at the plates' size (the size their intrinsics are for); it must be the video the
// dataset was made from (checked by its SHA-256).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { LANDMARK_COUNT, type Intrinsics } from '../../shared/dataset/format';
import type { LoadedDataset } from '../dataset/loadDataset';
import { sha256File } from '../dataset/video';
import { type Baselines, type EvalFrame, nearestFrame } from './Evaluate';
import { faceOvalRegion, imageToCamera } from './FaceRegion';
import { framedSampler, sampleFramed } from './FramedTruth';
import type { PixelCamera } from './Framing';
import type { RealDataset } from './RealDataset';

/** The dataset's plates as dataset.json describes them (docs/dataset.md). */
export interface DatasetPlates {
  readonly width: number;
  readonly height: number;
  readonly intrinsics: Intrinsics;
  readonly background: string;
  readonly body: string;
}

export function datasetPlates(files: LoadedDataset): DatasetPlates | undefined {
  return (files.meta as { plates?: DatasetPlates }).plates;
}

export interface FramedEvalInput {
  /** Held-out frames (and the training frames' coefficients and poses, for the nearest-frame baseline). */
  readonly ds: RealDataset;
  readonly files: LoadedDataset;
  /** The source video the dataset was made from. */
  readonly video: string;
  readonly cam: PixelCamera;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface FramedEval {
  readonly test: EvalFrame[];
  readonly baselines: Baselines;
}

function readPng(path: string, channels: 1 | 4, expectW: number, expectH: number): Uint8Array {
  const png = PNG.sync.read(readFileSync(path));
  if (png.width !== expectW || png.height !== expectH) throw new Error(`${path} is ${png.width}x${png.height}, expected ${expectW}x${expectH}`);
  if (channels === 4) return new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length);
  const grey = new Uint8Array(png.width * png.height);
  for (let i = 0; i < grey.length; i++) grey[i] = png.data[4 * i]!;
  return grey;
}

export async function loadFramedEval(o: FramedEvalInput): Promise<FramedEval> {
  const { ds, files, cam } = o, meta = files.meta, plates = datasetPlates(files);
  if (!plates) throw new Error(`${files.dir} has no plates (a version-1 dataset): prepare it again to evaluate in the call's framing`);
  const sha = await sha256File(o.video);
  if (sha !== meta.source.sha256) throw new Error(`${o.video} is not the video ${files.dir} was made from (${meta.source.file}, SHA-256 ${meta.source.sha256.slice(0, 12)}...)`);
  const W = cam.width, H = cam.height, N = W * H;
  const video = framedSampler(cam, ds.reference, plates.intrinsics, plates.width, plates.height);
  const crop = framedSampler(cam, ds.reference, meta.intrinsics, meta.imageSize, meta.imageSize);
  const bodyRgba = readPng(join(files.dir, plates.body), 4, plates.width, plates.height);
  const bodyAlpha = new Uint8Array(plates.width * plates.height);
  for (let i = 0; i < bodyAlpha.length; i++) bodyAlpha[i] = bodyRgba[4 * i + 3]!;
  const body = sampleFramed(video, bodyAlpha, 1);
  const toFraming = imageToCamera(meta.intrinsics, ds.reference, cam), n = 2 * LANDMARK_COUNT;

  const testAt = new Map(ds.test.map((f) => [f.index, f]));
  const nearestOf = new Map(ds.test.map((f) => [f.index, nearestFrame(f, ds.train).index]));
  const keepTrain = new Set(nearestOf.values()), trainIdx = new Set(ds.train.map((f) => f.index));
  const kept = new Map<number, Float32Array>(), mean = new Float64Array(3 * N), test: EvalFrame[] = [], testIndices: number[] = [];
  let trainCount = 0, done = 0;
  const total = meta.frameCount;
  await decodeVideo(o.video, meta.source.startSec, meta.frameCount, plates.width, plates.height, (index, rgb) => {
    const isTest = testAt.has(index), isTrain = trainIdx.has(index);
    if (isTest || isTrain) {
      const image = sampleFramed(video, rgb, 3);
      // Where the framing reaches past the video there is no truth: grey, so strips and videos show it (no score counts it).
      for (let p = 0; p < N; p++) if (!video.inside[p]) image.fill(0.5, 3 * p, 3 * p + 3);
      if (isTrain) { for (let i = 0; i < image.length; i++) mean[i]! += image[i]!; trainCount++; }
      if (keepTrain.has(index)) kept.set(index, image);
      if (isTest) {
        const f = testAt.get(index)!;
        const head = sampleFramed(crop, readPng(join(files.dir, files.frames[index]!.mask), 1, meta.imageSize, meta.imageSize), 1);
        const mask = new Float32Array(N);
        // Only where the video has a truth: the person region never reaches the grey beyond it.
        for (let p = 0; p < N; p++) mask[p] = video.inside[p] ? Math.max(crop.inside[p] ? head[p]! : 0, body[p]!) : 0;
        const face = faceOvalRegion(files.landmarks.subarray(n * index, n * (index + 1)), toFraming, W, H);
        test.push({ coefficients: f.coefficients, pose: f.pose, landmarks: f.landmarks, image, mask, face, frame: video.inside });
        testIndices.push(index);
      }
    }
    o.onProgress?.(++done, total);
  });
  if (test.length !== ds.test.length) throw new Error(`decoded ${test.length} of ${ds.test.length} held-out frames from ${o.video}`);
  const meanImage = new Float32Array(3 * N);
  for (let i = 0; i < meanImage.length; i++) meanImage[i] = mean[i]! / Math.max(1, trainCount);
  const nearestByFrame = new Map(test.map((f, i) => [f, kept.get(nearestOf.get(testIndices[i]!)!)!]));
  return { test, baselines: { mean: meanImage, nearest: (f) => nearestByFrame.get(f) ?? meanImage } };
}

/** Streams `count` frames from startSec as RGB at width x height, in order (as prepare decoded them: every frame, passthrough timing). */
async function decodeVideo(path: string, startSec: number, count: number, width: number, height: number, onFrame: (index: number, rgb: Uint8Array) => void): Promise<void> {
  const args = ['-v', 'error', '-nostdin'];
  if (startSec > 0) args.push('-ss', String(startSec));
  args.push('-i', path, '-frames:v', String(count), '-map', '0:v:0', '-an', '-fps_mode', 'passthrough',
    '-vf', `scale=${width}:${height}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const frameBytes = width * height * 3, buf = new Uint8Array(frameBytes);
  let filled = 0, index = 0, stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  child.stdout.on('data', (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      const k = Math.min(frameBytes - filled, chunk.length - at);
      buf.set(chunk.subarray(at, at + k), filled);
      filled += k; at += k;
      if (filled === frameBytes) { onFrame(index++, buf); filled = 0; }
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot run ffmpeg to decode ${path}: ${e.message}`)));
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`ffmpeg could not decode ${path}: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`);
  if (index !== count) throw new Error(`decoded ${index} frames from ${path}, the dataset has ${count}`);
}
