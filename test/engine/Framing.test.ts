import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CALL_FRAMING, CANONICAL_FACE, framingCamera, modelPixelCamera, pixelRays, plateSourcePositions } from '../../server/engine/Framing';
import { sourcePositions } from '../../server/engine/RealDataset';
import type { DatasetMeta } from '../../shared/dataset/format';

const camera = { distance: 5.2, focal: 1.6 };

/** Pixel row where a canonical point (y, z) at the origin pose projects. */
function rowOf(cam: ReturnType<typeof framingCamera>, y: number, z: number): number {
  return cam.cy - (cam.focalPx * y) / (cam.distance - z);
}

test('the call framing makes the face 45% of a 640x360 frame, centred horizontally, a little above the middle', () => {
  const cam = framingCamera(camera, 640, 360);
  const top = rowOf(cam, CANONICAL_FACE.centreY + CANONICAL_FACE.height / 2, CANONICAL_FACE.frontZ);
  const bottom = rowOf(cam, CANONICAL_FACE.centreY - CANONICAL_FACE.height / 2, CANONICAL_FACE.frontZ);
  assert.ok(Math.abs((bottom - top) / 360 - CALL_FRAMING.faceHeightFraction) < 1e-9);
  assert.ok(Math.abs((top + bottom) / 2 / 360 - CALL_FRAMING.faceCentreFromTop) < 1e-9);
  assert.equal(cam.cx, 320);
});

test('the framing scales with the frame: 1280x720 is 640x360 at twice the pixels', () => {
  const a = framingCamera(camera, 640, 360), b = framingCamera(camera, 1280, 720);
  assert.ok(Math.abs(b.focalPx - 2 * a.focalPx) < 1e-9 && Math.abs(b.cy - 2 * a.cy) < 1e-9);
});

test('bad sizes and framings are refused', () => {
  assert.throws(() => framingCamera(camera, 0, 360), /positive integers, got 0x360/);
  assert.throws(() => framingCamera(camera, 640, 360, { faceHeightFraction: 1.2, faceCentreFromTop: 0.4 }), /in \(0, 1\)/);
  assert.throws(() => framingCamera({ distance: 0.3, focal: 1 }, 640, 360), /inside the face/);
});

test('pixel rays of the model camera look through pixel centres (the principal point ray is the axis)', () => {
  const cam = modelPixelCamera(camera, 4, 4);
  const { origins, dirs } = pixelRays(cam, [5]);
  assert.deepEqual([...origins], [0, 0, camera.distance].map(Math.fround));
  // Pixel (1, 1) centre is half a pixel up-left of the principal point (2, 2).
  assert.ok(dirs[0]! < 0 && dirs[1]! > 0 && dirs[2]! < 0);
  assert.ok(Math.abs(Math.hypot(dirs[0]!, dirs[1]!, dirs[2]!) - 1) < 1e-6);
});

test('plate positions for the model square agree with the training resampler (the same homography)', () => {
  const intrinsics = { fx: 700, fy: 700, cx: 250, cy: 270, width: 512, height: 512 };
  const meta = { intrinsics, imageSize: 512 } as unknown as DatasetMeta;
  const reference = { translationCm: [2, -3, -48] as const };
  const res = 16, fromTraining = sourcePositions(meta, reference, res, 1);
  const cam = modelPixelCamera({ distance: 4.8, focal: intrinsics.fx / 512 }, res, res);
  const fromFraming = plateSourcePositions(cam, reference, intrinsics);
  for (let i = 0; i < fromTraining.length; i++) assert.ok(Math.abs(fromTraining[i]! - fromFraming[i]!) < 1e-3, `value ${i}`);
});
