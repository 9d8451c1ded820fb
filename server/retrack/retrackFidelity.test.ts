/**
 * Expression fidelity by re-tracking, end to end: real Chromium, the real
 * FaceLandmarker model and real frames of a shared clip (woman-expressions:
 * frame 0 has the mouth closed, frame 80 wide open, 2.7 s later). One
 * browser for the whole file: a retrackFidelity call fed from an async
 * iterable, then a baseline re-tracked on the same Retracker, as `voxface eval` does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { clipPath, FACE_MODEL_PATH } from '../../test/helpers/sharedData';
import { summarizeFidelity } from './fidelityMetrics';
import { RetrackError } from './RetrackError';
import { Retracker } from './Retracker';
import { retrackFidelity } from './retrackFidelity';
import type { FidelityResult, RetrackPair } from './RetrackTypes';
import { videoFrames, type VideoFrame } from './videoFrames';

const CLOSED = 0;
const OPEN = 80;

/**
 * `frame` scaled by `scale` about its centre and moved by (dx, dy) px (bilinear,
 * edges repeated): the same face, another head position and size.
 */
function moveAndScale(frame: VideoFrame, scale: number, dx: number, dy: number): Uint8Array {
  const { width: w, height: h, pixels } = frame, out = new Uint8Array(pixels.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = Math.min(w - 1, Math.max(0, (x - dx - w / 2) / scale + w / 2));
      const sy = Math.min(h - 1, Math.max(0, (y - dy - h / 2) / scale + h / 2));
      const x0 = Math.floor(sx), y0 = Math.floor(sy), x1 = Math.min(w - 1, x0 + 1), y1 = Math.min(h - 1, y0 + 1), fx = sx - x0, fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const top = pixels[(y0 * w + x0) * 3 + c]! * (1 - fx) + pixels[(y0 * w + x1) * 3 + c]! * fx;
        const bottom = pixels[(y1 * w + x0) * 3 + c]! * (1 - fx) + pixels[(y1 * w + x1) * 3 + c]! * fx;
        out[(y * w + x) * 3 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return out;
}

let result: FidelityResult;
let retracker: Retracker;
let openFrame: VideoFrame;
const progress: number[] = [];

before(async () => {
  const frames: VideoFrame[] = [];
  for await (const frame of videoFrames(clipPath('womanExpressions'), { maxFrames: OPEN + 1 })) if (frame.index === CLOSED || frame.index === OPEN) frames.push(frame);
  const [closed, open] = frames as [VideoFrame, VideoFrame];
  openFrame = open;
  const { width, height } = closed;
  // Float input as the renderer gives it, for the render side of the first pair.
  const closedFloat = Float32Array.from(closed.pixels, (v) => v / 255);
  async function* pairs(): AsyncGenerator<RetrackPair> {
    yield { render: closedFloat, original: closed.pixels, width, height };
    yield { render: moveAndScale(closed, 0.75, 40, -25), original: closed.pixels, width, height };
    yield { render: open.pixels, original: closed.pixels, width, height };
    yield { render: new Float32Array(width * height * 3).fill(0.5), original: closed.pixels, width, height };
  }
  retracker = await Retracker.start({ faceModelPath: FACE_MODEL_PATH });
  result = await retrackFidelity(pairs(), { retracker, batchPairs: 2, onProgress: (done) => progress.push(done) });
});

after(() => retracker?.close());

test('identical frames give about 0 px in every region', () => {
  const f = result.perFrame[0]!.fidelity!;
  for (const key of ['mouthPx', 'eyesPx', 'facePx', 'lipOpeningPx'] as const) assert.ok(f[key] < 0.05, `${key} ${f[key]}`);
});

test('a frame against itself moved and scaled (head pose only) gives a small distance', () => {
  const moved = result.perFrame[1]!;
  const f = moved.fidelity!;
  // The move is real: the face sits elsewhere in the image and is smaller...
  const shift = Math.hypot(moved.render!.imagePoints[4 * 3]! - moved.original!.imagePoints[4 * 3]!, moved.render!.imagePoints[4 * 3 + 1]! - moved.original!.imagePoints[4 * 3 + 1]!);
  assert.ok(shift > 30, `nose tip moved ${shift} px`);
  // ...but with the pose removed the landmarks agree within re-tracking noise.
  assert.ok(f.facePx < 2.5 && f.mouthPx < 3 && f.eyesPx < 2.5, JSON.stringify(f));
});

test('a frame with a visibly different mouth gives a larger mouth than eye distance, and the lip-opening error shows it', () => {
  const f = result.perFrame[2]!.fidelity!;
  assert.ok(f.renderLipOpeningPx - f.originalLipOpeningPx > 20, `openings ${f.renderLipOpeningPx} vs ${f.originalLipOpeningPx}`);
  assert.ok(f.mouthPx > 2 * f.eyesPx, `mouth ${f.mouthPx} eyes ${f.eyesPx}`);
  assert.ok(f.mouthPx > 4 * result.perFrame[1]!.fidelity!.mouthPx, 'far above the pose-only pair');
  assert.ok(f.lipOpeningPx > 20, `lip opening error ${f.lipOpeningPx}`);
});

test('a blank image is reported as no face and left out of the means, not dropped', () => {
  assert.equal(result.perFrame[3]!.render, null);
  assert.equal(result.perFrame[3]!.fidelity, null);
  assert.ok(result.perFrame[3]!.original);
  assert.equal(result.frames, 4);
  assert.deepEqual(result.facesFound, { render: 3, original: 4 });
  assert.equal(result.comparedFrames, 3);
  const compared = result.perFrame.slice(0, 3).map((f) => f.fidelity!.mouthPx);
  assert.ok(Math.abs(result.mouthPx - compared.reduce((a, b) => a + b) / 3) < 1e-9);
  assert.deepEqual(progress, [2, 4]);
  assert.deepEqual(result.perFrame.map((f) => f.index), [0, 1, 2, 3]);
  assert.equal(result.delegate, 'CPU');
});

test('a baseline re-tracked on the same Retracker is scored against the same originals', async () => {
  // The open-mouth frame as a "baseline" for frame 0: the same images as pair 2, so exactly its figures.
  const [face] = await retracker.track([{ pixels: openFrame.pixels, width: openFrame.width, height: openFrame.height }]);
  const baseline = summarizeFidelity([{ render: face!, original: result.perFrame[0]!.original }]);
  assert.equal(baseline.comparedFrames, 1);
  assert.equal(baseline.mouthPx, result.perFrame[2]!.fidelity!.mouthPx);
  assert.equal(baseline.lipOpeningPx, result.perFrame[2]!.fidelity!.lipOpeningPx);
});

test('an image of the wrong length or a bad batch size is refused before anything reaches the page', async () => {
  await assert.rejects(retracker.track([{ pixels: new Uint8Array(5), width: 1, height: 1 }]), { name: 'TypeError', message: 'image 0: 5 values is neither RGB nor RGBA of 1x1' });
  await assert.rejects(retrackFidelity([], { retracker, batchPairs: 9 }), { name: 'RangeError', message: 'retrackFidelity: batchPairs must be an integer in 1..8, got 9' });
  // The page still works after refusals.
  const [face] = await retracker.track([{ pixels: openFrame.pixels, width: openFrame.width, height: openFrame.height }]);
  assert.ok(face);
});

test('a closed Retracker refuses work with InvalidStateError, and close is idempotent', async () => {
  await retracker.close();
  await retracker.close();
  await assert.rejects(retracker.track([{ pixels: openFrame.pixels, width: openFrame.width, height: openFrame.height }]), { message: 'InvalidStateError: Retracker is closed' });
});

test('a missing Chromium is one clear sentence, before anything starts', async () => {
  await assert.rejects(Retracker.start({ faceModelPath: FACE_MODEL_PATH, chromiumPath: '/nonexistent/chromium' }), (error: Error) => {
    assert.ok(error instanceof RetrackError);
    assert.equal(error.message, 'Chromium not found at /nonexistent/chromium (set VOXFACE_CHROMIUM)');
    return true;
  });
});
