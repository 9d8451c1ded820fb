/**
 * `voxface prepare`: video in, dataset folder out.
 *
 *   1. probe the video (refuse what is not a decodable video) and decode its
 *      frames to JPEG in a temporary folder, downscaled when large;
 *   2. in headless Chromium (launched, with MediaPipe started, while ffmpeg
 *      decodes), the browser capture code (client/capture) tracks a
 *      subsample of frames, from which one fixed crop window is decided;
 *   3. it then captures every frame with that crop (tracking, segmentation,
 *      head cut, compositing) and posts each result here, where the writer
 *      stores it in a temporary folder beside the target;
 *   4. the plates (clean background, body) are estimated from up to 48 whole
 *      frames the page also sent (server/dataset/plates);
 *   5. reprojection error, contact sheet and metadata are computed and the
 *      folder is renamed into place. Any failure removes everything temporary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import type { CapturePassRequest, PrepareApi, PrepareInit, TrackSample } from '../../shared/dataset/prepareProtocol';
import { decodeCaptureBody } from '../../shared/dataset/prepareProtocol';
import { cropIntrinsics, landmarksToCropPixels, meanPointDistance, MEDIAPIPE_VERTICAL_FOV_DEG, projectPoints } from '../../shared/dataset/camera';
import { decideCropWindow, type Box } from '../../shared/dataset/cropWindow';
import { DATASET_VERSION, FILES, MESH_VERTEX_COUNT, testStartIndex, type DatasetMeta } from '../../shared/dataset/format';
import { loadCanonicalMesh } from './canonicalMesh';
import { startCaptureServer } from './captureServer';
import { renderContactSheet, SHEET_TILE_SIZE, sheetFrameIndices, type SheetTile } from './contactSheet';
import { checkOutputDir, DatasetWriter } from './DatasetWriter';
import { PrepareError } from './PrepareError';
import { PlateEstimator } from './plates/PlateEstimator';
import { readPlateSampleBody } from './plates/plateSampleBody';
import { writePlates } from './plates/writePlates';
import { plateSize, PLATE_MAX_SAMPLES } from '../../shared/dataset/plateSample';
import { decodeFrames, decodeSize, probeVideo, sha256File } from './video';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PrepareOptions {
  video: string;
  outDir: string;
  force?: boolean;
  faceModelPath: string;
  segmenterModelPath: string;
  /** Frames are decoded with their longer side at most this (default 1280): 4K input is downscaled, not refused. */
  maxSide?: number;
  startSec?: number;
  durationSec?: number;
  maxFrames?: number;
  /** Below this share of frames with a face the video is refused (default 0.5). */
  minFaceRatio?: number;
  chromiumPath?: string;
  signal?: AbortSignal;
  onProgress?: (phase: 'decode' | 'locate' | 'capture', done: number, total: number) => void;
}

export interface PrepareResult {
  frames: number;
  seconds: number;
  fps: number;
  faceFoundRatio: number;
  reprojectionErrorPx: number;
  outDir: string;
  delegate: string;
}

/** Frames the first pass looks at: about 60 spread over the clip (at 30 fps, one every 1/6 s for a 10 s clip; the crop margins absorb motion between them) (every frame of short clips). */
export function locateSampleIndices(frameCount: number, samples = 60): number[] {
  const stride = Math.max(1, Math.ceil(frameCount / samples));
  const indices: number[] = [];
  for (let i = 0; i < frameCount; i += stride) indices.push(i);
  if (indices[indices.length - 1] !== frameCount - 1) indices.push(frameCount - 1);
  return indices;
}

function ensureClientBuilt(clientDir: string): void {
  if (['prepare.js', 'prepare.html', 'face-tracker-worker.js'].every((file) => existsSync(join(clientDir, file)))) return;
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-client.mjs')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new PrepareError(`could not build the capture page (npm run build:client): ${build.stderr || build.error?.message}`);
}

export async function prepareDataset(options: PrepareOptions): Promise<PrepareResult> {
  const started = performance.now();
  const force = options.force ?? false;
  const outDir = resolve(options.outDir);
  checkOutputDir(outDir, force);
  const video = probeVideo(options.video);
  for (const [what, path] of [['face model', options.faceModelPath], ['segmenter model', options.segmenterModelPath]]) {
    if (!existsSync(path!)) throw new PrepareError(`${what} not found at ${path}`);
  }
  const clientDir = join(REPO_ROOT, 'dist', 'client');
  ensureClientBuilt(clientDir);
  const mesh = loadCanonicalMesh(options.faceModelPath);
  const decoded = decodeSize(video.width, video.height, options.maxSide ?? 1280);
  const startSec = options.startSec ?? 0;

  const framesDir = mkdtempSync(join(tmpdir(), 'voxface-frames-'));
  const chromiumPath = options.chromiumPath ?? process.env.VOXFACE_CHROMIUM ?? '/usr/bin/chromium';
  let browser: Browser | undefined;
  let launching: Promise<Browser> | undefined;
  let writer: DatasetWriter | undefined;
  let server: Awaited<ReturnType<typeof startCaptureServer>> | undefined;
  const onAbort = () => { browser?.close().catch(() => undefined); };
  options.signal?.addEventListener('abort', onAbort);
  const phases: string[] = [];
  let phaseStarted = started;
  const phase = (name: string) => {
    const now = performance.now();
    phases.push(`${name} ${((now - phaseStarted) / 1000).toFixed(2)}s`);
    phaseStarted = now;
  };
  try {
    if (!existsSync(chromiumPath)) throw new PrepareError(`Chromium not found at ${chromiumPath} (set VOXFACE_CHROMIUM)`);
    const samples: TrackSample[] = [];
    let sampleCount = 0;
    let onCapture: (body: Buffer) => void = () => { throw new Error('capture pass not started'); };
    let onPlate: (body: Buffer) => void = () => { throw new Error('capture pass not started'); };
    const tasksVision = dirname(createRequire(import.meta.url).resolve('@mediapipe/tasks-vision'));
    server = await startCaptureServer({
      folders: { '/frames/': framesDir, '/mediapipe/wasm/': join(tasksVision, 'wasm'), '/': clientDir },
      files: { '/models/face_landmarker.task': options.faceModelPath, '/models/selfie_segmenter.tflite': options.segmenterModelPath },
      posts: {
        '/track': (body) => {
          samples.push(JSON.parse(body.toString('utf8')) as TrackSample);
          options.onProgress?.('locate', samples.length, sampleCount);
        },
        '/capture': (body) => onCapture(body),
        '/plate': (body) => onPlate(body),
      },
    });
    const serverUrl = server.url;
    const pageErrors: string[] = [];
    const inPage = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (error) {
        if (options.signal?.aborted) throw new PrepareError('interrupted');
        const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
        throw new Error(`capture page failed while ${what}: ${message}${pageErrors.length ? ` (page: ${pageErrors.join('; ')})` : ''}`);
      }
    };
    type PageWindow = { voxfacePrepare: PrepareApi };
    // Chromium and MediaPipe start while ffmpeg decodes: neither needs the other.
    const startPage = async () => {
      launching = chromium.launch({
        executablePath: chromiumPath, headless: true,
        args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      });
      browser = await launching;
      if (options.signal?.aborted) throw new PrepareError('interrupted');
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      if (process.env.VOXFACE_DEBUG_TIMING) page.on('console', (message) => { if (message.type() === 'log') process.stderr.write(`page: ${message.text()}\n`); });
      await inPage('loading', () => page.goto(`${serverUrl}/prepare.html`));
      const init: PrepareInit = {
        wasmBaseUrl: `${serverUrl}/mediapipe/wasm`,
        faceModelUrl: `${serverUrl}/models/face_landmarker.task`,
        segmenterModelUrl: `${serverUrl}/models/selfie_segmenter.tflite`,
      };
      const delegate = await inPage('starting MediaPipe', () => page.evaluate((i) => (window as unknown as PageWindow).voxfacePrepare.init(i), init));
      return { page, delegate };
    };
    const pageStarting = startPage();
    pageStarting.catch(() => undefined);

    const expected = Math.min(options.maxFrames ?? Infinity, video.declaredFrames || Math.round(video.durationSec * video.fps) || Infinity);
    const frameCount = await decodeFrames(video, {
      outDir: framesDir, ...decoded, startSec, durationSec: options.durationSec ?? Infinity, maxFrames: options.maxFrames ?? Infinity,
      onProgress: (n) => options.onProgress?.('decode', n, Number.isFinite(expected) ? expected : n),
    });
    phase('decode');
    if (options.signal?.aborted) throw new PrepareError('interrupted');
    const { page, delegate } = await pageStarting;
    phase('page start');

    const sampleIndices = locateSampleIndices(frameCount);
    sampleCount = sampleIndices.length;
    // First pass: where is the head over the whole clip?
    await inPage('locating the face', () => page.evaluate((s) => (window as unknown as PageWindow).voxfacePrepare.trackPass(s), sampleIndices));
    const boxes: Box[] = samples.filter((s) => s.box).map((s) => ({
      minX: s.box!.minX * video.width, maxX: s.box!.maxX * video.width, minY: s.box!.minY * video.height, maxY: s.box!.maxY * video.height,
    }));
    if (boxes.length === 0) throw new PrepareError(`no face found in ${basename(video.path)} (looked at ${samples.length} frames)`);
    const crop = decideCropWindow(boxes, video.width, video.height);
    const intrinsics = cropIntrinsics(video.width, video.height, crop);
    phase('locate');

    // Second pass: every frame, one crop.
    writer = new DatasetWriter(outDir, frameCount);
    const activeWriter = writer;
    const sheetIndices = sheetFrameIndices(frameCount);
    const tiles: SheetTile[] = [];
    let errorSum = 0;
    let errorFrames = 0;
    const projected = new Float32Array(MESH_VERTEX_COUNT * 2);
    onCapture = (body) => {
      const { header, jpeg, deflatedMask, tile } = decodeCaptureBody(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
      const mask = new Uint8Array(inflateSync(deflatedMask));
      const faceFound = header.faceFound && header.landmarks !== null && header.transform !== null;
      const landmarksPx = faceFound ? landmarksToCropPixels(header.landmarks!, video.width, video.height, crop) : null;
      let framePoints: Float32Array | null = null;
      if (faceFound) {
        framePoints = projectPoints(mesh, header.transform!, intrinsics, tile.length ? undefined : projected);
        errorSum += meanPointDistance(framePoints, landmarksPx!, MESH_VERTEX_COUNT);
        errorFrames += 1;
      }
      timing.tracker += header.trackerMs; timing.segmenter += header.segmenterMs; timing.page += header.pageMs;
      const writeStarted = performance.now();
      activeWriter.addFrame(header.index, { faceFound, blendshapes: header.blendshapes, pose: header.transform, landmarksPx }, jpeg, mask);
      if (tile.length) {
        tiles.push({ index: header.index, rgba: tile, mask: mask.slice(), faceFound, detected: landmarksPx, projected: framePoints });
      }
      timing.write += performance.now() - writeStarted;
      options.onProgress?.('capture', activeWriter.received, frameCount);
    };
    const plateFrame = plateSize(decoded.width, decoded.height);
    const plates = new PlateEstimator(plateFrame.width, plateFrame.height);
    onPlate = (body) => {
      plates.add(readPlateSampleBody(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), plates.width, plates.height));
    };
    const timing = { tracker: 0, segmenter: 0, page: 0, write: 0 };
    const scale = decoded.width / video.width;
    const request: CapturePassRequest = {
      frameCount,
      crop: { x: crop.x * scale, y: crop.y * (decoded.height / video.height), size: crop.size * scale },
      sheetFrames: sheetIndices,
      tileSize: SHEET_TILE_SIZE,
      plates: { frames: sheetFrameIndices(frameCount, PLATE_MAX_SAMPLES), ...plateFrame },
    };
    await inPage('capturing frames', () => page.evaluate((r) => (window as unknown as PageWindow).voxfacePrepare.capturePass(r), request));
    phase('capture');
    await browser!.close();
    browser = undefined;
    if (process.env.VOXFACE_DEBUG_TIMING) {
      const per = (ms: number) => (ms / frameCount).toFixed(1);
      process.stderr.write(`per frame ms: tracker ${per(timing.tracker)} segmenter ${per(timing.segmenter)} page total ${per(timing.page)} node write ${per(timing.write)}\n`);
    }

    const faceFoundCount = writer.faceFound.filter(Boolean).length;
    const faceFoundRatio = faceFoundCount / frameCount;
    const minFaceRatio = options.minFaceRatio ?? 0.5;
    if (faceFoundRatio < minFaceRatio) {
      throw new PrepareError(`a face was found in only ${(faceFoundRatio * 100).toFixed(1)}% of frames of ${basename(video.path)} (need ${minFaceRatio * 100}%)`);
    }
    const reprojectionErrorPx = errorFrames ? errorSum / errorFrames : Number.NaN;
    tiles.sort((a, b) => a.index - b.index);
    const estimated = await plates.estimate();
    const platesMeta = estimated ? writePlates(writer, estimated, intrinsics, crop, video.width, video.height) : undefined;
    phase('plates');
    writer.writeExtra(FILES.contactSheet, renderContactSheet(tiles, estimated));
    const records = writer.frameRecords(video.fps);
    const count = (split: string) => records.filter((r) => r.split === split).length;
    const meta: DatasetMeta = {
      version: DATASET_VERSION,
      createdAt: new Date().toISOString(),
      source: {
        file: basename(video.path), sha256: await sha256File(video.path), codec: video.codec,
        width: video.width, height: video.height, fps: video.fps, durationSec: video.durationSec,
        startSec, decodedWidth: decoded.width, decodedHeight: decoded.height,
      },
      crop,
      imageSize: intrinsics.width,
      intrinsics,
      camera: { verticalFovDeg: MEDIAPIPE_VERTICAL_FOV_DEG, convention: 'mediapipe-gl' },
      frameCount,
      faceFoundCount,
      split: { testFraction: 0.15, testStartIndex: testStartIndex(frameCount), train: count('train'), test: count('test'), excluded: count('excluded') },
      reprojectionErrorPx,
      files: FILES,
      ...(platesMeta ? { plates: platesMeta } : {}),
    };
    writer.finish(meta, records, force);
    phase('finish');
    if (process.env.VOXFACE_DEBUG_TIMING) {
      const cpu = process.cpuUsage();
      process.stderr.write(`phases: ${phases.join(', ')}; node cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)}s\n`);
    }
    const seconds = (performance.now() - started) / 1000;
    return { frames: frameCount, seconds, fps: frameCount / seconds, faceFoundRatio, reprojectionErrorPx, outDir, delegate };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    // Chromium may still be starting (it starts during decoding, which can fail).
    browser ??= await launching?.catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
    writer?.abort();
    rmSync(framesDir, { recursive: true, force: true });
  }
}
