// The call's picture on the synthetic avatar: a 640x360 frame through the call framing,
// the head's rays only around the head with at least one ray per two output pixels per
// axis over the face, and the head composited onto its under-layer.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { CANONICAL_FACE, framingCamera } from '../../server/engine/Framing';
import { IDENTITY_POSE } from '../../server/engine/Pose';
import { LIVE, StreamingRenderer } from '../../server/engine/Renderer';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { SYNTH_CONFIG } from './modelFixtures';

const W = 640, H = 360;
let model: AvatarModel;
const coefficients = new Float32Array([0.4, 0.2]);

/** Random RGB8 noise of the output size (every pixel differs from its neighbours). */
function noise(seed: number): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('the call frame on the synthetic avatar', () => {
  before(() => {
    // 150 counted steps (~10 s): enough for the occupancy to take the head's shape.
    const train = syntheticFrames(SYNTH_CONFIG, { width: 40, height: 40, frames: 20, seed: 1 });
    const trainer = new Trainer(AvatarModel.create(SYNTH_CONFIG, 1), train, { width: 40, height: 40, raysPerStep: 1024 });
    trainer.train({ maxSteps: 150 });
    model = trainer.model;
  });

  test('LIVE casts at least one ray per two output pixels per axis over the face, and rays only around the head, in a 640x360 frame', () => {
    const camera = framingCamera(model.config.camera, W, H);
    const r = new StreamingRenderer(model, { width: W, height: H, camera, ...LIVE });
    r.render(coefficients, IDENTITY_POSE);
    const rect = r.lastStats.rect!, ic = r.internalCamera;
    assert.ok(rect, 'rays were cast');
    // The face's projected box in output pixels (forehead to chin; as wide as 0.8 of its height).
    const depth = camera.distance - CANONICAL_FACE.frontZ, half = CANONICAL_FACE.height / 2;
    const v0 = camera.cy - (camera.focalPx * (CANONICAL_FACE.centreY + half)) / depth;
    const v1 = camera.cy - (camera.focalPx * (CANONICAL_FACE.centreY - half)) / depth;
    const u0 = camera.cx - (camera.focalPx * 0.8 * half) / depth, u1 = camera.cx + (camera.focalPx * 0.8 * half) / depth;
    assert.ok(v1 - v0 > 0.4 * H && v1 - v0 < 0.5 * H, `the face is ${v1 - v0} px of ${H} tall`);
    // Rays cast over the face: internal pixels inside the rays' rectangle whose centres land in the face's box.
    let across = 0, down = 0;
    for (let x = rect.x0; x < rect.x1; x++) {
      const u = ((x + 0.5) * W) / ic.width;
      if (u >= u0 && u < u1) across++;
    }
    for (let y = rect.y0; y < rect.y1; y++) {
      const v = ((y + 0.5) * H) / ic.height;
      if (v >= v0 && v < v1) down++;
    }
    process.stderr.write(`${JSON.stringify({ faceBoxPx: [Math.round(u1 - u0), Math.round(v1 - v0)], raysOverFace: [across, down], rect, internal: [ic.width, ic.height] })}\n`);
    assert.ok(across >= 0.5 * (u1 - u0) - 1 && down >= 0.5 * (v1 - v0) - 1, `rays over the face: ${across} x ${down} for ${u1 - u0} x ${v1 - v0} px`);
    // The whole face is inside the rectangle, and the rectangle is far from the whole frame.
    const inRect = (u: number, v: number) => {
      const x = (u * ic.width) / W, y = (v * ic.height) / H;
      return x >= rect.x0 && x <= rect.x1 && y >= rect.y0 && y <= rect.y1;
    };
    assert.ok(inRect(u0, v0) && inRect(u1, v1), `the face's box ${[u0, v0, u1, v1]} lies in ${JSON.stringify(rect)}`);
    assert.ok(r.lastStats.rays < 0.6 * r.lastStats.pixels, `${r.lastStats.rays} rays of ${r.lastStats.pixels} pixels`);
  });

  test('a pixel the avatar does not cover equals the under-layer exactly, and the head covers the face', () => {
    const camera = framingCamera(model.config.camera, W, H), under = noise(7);
    const r = new StreamingRenderer(model, { width: W, height: H, camera, ...LIVE, under: { kind: 'image', width: W, height: H, rgb: under } });
    const out = r.render(coefficients, IDENTITY_POSE);
    let same = 0, changed = 0;
    for (let p = 0; p < W * H; p++) {
      const eq = out[4 * p] === under[3 * p] && out[4 * p + 1] === under[3 * p + 1] && out[4 * p + 2] === under[3 * p + 2];
      if (eq) same++; else changed++;
      assert.equal(out[4 * p + 3], 255);
    }
    for (const p of [0, W - 1, (H - 1) * W, H * W - 1, 10 * W + 10])
      assert.deepEqual([...out.subarray(4 * p, 4 * p + 3)], [...under.subarray(3 * p, 3 * p + 3)], `pixel ${p % W},${Math.floor(p / W)} is the under-layer`);
    // The face centre is the head (noise behind it would differ from the avatar's skin).
    const c = Math.round(camera.cy) * W + W / 2;
    assert.notDeepEqual([...out.subarray(4 * c, 4 * c + 3)], [...under.subarray(3 * c, 3 * c + 3)]);
    assert.ok(changed > 0.03 * W * H && same > 0.5 * W * H, `${changed} pixels show the head, ${same} the under-layer`);
  });

  test('a colour background gives that colour where the head is not, and matches an image of that colour under the head within a grey level', () => {
    const camera = framingCamera(model.config.camera, W, H), rgb = [0x22 / 255, 0x88 / 255, 0x44 / 255] as const;
    const flat = new StreamingRenderer(model, { width: W, height: H, camera, ...LIVE, under: { kind: 'colour', rgb } });
    const image = new Uint8Array(W * H * 3);
    for (let p = 0; p < W * H; p++) image.set([0x22, 0x88, 0x44], 3 * p);
    const layered = new StreamingRenderer(model, { width: W, height: H, camera, ...LIVE, under: { kind: 'image', width: W, height: H, rgb: image } });
    const a = flat.render(coefficients, IDENTITY_POSE).slice(), b = layered.render(coefficients, IDENTITY_POSE);
    for (const p of [0, W - 1, (H - 1) * W, H * W - 1]) assert.deepEqual([...a.subarray(4 * p, 4 * p + 4)], [0x22, 0x88, 0x44, 255]);
    let worst = 0, head = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      if (i % 4 === 0 && a[i] !== 0x22) head++;
    }
    assert.ok(worst <= 1, `the two compositing paths differ by ${worst} grey levels`);
    assert.ok(head > 0.03 * W * H, `${head} pixels show the head`);
  });
});
