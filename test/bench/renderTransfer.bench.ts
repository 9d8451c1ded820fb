/**
 * What rendering in a child process costs per frame over rendering in-process: the
 * round trip of one render request minus the render time the process measured itself
 * (the request line, the process's wake-up, the frame over the socket pair and its
 * copy into the renderer's buffer), at 256x256 and 640x360 RGBA, with the synthetic
 * test avatar. One JSON line: per size, the overhead's p50, minimum and mean, and the round trip's p50 and p95 (ms).
 * On a loaded machine the overhead is mostly waiting to be scheduled (two wake-ups); its minimum is the copy.
 *
 *   npx tsx test/bench/renderTransfer.bench.ts
 */
import { ProcessFrameRenderer } from '../../server/avatar/ProcessFrameRenderer';
import type { FaceState } from '../../server/avatar/DrivenFace';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { percentile, printResult, progress, round, runBench } from './benchUtil';

const FRAMES = Number(process.env.FRAMES ?? 60);

runBench(async () => {
  const path = syntheticAvatarFile();
  const result: Record<string, unknown> = {};
  for (const [width, height] of [[256, 256], [640, 360]] as const) {
    const renderer = await ProcessFrameRenderer.open(path, { width, height });
    const face: FaceState = {
      status: 'live', blendshapes: new Float32Array(BLENDSHAPE_COUNT).fill(0.2), rotation: [0, 0, 0, 1], translationCm: [0, 0, -40], ageMs: 0, sequence: 1,
    };
    const overhead: number[] = [], total: number[] = [];
    for (let i = 0; i < FRAMES + 5; i++) {
      const started = performance.now();
      await renderer.render(face);
      if (i < 5) continue; // warm-up
      total.push(performance.now() - started);
      overhead.push(renderer.overheadMs);
    }
    renderer.close();
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    result[`${width}x${height}`] = {
      overheadMsP50: round(percentile(overhead, 50), 3), overheadMsMin: round(Math.min(...overhead), 3), overheadMsMean: round(mean(overhead), 3),
      roundTripMsP50: round(percentile(total, 50), 2), roundTripMsP95: round(percentile(total, 95), 2),
    };
    progress(`${width}x${height}: ${JSON.stringify(result[`${width}x${height}`])}`);
  }
  printResult(result);
});
