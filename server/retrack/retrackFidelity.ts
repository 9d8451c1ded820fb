/**
 * Expression fidelity by re-tracking (docs/fidelity.md): each pair's render and
 * original frame go through the same FaceLandmarker, each face's rigid pose is
 * removed (./FaceNormalizer.ts), and the landmarks are compared over the mouth,
 * the eyes and the whole face, with the error of lip opening, in px at 512 px
 * face scale. PSNR cannot tell a closed mouth from a slightly blurred open one;
 * this can.
 *
 *   const r = await retrackFidelity(pairs, { faceModelPath });
 *   r.mouthPx, r.eyesPx, r.facePx, r.lipOpeningPx, r.facesFound, r.perFrame[i].original ...
 *
 * Pairs may come from an array or an async iterable (e.g. frames rendered one by
 * one): they are read in batches, the next batch being produced while the page
 * tracks the current one, so at most two batches are held at once.
 */
import { RETRACK_MAX_BATCH } from '../../shared/retrack/retrackProtocol';
import { compareFaces, summarizeFidelity } from './fidelityMetrics';
import { Retracker } from './Retracker';
import type { FidelityResult, FrameRetrack, RetrackBatchOptions, RetrackPair, RetrackerOptions } from './RetrackTypes';

const DEFAULT_BATCH_PAIRS = 8;

/** A Retracker's options (one is started and closed), or an open `retracker` (used and left open). */
export type RetrackFidelityOptions = RetrackBatchOptions & (RetrackerOptions | { retracker: Retracker });

async function* batches(pairs: AsyncIterable<RetrackPair> | Iterable<RetrackPair>, size: number): AsyncGenerator<RetrackPair[]> {
  let batch: RetrackPair[] = [];
  for await (const pair of pairs) {
    batch.push(pair);
    if (batch.length === size) { yield batch; batch = []; }
  }
  if (batch.length) yield batch;
}

/**
 * Scores every pair. With `retracker` the caller's Retracker is used (and left
 * open, e.g. to re-track a baseline's images next); otherwise one is started
 * from the options and closed at the end.
 */
export async function retrackFidelity(pairs: AsyncIterable<RetrackPair> | Iterable<RetrackPair>, options: RetrackFidelityOptions): Promise<FidelityResult> {
  const batchPairs = options.batchPairs ?? DEFAULT_BATCH_PAIRS;
  if (!Number.isInteger(batchPairs) || batchPairs < 1 || batchPairs > RETRACK_MAX_BATCH / 2) {
    throw new RangeError(`retrackFidelity: batchPairs must be an integer in 1..${RETRACK_MAX_BATCH / 2}, got ${batchPairs}`);
  }
  const owned = !('retracker' in options);
  const retracker = 'retracker' in options ? options.retracker : await Retracker.start(options);
  const perFrame: FrameRetrack[] = [];
  const before = retracker.stats;
  try {
    let pending: Promise<void> | undefined;
    let submitted = 0;
    for await (const batch of batches(pairs, batchPairs)) {
      const first = submitted;
      submitted += batch.length;
      // track() copies the pixels now, so the source may reuse its buffers for the next batch.
      const tracking = retracker.track(batch.flatMap((p) => [
        { pixels: p.render, width: p.width, height: p.height },
        { pixels: p.original, width: p.width, height: p.height },
      ]));
      tracking.catch(() => undefined);
      await pending;
      pending = tracking.then((faces) => {
        for (let k = 0; k < batch.length; k++) {
          const render = faces[2 * k]!, original = faces[2 * k + 1]!;
          perFrame.push({ index: first + k, render, original, fidelity: render && original ? compareFaces(render, original) : null });
        }
        options.onProgress?.(perFrame.length);
      });
      // Awaited on the next batch or after the loop; if the source throws first, it must not go unhandled.
      pending.catch(() => undefined);
    }
    await pending;
  } finally {
    if (owned) await retracker.close();
  }
  const after = retracker.stats, images = after.images - before.images;
  const trackerMsPerImage = images > 0 ? (after.trackerMs - before.trackerMs) / images : Number.NaN;
  return { ...summarizeFidelity(perFrame), perFrame, delegate: retracker.delegate, trackerMsPerImage };
}
