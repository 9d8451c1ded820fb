import assert from 'node:assert/strict';
import { test } from 'node:test';
import { occupiedBox, projectedRect } from './ScreenBounds';
import { cameraRays, IDENTITY_POSE } from './Pose';
import { framingCamera, modelPixelCamera, pixelRays, type PixelCamera } from './Framing';

const camera = { distance: 4, focal: 1.6 };
const square = (w: number, h: number): PixelCamera => modelPixelCamera(camera, w, h);

/** Every pixel of `cam` whose centre's ray meets the axis-aligned `cube` lies inside `rect`. */
function assertHoldsEveryHit(cam: PixelCamera, rays: { origins: Float32Array; dirs: Float32Array }, cube: { min: readonly number[]; max: readonly number[] }, rect: { x0: number; y0: number; x1: number; y1: number }): number {
  const { origins, dirs } = rays;
  let hits = 0;
  for (let p = 0; p < cam.width * cam.height; p++) {
    let t0 = -Infinity, t1 = Infinity;
    for (let a = 0; a < 3; a++) {
      const o = origins[3 * p + a]!, d = dirs[3 * p + a]!;
      const ta = (cube.min[a]! - o) / d, tb = (cube.max[a]! - o) / d;
      t0 = Math.max(t0, Math.min(ta, tb)); t1 = Math.min(t1, Math.max(ta, tb));
    }
    if (t0 > t1) continue;
    hits++;
    const u = p % cam.width, v = Math.floor(p / cam.width);
    assert.ok(u >= rect.x0 && u < rect.x1 && v >= rect.y0 && v < rect.y1, `pixel ${u},${v} meets the cube outside ${JSON.stringify(rect)}`);
  }
  return hits;
}
const box = { min: [-1, -1, -1] as const, max: [1, 1, 1] as const };

test('the occupied box spans exactly the occupied cells, and an empty grid has none', () => {
  const G = 4, occ = new Uint8Array(G * G * G);
  assert.equal(occupiedBox(occ, G, box), null);
  occ[(1 * G + 2) * G + 3] = 1; // z=1, y=2, x=3
  occ[(2 * G + 1) * G + 1] = 1; // z=2, y=1, x=1
  assert.deepEqual(occupiedBox(occ, G, box), { min: [-0.5, -0.5, -0.5], max: [1, 0.5, 0.5] });
});

test('a centred box projects to a centred rectangle that holds every pixel whose ray meets the box', () => {
  const width = 160, height = 90, cube = { min: [-0.5, -0.5, -0.5] as const, max: [0.5, 0.5, 0.5] as const };
  const rect = projectedRect(cube, IDENTITY_POSE, square(width, height), 0)!;
  assert.equal(rect.x0 + rect.x1, width, 'symmetric about the centre');
  assert.ok(rect.x1 - rect.x0 < width / 2, `${JSON.stringify(rect)} is narrower than half the frame`);
  assert.ok(assertHoldsEveryHit(square(width, height), cameraRays(camera, width, height), cube, rect) > 100);
});

test('with the call framing\'s principal point above the centre, the rectangle moves with it and still holds every pixel whose ray meets the box', () => {
  const cam = framingCamera(camera, 640, 360), cube = { min: [-0.5, -0.6, -0.5] as const, max: [0.5, 0.4, 0.5] as const };
  const rect = projectedRect(cube, IDENTITY_POSE, cam, 0)!;
  const centred = projectedRect(cube, IDENTITY_POSE, { ...cam, cy: cam.height / 2 }, 0)!;
  assert.ok(cam.cy < 180 && rect.y0 < centred.y0 && rect.y1 < centred.y1, `${JSON.stringify(rect)} sits above ${JSON.stringify(centred)}`);
  assert.ok(assertHoldsEveryHit(cam, pixelRays(cam), cube, rect) > 1000);
});

test('the rectangle follows the pose, and a box reaching behind the camera takes the whole frame', () => {
  const cube = { min: [-0.2, -0.2, -0.2] as const, max: [0.2, 0.2, 0.2] as const };
  const left = projectedRect(cube, { rotation: [0, 0, 0], translation: [-1, 0, 0], scale: 1 }, square(100, 100))!;
  assert.ok(left.x1 < 50, `moved left: ${JSON.stringify(left)}`);
  assert.deepEqual(projectedRect(cube, { rotation: [0, 0, 0], translation: [0, 0, 4], scale: 1 }, square(100, 100)), { x0: 0, y0: 0, x1: 100, y1: 100 });
  assert.equal(projectedRect(cube, { rotation: [0, 0, 0], translation: [50, 0, 0], scale: 1 }, square(100, 100)), null, 'off screen');
});
