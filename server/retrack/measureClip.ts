/**
 * Sanity scales for the fidelity measure on one video (docs/fidelity.md):
 * the distance between consecutive frames, and between each held-out frame
 * (the last 15%, as `voxface prepare` splits) and the frame 1 s earlier.
 * Each frame is re-tracked once; the pairs reuse the faces. It also scores
 * the same pairs with an unweighted fit of all 468 points in place of
 * MediaPipe's rigid basis, to show what the choice of pose fit does.
 *
 *   VOXFACE_FACE_MODEL=../shared/data/models/face_landmarker.task \
 *     npx tsx server/retrack/measureClip.ts ../shared/data/videos/woman-longhair_liveportrait-d10.mp4
 *
 * Prints one JSON line.
 */
import { basename } from 'node:path';
import { testStartIndex } from '../../shared/dataset/format';
import { FaceNormalizer } from './FaceNormalizer';
import { MESH_POINT_COUNT } from './faceRegions';
import { summarizeFidelity } from './fidelityMetrics';
import { Retracker } from './Retracker';
import type { FidelitySummary, RetrackedFace } from './RetrackTypes';
import { videoFrames, videoInfo, type VideoFrame } from './videoFrames';

const round = (v: number) => Number(v.toFixed(2));
const brief = (s: FidelitySummary) => ({
  pairs: s.frames, compared: s.comparedFrames, mouthPx: round(s.mouthPx), eyesPx: round(s.eyesPx), facePx: round(s.facePx), lipOpeningPx: round(s.lipOpeningPx),
});

async function main(): Promise<void> {
  const clip = process.argv[2];
  const faceModelPath = process.env.VOXFACE_FACE_MODEL;
  if (!clip || !faceModelPath) throw new Error('usage: VOXFACE_FACE_MODEL=<face_landmarker.task> tsx server/retrack/measureClip.ts <video>');
  const info = videoInfo(clip);
  const gap = Math.round(info.fps);
  // Only the frames the pairs use are kept (a whole clip of 512² RGB frames is hundreds of MB).
  const declared = info.declaredFrames || Math.round(info.durationSec * info.fps);
  const first = Math.max(0, testStartIndex(declared) - gap);
  const frames: VideoFrame[] = [];
  let frameCount = 0;
  for await (const frame of videoFrames(clip)) {
    frameCount = frame.index + 1;
    if (frame.index >= first) frames.push(frame);
  }
  const testStart = testStartIndex(frameCount);
  const started = performance.now();
  const retracker = await Retracker.start({ faceModelPath });
  let faces: (RetrackedFace | null)[];
  try {
    faces = await retracker.track(frames);
  } finally {
    await retracker.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const faceAt = (i: number) => faces[i - first] ?? null;
  const heldOut = Array.from({ length: frameCount - testStart }, (_, k) => testStart + k);
  const pairsAt = (offset: number, face: (i: number) => RetrackedFace | null) => heldOut.filter((i) => i - offset >= first).map((i) => ({ render: face(i), original: face(i - offset) }));

  // The same landmarks with an unweighted fit of the 468 mesh points.
  const { mesh } = retracker.normalizer;
  const uniform = new FaceNormalizer(mesh, { ids: Uint16Array.from({ length: MESH_POINT_COUNT }, (_, i) => i), weights: new Float64Array(MESH_POINT_COUNT).fill(1) });
  const { width, height } = frames[0]!;
  const uniformFaces = faces.map((f) => f && uniform.normalize(Float32Array.from(f.imagePoints, (v, k) => v / (k % 3 === 1 ? height : width)), width, height));
  const uniformAt = (i: number) => uniformFaces[i - first] ?? null;

  process.stdout.write(`${JSON.stringify({
    clip: basename(clip), frames: frameCount, fps: info.fps, size: `${width}x${height}`, heldOut: heldOut.length, trackedImages: faces.length,
    facesFound: faces.filter(Boolean).length, seconds: round(seconds), trackerMsPerImage: round(retracker.stats.trackerMs / retracker.stats.images),
    consecutive: brief(summarizeFidelity(pairsAt(1, faceAt))),
    oneSecondEarlier: brief(summarizeFidelity(pairsAt(gap, faceAt))),
    unweighted468Fit: { consecutive: brief(summarizeFidelity(pairsAt(1, uniformAt))), oneSecondEarlier: brief(summarizeFidelity(pairsAt(gap, uniformAt))) },
  })}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`measureClip: ${error.message}\n`);
  process.exitCode = 1;
});
