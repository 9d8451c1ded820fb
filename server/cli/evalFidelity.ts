/**
 * `voxface eval --fidelity`: expression fidelity by re-tracking (server/retrack,
 * docs/fidelity.md). The avatar's held-out renders and the nearest-frame baseline's
 * images go through the same FaceLandmarker as the originals; landmark distances come
 * out pose-normalised, in px at 512 px face scale. Renders are kept in memory until the
 * eval ends (one Chromium then tracks them all).
 */
import { ensureModelAsset, FACE_LANDMARKER_MODEL } from '../assets/ModelAsset';
import { loadConfig } from '../config';
import { PrepareError } from '../dataset/PrepareError';
import { Retracker } from '../retrack/Retracker';
import { retrackFidelity } from '../retrack/retrackFidelity';
import { summarizeFidelity } from '../retrack/fidelityMetrics';
import type { FidelitySummary, RetrackPair } from '../retrack/RetrackTypes';
import { round } from './common';

/** `src` (RGB floats, w x h) enlarged `k` times per axis, bilinearly (pixel centres aligned). */
export function enlargeRgb(src: Float32Array, w: number, h: number, k: number): Float32Array {
  if (k === 1) return src;
  const W = w * k, H = h * k, out = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.max(0, (y + 0.5) / k - 0.5)), y0 = Math.floor(sy), y1 = Math.min(h - 1, y0 + 1), fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = Math.min(w - 1, Math.max(0, (x + 0.5) / k - 0.5)), x0 = Math.floor(sx), x1 = Math.min(w - 1, x0 + 1), fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const top = src[(y0 * w + x0) * 3 + c]! * (1 - fx) + src[(y0 * w + x1) * 3 + c]! * fx;
        const bottom = src[(y1 * w + x0) * 3 + c]! * (1 - fx) + src[(y1 * w + x1) * 3 + c]! * fx;
        out[(y * W + x) * 3 + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

export class FidelityCollector {
  readonly #pairs: RetrackPair[] = [];
  readonly #baseline: Float32Array[] = [];
  readonly #width: number;
  readonly #height: number;
  /** Images narrower than the tracked size are enlarged this many times first. */
  readonly #enlarge: number;

  /**
   * `minTrackedWidth`: images narrower than this are enlarged (bilinearly, by a whole
   * factor) before tracking: FaceLandmarker's detector misses faces of a few dozen pixels
   * (a 64 px square view: no face found in any of 60 renders).
   */
  constructor(width: number, height: number, minTrackedWidth = 0) {
    this.#enlarge = Math.max(1, Math.ceil(minTrackedWidth / width));
    this.#width = width * this.#enlarge;
    this.#height = height * this.#enlarge;
  }

  add(rendered: Float32Array, original: Float32Array, baseline: Float32Array): void {
    const w = this.#width / this.#enlarge, h = this.#height / this.#enlarge, k = this.#enlarge;
    const render = k === 1 ? rendered.slice() : enlargeRgb(rendered, w, h, k);
    this.#pairs.push({ render, original: enlargeRgb(original, w, h, k), width: this.#width, height: this.#height });
    this.#baseline.push(enlargeRgb(baseline, w, h, k));
  }

  /** Re-tracks everything collected: the avatar's and the nearest frame's figures. */
  async measure(): Promise<{ model: ReturnType<typeof summary>; nearestFrame: ReturnType<typeof summary> }> {
    const config = loadConfig({ ...process.env, VOXFACE_DEV: '1' });
    let faceModelPath: string;
    try {
      faceModelPath = await ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path: config.faceModelPath, url: config.faceModelUrl });
    } catch (error) {
      throw new PrepareError(`${error instanceof Error ? error.message : String(error)} (set VOXFACE_FACE_MODEL to a local copy)`);
    }
    const retracker = await Retracker.start({ faceModelPath });
    try {
      const model = await retrackFidelity(this.#pairs, { retracker });
      const nearest = await retracker.track(this.#baseline.map((pixels) => ({ pixels, width: this.#width, height: this.#height })));
      const nearestFrame = summarizeFidelity(model.perFrame.map((f, i) => ({ render: nearest[i]!, original: f.original })));
      return { model: summary(model), nearestFrame: summary(nearestFrame) };
    } finally {
      await retracker.close();
    }
  }
}

function summary(s: FidelitySummary) {
  return {
    mouthPx: round(s.mouthPx, 2), eyesPx: round(s.eyesPx, 2), facePx: round(s.facePx, 2), lipOpeningPx: round(s.lipOpeningPx, 2),
    comparedFrames: s.comparedFrames, facesFound: s.facesFound,
  };
}
