/**
 * `voxface train --fidelity`: the finished avatar's expression fidelity, for the
 * onboarding's progress view. The held-out frames the trainer holds (no reload: loading a
 * 1000-frame dataset again took 41 s of the 53 s a first version spent) rendered as calls
 * render them (LIVE, the call's coefficients) in the model's square view, then re-tracked
 * with the nearest training frame as the baseline, as `eval --fidelity` does without
 * --video (docs/fidelity.md).
 */
import { loadConfig } from '../config';
import { callCoefficients } from '../engine/CallCoefficients';
import { nearestFrame, rgbaToRgb } from '../engine/Evaluate';
import type { AvatarModel } from '../engine/AvatarModel';
import type { ExpressionEncoder } from '../encoder/ExpressionEncoder';
import type { RealDataset } from '../engine/RealDataset';
import { LIVE, StreamingRenderer } from '../engine/Renderer';
import { evenlySpaced } from '../engine/SideBySide';
import { FidelityCollector } from './evalFidelity';
import type { ProgressBar } from './progressBar';

/**
 * What the whole step may take: a Chromium or wasm that stalls must not hold the trainer (its
 * final line, so the final avatar's install, waits on this step). 10 s is usual here.
 */
const TIMEOUT_MS = 120_000;

/** Held-out frames measured at most: 30 (three FaceLandmarker passes each) took 8.6-10.4 s here, Chromium's start included. */
const MAX_FRAMES = 30;

export interface TrainedFidelity {
  fidelity?: { mouthPx: number; eyesPx: number; facePx: number; lipOpeningPx: number; comparedFrames: number; nearestFrameMouthPx: number | null };
  fidelityError?: string;
}

/** The figures, or why they could not be measured (a failure never fails the training). */
export async function trainedFidelity(model: AvatarModel, encoder: ExpressionEncoder | null, ds: RealDataset, res: number, bar: ProgressBar): Promise<TrainedFidelity> {
  const started = performance.now(), deadline = AbortSignal.timeout(TIMEOUT_MS);
  try {
    if (ds.test.length === 0) throw new Error('the dataset has no held-out frames');
    // The server's render scale (trainerEnvOf passes it); DEV: a trainer needs no secret of its own.
    const renderScale = loadConfig({ ...process.env, VOXFACE_DEV: '1' }).avatarRenderScale;
    const renderer = new StreamingRenderer(model, { ...LIVE, renderScale, width: res, height: res });
    if (ds.train.length === 0) throw new Error('the dataset has no training frames (the nearest-frame baseline)');
    const drive = callCoefficients(encoder);
    const frames = evenlySpaced(ds.test.length, MAX_FRAMES).map((i) => ds.test[i]!);
    const collector = new FidelityCollector(res, res);
    frames.forEach((f, i) => {
      collector.add(rgbaToRgb(renderer.render(drive(f), f.pose)), f.image, nearestFrame(f, ds.train).image);
      bar.update('fidelity', i + 1, frames.length);
    });
    bar.end();
    const { model: figures, nearestFrame: nearestFigures } = await collector.measure(deadline);
    const { facesFound, ...rest } = figures;
    process.stderr.write(`fidelity measured in ${Math.round(performance.now() - started)} ms (faces found: ${JSON.stringify(facesFound)})\n`);
    // NaN (no face in the nearest frames) goes out as null.
    return { fidelity: { ...rest, nearestFrameMouthPx: Number.isFinite(nearestFigures.mouthPx) ? nearestFigures.mouthPx : null } };
  } catch (error) {
    // Stopped at the deadline, the browser's closing is what surfaces; say what happened.
    const message = deadline.aborted ? `timed out after ${TIMEOUT_MS / 1000} s` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`fidelity not measured: ${message}\n`);
    return { fidelityError: message.slice(0, 500) };
  }
}
