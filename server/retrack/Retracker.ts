/**
 * One headless Chromium running MediaPipe's FaceLandmarker on the re-tracking
 * page (client/retrack), for as many images as a caller has: the browser and
 * the model start once, then each image costs one FaceLandmarker run (on this
 * project's shared 2-core machine under heavy load: start 9 s, 270 ms an image).
 *
 *   const retracker = await Retracker.start({ faceModelPath });
 *   const faces = await retracker.track([{ pixels, width, height }, ...]); // RetrackedFace | null each
 *   await retracker.close();
 *
 * The runtime is `voxface prepare`'s: Debian's Chromium through playwright-core,
 * the client built by scripts/build-client.mjs, and the local capture server
 * (server/dataset/captureServer.ts) serving the page, MediaPipe's wasm, the
 * model and the images (raw RGBA files in a temporary folder, removed as soon
 * as the page has read them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCaptureServer, type CaptureServer } from '../dataset/captureServer';
import {
  RETRACK_MAX_BATCH, retrackBatchResultSchema, type RetrackImageRequest, type RetrackInit, type RetrackPageApi, type RetrackResult,
} from '../../shared/retrack/retrackProtocol';
import { FaceNormalizer } from './FaceNormalizer';
import { RetrackError } from './RetrackError';
import type { RetrackedFace, RetrackerOptions, RetrackImage } from './RetrackTypes';
import { toRgbaBytes } from './rgbaBytes';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLIENT_DIR = join(REPO_ROOT, 'dist', 'client');
const PAGE_HTML = join(REPO_ROOT, 'client', 'retrack', 'retrack.html');

type PageWindow = { voxfaceRetrack: RetrackPageApi };

function ensureClientBuilt(): void {
  if (existsSync(join(CLIENT_DIR, 'retrack.js'))) return;
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-client.mjs')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new RetrackError(`could not build the re-tracking page (npm run build:client): ${build.stderr || build.error?.message}`);
}

export class Retracker {
  /** FaceLandmarker's delegate in the page. */
  readonly delegate: string;
  readonly normalizer: FaceNormalizer;
  readonly #browser: Browser;
  readonly #page: Page;
  readonly #server: CaptureServer;
  readonly #framesDir: string;
  readonly #pageErrors: string[];
  #state: 'open' | 'closed' = 'open';
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => { void this.close(); };
  #queue: Promise<unknown> = Promise.resolve();
  #nextImage = 0;
  #trackerMs = 0;
  #tracked = 0;

  private constructor(parts: {
    browser: Browser; page: Page; server: CaptureServer; framesDir: string; pageErrors: string[]; delegate: string; normalizer: FaceNormalizer; signal?: AbortSignal;
  }) {
    this.#browser = parts.browser;
    this.#page = parts.page;
    this.#server = parts.server;
    this.#framesDir = parts.framesDir;
    this.#pageErrors = parts.pageErrors;
    this.delegate = parts.delegate;
    this.normalizer = parts.normalizer;
    this.#signal = parts.signal;
    // Aborting closes the browser; calls in flight then fail with 'interrupted'.
    this.#signal?.addEventListener('abort', this.#onAbort);
    if (this.#signal?.aborted) void this.close();
  }

  /** Checks the model and Chromium, then starts the browser and FaceLandmarker. Errors a user can fix are RetrackErrors. */
  static async start(options: RetrackerOptions): Promise<Retracker> {
    const normalizer = FaceNormalizer.fromModel(options.faceModelPath);
    const chromiumPath = options.chromiumPath ?? process.env.VOXFACE_CHROMIUM ?? '/usr/bin/chromium';
    if (!existsSync(chromiumPath)) throw new RetrackError(`Chromium not found at ${chromiumPath} (set VOXFACE_CHROMIUM)`);
    ensureClientBuilt();
    const framesDir = mkdtempSync(join(tmpdir(), 'voxface-retrack-'));
    let server: CaptureServer | undefined;
    let browser: Browser | undefined;
    const onAbort = () => { browser?.close().catch(() => undefined); };
    options.signal?.addEventListener('abort', onAbort);
    try {
      const tasksVision = dirname(createRequire(import.meta.url).resolve('@mediapipe/tasks-vision'));
      server = await startCaptureServer({
        folders: { '/frames/': framesDir, '/mediapipe/wasm/': join(tasksVision, 'wasm'), '/': CLIENT_DIR },
        files: { '/retrack.html': PAGE_HTML, '/models/face_landmarker.task': options.faceModelPath },
        posts: {},
      });
      try {
        browser = await chromium.launch({
          executablePath: chromiumPath, headless: true,
          args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
        });
      } catch (error) {
        throw new RetrackError(`Chromium at ${chromiumPath} did not start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      }
      if (options.signal?.aborted) throw new RetrackError('interrupted');
      const page = await (await browser.newContext()).newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const init: RetrackInit = {
        wasmBaseUrl: `${server.url}/mediapipe/wasm`, faceModelUrl: `${server.url}/models/face_landmarker.task`, delegate: options.delegate ?? 'CPU',
      };
      let delegate: string;
      try {
        await page.goto(`${server.url}/retrack.html`);
        delegate = await page.evaluate((i) => (window as unknown as PageWindow).voxfaceRetrack.init(i), init);
      } catch (error) {
        if (options.signal?.aborted) throw new RetrackError('interrupted');
        const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
        throw new Error(`re-tracking page failed while starting FaceLandmarker: ${message}${pageErrors.length ? ` (page: ${pageErrors.join('; ')})` : ''}`);
      }
      return new Retracker({ browser, page, server, framesDir, pageErrors, delegate, normalizer, signal: options.signal });
    } catch (error) {
      await browser?.close().catch(() => undefined);
      await server?.close();
      rmSync(framesDir, { recursive: true, force: true });
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Images tracked so far and their total FaceLandmarker time in the page, ms. */
  get stats(): { images: number; trackerMs: number } {
    return { images: this.#tracked, trackerMs: this.#trackerMs };
  }

  /**
   * The face in each image (null where none is found), in order. The pixels are
   * copied before this returns, so a caller may reuse its buffers at once.
   * Calls run one after another on the one page.
   */
  track(images: readonly RetrackImage[]): Promise<(RetrackedFace | null)[]> {
    if (this.#state !== 'open') return Promise.reject(this.#closedError());
    let items: { bytes: Uint8Array; width: number; height: number }[];
    try {
      items = images.map((image, k) => ({ bytes: toRgbaBytes(image, `image ${k}`), width: image.width, height: image.height }));
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.#queue.then(async () => {
      const faces: (RetrackedFace | null)[] = [];
      for (let start = 0; start < items.length; start += RETRACK_MAX_BATCH) {
        faces.push(...await this.#trackBatch(items.slice(start, start + RETRACK_MAX_BATCH)));
      }
      return faces;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Idempotent: closes the browser and the server and removes the temporary images; calls in flight fail. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#signal?.removeEventListener('abort', this.#onAbort);
    await this.#browser.close().catch(() => undefined);
    await this.#server.close();
    rmSync(this.#framesDir, { recursive: true, force: true });
  }

  #closedError(): Error {
    return this.#signal?.aborted ? new RetrackError('interrupted') : new Error('InvalidStateError: Retracker is closed');
  }

  async #trackBatch(items: { bytes: Uint8Array; width: number; height: number }[]): Promise<(RetrackedFace | null)[]> {
    if (this.#state !== 'open') throw this.#closedError();
    const files: string[] = [];
    const requests: RetrackImageRequest[] = items.map((item) => {
      const name = `${this.#nextImage++}.rgba`;
      writeFileSync(join(this.#framesDir, name), item.bytes);
      files.push(join(this.#framesDir, name));
      return { url: `/frames/${name}`, width: item.width, height: item.height };
    });
    let answer: unknown;
    try {
      answer = await this.#page.evaluate((r) => (window as unknown as PageWindow).voxfaceRetrack.track(r), requests);
    } catch (error) {
      if (this.#state !== 'open') throw this.#closedError();
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`re-tracking page failed: ${message}${this.#pageErrors.length ? ` (page: ${this.#pageErrors.join('; ')})` : ''}`);
    } finally {
      for (const file of files) rmSync(file, { force: true });
    }
    const parsed = retrackBatchResultSchema.safeParse(answer);
    if (!parsed.success || parsed.data.length !== items.length) {
      throw new Error(`re-tracking page answered ${items.length} images with something else: ${parsed.success ? `${parsed.data.length} results` : parsed.error.issues[0]?.message}`);
    }
    return parsed.data.map((result: RetrackResult, k) => {
      this.#trackerMs += result.trackerMs;
      this.#tracked++;
      return result.landmarks ? this.normalizer.normalize(result.landmarks, items[k]!.width, items[k]!.height) : null;
    });
  }
}
