import assert from 'node:assert/strict';
import { test } from 'node:test';
import { framedSampler, sampleFramed } from '../../server/engine/FramedTruth';
import { framingCamera, modelPixelCamera } from '../../server/engine/Framing';
import { imageToCamera } from '../../server/engine/FaceRegion';

// A camera looking straight ahead (reference on the axis): the look-at rotation is the identity.
const reference = { translationCm: [0, 0, -50] as const };

test('through the same camera, the framed sampler gives back the source image', () => {
  const w = 12, h = 8, k = { fx: 10, fy: 10, cx: w / 2, cy: h / 2, width: w, height: h };
  const src = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
  const cam = modelPixelCamera({ distance: 5, focal: 10 / h }, w, h);
  const s = framedSampler(cam, reference, k, w, h, 1);
  const out = sampleFramed(s, src, 3);
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i]! - src[i]! / 255) < 1e-6, `value ${i}`);
  assert.equal(s.inside.reduce((a, b) => a + b, 0), w * h);
});

test('a wider framing than the source leaves its edges outside the ground truth, and maps a point where the homography says', () => {
  const w = 64, h = 64, k = { fx: 80, fy: 80, cx: 32, cy: 32, width: w, height: h };
  const cam = framingCamera({ distance: 5, focal: 80 / 64 }, 160, 90);
  const s = framedSampler(cam, reference, k, w, h, 2);
  const inside = s.inside.reduce((a, b) => a + b, 0);
  assert.ok(inside > 0 && inside < 160 * 90, `inside ${inside}`);
  assert.equal(s.inside[0], 0);
  // A bright source pixel lands where imageToCamera maps it.
  const src = new Uint8Array(w * h);
  src[40 * w + 20] = 255;
  const out = sampleFramed(s, src, 1);
  let best = 0;
  for (let i = 1; i < out.length; i++) if (out[i]! > out[best]!) best = i;
  const [u, v] = imageToCamera(k, reference, cam)(20.5, 40.5);
  assert.ok(Math.abs((best % 160) + 0.5 - u) <= 1 && Math.abs(Math.floor(best / 160) + 0.5 - v) <= 1, `peak at ${best % 160},${Math.floor(best / 160)}, expected ${u},${v}`);
});

test('a source of the wrong size is refused', () => {
  const k = { fx: 10, fy: 10, cx: 4, cy: 4, width: 8, height: 8 };
  const s = framedSampler(modelPixelCamera({ distance: 5, focal: 1 }, 8, 8), reference, k, 8, 8, 1);
  assert.throws(() => sampleFramed(s, new Uint8Array(10), 3), /source has 10 values, expected 192/);
});
