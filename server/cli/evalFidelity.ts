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

export class FidelityCollector {
  readonly #pairs: RetrackPair[] = [];
  readonly #baseline: Float32Array[] = [];
  readonly #width: number;
  readonly #height: number;

  constructor(width: number, height: number) {
    this.#width = width;
    this.#height = height;
  }

  add(rendered: Float32Array, original: Float32Array, baseline: Float32Array): void {
    this.#pairs.push({ render: rendered.slice(), original, width: this.#width, height: this.#height });
    this.#baseline.push(baseline);
  }

  /** Re-tracks everything collected: the avatar's and the nearest frame's figures. `signal` stops it (its Chromium closed). */
  async measure(signal?: AbortSignal): Promise<{ model: ReturnType<typeof summary>; nearestFrame: ReturnType<typeof summary> }> {
    const config = loadConfig({ ...process.env, VOXFACE_DEV: '1' });
    let faceModelPath: string;
    try {
      faceModelPath = await ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path: config.faceModelPath, url: config.faceModelUrl });
    } catch (error) {
      throw new PrepareError(`${error instanceof Error ? error.message : String(error)} (set VOXFACE_FACE_MODEL to a local copy)`);
    }
    const retracker = await Retracker.start({ faceModelPath, signal });
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
