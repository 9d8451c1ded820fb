/**
 * The geometry of the fidelity measure without a browser: the similarity fit,
 * MediaPipe's pose-fit weights read from the real model bundle, pose removal
 * of a posed canonical mesh, the region distances, the counting of frames
 * without a face, and the conversion of caller images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FACE_MODEL_PATH } from '../../test/helpers/sharedData';
import { FACE_HEIGHT_PX, FaceNormalizer } from './FaceNormalizer';
import { FACE_REGIONS } from './faceRegions';
import { compareFaces, lipOpeningPx, summarizeFidelity } from './fidelityMetrics';
import { RetrackError } from './RetrackError';
import { toRgbaBytes } from './rgbaBytes';
import { applySimilarity, fitSimilarity, quaternionToMatrix } from '../../shared/retrack/similarityFit';

const normalizer = FaceNormalizer.fromModel(FACE_MODEL_PATH);

/** A rotation about a unit axis by `angle` radians, as a quaternion. */
function axisAngle(axis: [number, number, number], angle: number): number[] {
  const n = Math.hypot(...axis), s = Math.sin(angle / 2);
  return [Math.cos(angle / 2), (axis[0] * s) / n, (axis[1] * s) / n, (axis[2] * s) / n];
}

/**
 * The canonical mesh as MediaPipe would report it for a head turned by `q`, drawn
 * `pxPerCm` px/cm at (cx, cy) in a width x height image: normalized x, y, z
 * triples (z on x's scale, larger farther), iris points copied from the eye corners.
 */
function posedLandmarks(q: number[], pxPerCm: number, cx: number, cy: number, width: number, height: number): Float32Array {
  const posed = applySimilarity({ scale: pxPerCm, rotation: quaternionToMatrix(q), translation: Float64Array.from([cx, -cy, 0]) }, normalizer.mesh);
  const out = new Float32Array(478 * 3);
  for (let i = 0; i < 478; i++) {
    const j = i < 468 ? i : 33; // irises are not in the canonical mesh
    out[i * 3] = posed[j * 3]! / width;
    out[i * 3 + 1] = -posed[j * 3 + 1]! / height;
    out[i * 3 + 2] = -posed[j * 3 + 2]! / width;
  }
  return out;
}

test('the similarity fit recovers a known rotation, scale and translation exactly', () => {
  const source = Float64Array.from({ length: 60 }, (_, i) => Math.sin(i * 12.9898) * 10);
  const truth = { scale: 2.5, rotation: quaternionToMatrix(axisAngle([1, 2, -0.5], 0.9)), translation: Float64Array.from([3, -7, 11]) };
  const target = applySimilarity(truth, source);
  const ids = Array.from({ length: 20 }, (_, i) => i), weights = ids.map((i) => 1 + (i % 3));
  const fit = fitSimilarity(source, target, ids, weights);
  assert.ok(Math.abs(fit.scale - 2.5) < 1e-6, `scale ${fit.scale}`);
  for (let k = 0; k < 9; k++) assert.ok(Math.abs(fit.rotation[k]! - truth.rotation[k]!) < 1e-6, `rotation[${k}]`);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(fit.translation[k]! - truth.translation[k]!) < 1e-4, `translation[${k}]`);
});

test('the similarity fit returns a rotation, never a reflection, for mirrored points', () => {
  const source = Float64Array.from({ length: 30 }, (_, i) => Math.cos(i * 4.1) * 5);
  const mirrored = Float64Array.from(source, (v, i) => (i % 3 === 0 ? -v : v));
  const R = fitSimilarity(source, mirrored, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], new Array(10).fill(1)).rotation;
  const det = R[0]! * (R[4]! * R[8]! - R[5]! * R[7]!) - R[1]! * (R[3]! * R[8]! - R[5]! * R[6]!) + R[2]! * (R[3]! * R[7]! - R[4]! * R[6]!);
  assert.ok(Math.abs(det - 1) < 1e-9, `det ${det}`);
});

test('the pose-fit weights are read from the model bundle: 33 rigid points, eye corners and nose included, no lips', () => {
  const ids = Array.from(normalizer.basis.ids);
  assert.equal(ids.length, 33);
  for (const rigid of [4, 6, 33, 133, 263, 362]) assert.ok(ids.includes(rigid), `point ${rigid}`);
  for (const id of ids) assert.ok(!FACE_REGIONS.mouth.includes(id), `lip point ${id} in the basis`);
  assert.ok(normalizer.basis.weights.every((w) => w > 0));
  // 512 px crop, face 250 px from brow to chin, canonical face 17.7 cm tall.
  assert.ok(Math.abs(FACE_HEIGHT_PX - 249.76) < 0.01 && Math.abs(normalizer.pxPerCm - 14.14) < 0.01, `${FACE_HEIGHT_PX} ${normalizer.pxPerCm}`);
});

test('a turned, moved and scaled canonical face is brought back to the canonical mesh', () => {
  const q = axisAngle([0.3, 1, 0.1], 0.5); // ~29 degrees, mostly yaw
  const face = normalizer.normalize(posedLandmarks(q, 9, 300, 260, 640, 480), 640, 480);
  let worst = 0;
  for (let i = 0; i < 468 * 3; i++) worst = Math.max(worst, Math.abs(face.facePoints[i]! - normalizer.mesh[i]! * normalizer.pxPerCm));
  assert.ok(worst < 1e-3, `largest difference ${worst} px`);
  assert.ok(face.fitResidualPx < 1e-3, `residual ${face.fitResidualPx}`);
  assert.ok(Math.abs(face.imagePoints[4 * 3]! - 300 - normalizer.mesh[4 * 3]! * 9 * Math.cos(0.5)) < 40, 'image points stay in image pixels');
});

test('moving the lips changes the mouth distance and lip opening but not the eyes, and leaves the pose fit alone', () => {
  const neutral = posedLandmarks(axisAngle([0, 1, 0], 0.2), 8, 256, 256, 512, 512);
  const open = Float32Array.from(neutral);
  // The lower lip (lip points below the middle of the inner lips, 13/14, image y down) drops by 20 image px.
  const middleY = (neutral[13 * 3 + 1]! + neutral[14 * 3 + 1]!) / 2;
  for (const id of FACE_REGIONS.mouth) if (neutral[id * 3 + 1]! > middleY) open[id * 3 + 1]! += 20 / 512;
  const a = normalizer.normalize(open, 512, 512), b = normalizer.normalize(neutral, 512, 512);
  const f = compareFaces(a, b);
  assert.ok(f.mouthPx > 5, `mouth ${f.mouthPx}`);
  assert.ok(f.eyesPx < 1e-3, `eyes ${f.eyesPx}`);
  // 20 px at 8 px/cm is 2.5 cm, 35.3 px at 512 px face scale (a turn about the vertical axis keeps vertical vertical).
  assert.ok(Math.abs(f.lipOpeningPx - 2.5 * normalizer.pxPerCm) < 0.01, `opening error ${f.lipOpeningPx}`);
  assert.ok(lipOpeningPx(a) > lipOpeningPx(b));
  assert.equal(compareFaces(b, b).facePx, 0);
});

test('frames without a face on either side are counted, not averaged', () => {
  const face = normalizer.normalize(posedLandmarks([1, 0, 0, 0], 10, 200, 200, 400, 400), 400, 400);
  const summary = summarizeFidelity([{ render: face, original: face }, { render: null, original: face }, { render: face, original: null }, { render: null, original: null }]);
  assert.deepEqual(summary.facesFound, { render: 2, original: 2 });
  assert.equal(summary.frames, 4);
  assert.equal(summary.comparedFrames, 1);
  assert.equal(summary.facePx, 0);
  assert.ok(Number.isNaN(summarizeFidelity([{ render: null, original: face }]).mouthPx));
});

test('caller images become RGBA bytes: float clamped, RGB or RGBA by length, bad sizes refused', () => {
  assert.deepEqual(Array.from(toRgbaBytes({ pixels: Float32Array.from([-1, 0.5, 2]), width: 1, height: 1 })), [0, 128, 255, 255]);
  assert.deepEqual(Array.from(toRgbaBytes({ pixels: Uint8Array.from([1, 2, 3, 9]), width: 1, height: 1 })), [1, 2, 3, 255]);
  assert.throws(() => toRgbaBytes({ pixels: new Uint8Array(5), width: 1, height: 1 }), { name: 'TypeError', message: 'image: 5 values is neither RGB nor RGBA of 1x1' });
  assert.throws(() => toRgbaBytes({ pixels: new Uint8Array(3), width: 5000, height: 1 }), { name: 'RangeError', message: 'image: 5000x1 is larger than 4096 px on a side' });
});

test('a missing model file is one clear sentence', () => {
  assert.throws(() => FaceNormalizer.fromModel('/nonexistent/face_landmarker.task'), (error: Error) => {
    assert.ok(error instanceof RetrackError);
    assert.equal(error.message, 'face model not found at /nonexistent/face_landmarker.task (set VOXFACE_FACE_MODEL)');
    return true;
  });
});
