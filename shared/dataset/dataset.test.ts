import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cropIntrinsics, focalLengthPx, landmarksToCropPixels, plateIntrinsics, projectPoints } from './camera';
import { plateSize } from './plateSample';
import { decideCropWindow } from './cropWindow';
import { splitOf, testStartIndex } from './format';
import { DatasetValidationError, validateDataset } from './validate';

test('a point projected through the crop intrinsics lands where its full-frame projection, cropped, lands', () => {
  const width = 720; const height = 1280; const crop = { x: 100, y: 300, size: 400 };
  const k = cropIntrinsics(width, height, crop);
  const pose = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 3, -2, -40, 1]; // translate only
  const [u, v] = projectPoints([1, 2, 0], pose, k);
  // Full frame: centred principal point, y up in camera space, v down in the image.
  const f = focalLengthPx(height);
  const fullU = width / 2 + (f * 4) / 40; const fullV = height / 2 - (f * 0) / 40;
  const [expectedU, expectedV] = landmarksToCropPixels([fullU / width, fullV / height, 0], width, height, crop);
  assert.ok(Math.abs(u! - expectedU!) < 1e-3 && Math.abs(v! - expectedV!) < 1e-3, `${u},${v} vs ${expectedU},${expectedV}`);
  assert.ok(Math.abs(f - 640 / Math.tan((31.5 * Math.PI) / 180)) < 1e-9);
});

test('the crop window holds every box with margins and stays inside the frame', () => {
  const boxes = [{ minX: 300, minY: 500, maxX: 420, maxY: 650 }, { minX: 340, minY: 520, maxX: 460, maxY: 670 }];
  const crop = decideCropWindow(boxes, 720, 1280);
  assert.ok(crop.x <= 300 - 0.45 * 120 + 1 && crop.x + crop.size >= 460 + 0.45 * 120 - 1);
  assert.ok(crop.y <= 500 - 0.75 * 150 + 1 && crop.y + crop.size >= 670);
  // A face near the edge: the window moves, never leaves the frame.
  const edge = decideCropWindow([{ minX: 0, minY: 0, maxX: 200, maxY: 260 }], 720, 1280);
  assert.ok(edge.x >= 0 && edge.y >= 0 && edge.x + edge.size <= 720 && edge.y + edge.size <= 1280);
  // A head larger than the frame: the largest square that fits.
  const big = decideCropWindow([{ minX: 50, minY: 50, maxX: 470, maxY: 460 }], 512, 480);
  assert.equal(big.size, 480);
  assert.throws(() => decideCropWindow([], 10, 10), /no face/);
});

test('the split holds out the last 15% by time and excludes frames without a face', () => {
  assert.equal(testStartIndex(100), 85);
  assert.equal(splitOf(84, 100, true), 'train');
  assert.equal(splitOf(85, 100, true), 'test');
  assert.equal(splitOf(90, 100, false), 'excluded');
});

test('validation names the file and field of each problem', () => {
  assert.throws(() => validateDataset({ version: 9 }, [], { blendshapes: 0, poses: 0, landmarks: 0 }), (error: unknown) => {
    assert.ok(error instanceof DatasetValidationError);
    assert.match(error.message, /dataset\.json: version 9 is not one this program reads \(1, 2\); prepare the video again/);
    assert.match(error.message, /frameCount must be a positive integer/);
    return true;
  });
  assert.throws(() => validateDataset({}, {}, { blendshapes: 0, poses: 0, landmarks: 0 }), /frames\.json is not a JSON array/);
});

test('a point projected with the crop intrinsics (crop pixels) and with the plate intrinsics (plate pixels) lands on the same video point', () => {
  // A portrait 720x1280 source whose plates are 360x640, and an odd-sized one whose plate rounds each side.
  for (const [width, height, crop] of [[720, 1280, { x: 100, y: 300, size: 400 }], [1279, 719, { x: 401, y: 57, size: 613 }]] as const) {
    const cropK = cropIntrinsics(width, height, crop);
    const plate = plateSize(width, height);
    const plateK = plateIntrinsics(cropK, crop, width, height, plate.width, plate.height);
    assert.equal(plateK.width, plate.width);
    const pose = [0.98, 0.1, -0.17, 0, -0.12, 0.99, -0.05, 0, 0.16, 0.07, 0.98, 0, 2.5, -1.5, -45, 1];
    const points = [1, 2, 0, -6, 4, -3, 5, -8, -2];
    const inCrop = projectPoints(points, pose, cropK);
    const inPlate = projectPoints(points, pose, plateK);
    for (let i = 0; i < 3; i += 1) {
      const fromCrop = [crop.x + (inCrop[i * 2]! * crop.size) / cropK.width, crop.y + (inCrop[i * 2 + 1]! * crop.size) / cropK.height];
      const fromPlate = [(inPlate[i * 2]! * width) / plate.width, (inPlate[i * 2 + 1]! * height) / plate.height];
      assert.ok(Math.hypot(fromCrop[0]! - fromPlate[0]!, fromCrop[1]! - fromPlate[1]!) < 1e-3, `${fromCrop} vs ${fromPlate}`);
    }
    // The plate camera is MediaPipe's full-frame camera at plate size: principal point at the centre.
    assert.ok(Math.abs(plateK.cx - plate.width / 2) < 1e-9 && Math.abs(plateK.cy - plate.height / 2) < 1e-9);
    assert.ok(Math.abs(plateK.fy - focalLengthPx(plate.height)) < 1e-9);
  }
});
