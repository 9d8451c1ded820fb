// From a version-2 dataset's plates to the avatar file's plate view and to a call's
// under-layer, on a synthetic dataset whose plate pixels say where they are.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRgbaPng } from '../../server/dataset/png';
import { buildUnderLayer, NEUTRAL_RGB, platesInView } from '../../server/engine/AvatarPlates';
import { type DatasetPlatesMeta, platesFromDataset } from '../../server/engine/DatasetPlates';
import { framingCamera } from '../../server/engine/Framing';

const W = 256, H = 192;
const intrinsics = { fx: 200, fy: 200, cx: 128, cy: 96, width: W, height: H };
/** The head straight ahead of the camera, 60 cm away: the look-at rotation is the identity. */
const reference = { translationCm: [0, 0, -60] as [number, number, number] };
const camera = { distance: 6, focal: 200 / 256 };

/** A dataset folder with plates: background R = x, G = y; body opaque (white) in the bottom third, transparent red above. */
function writeDataset(): { dir: string; plates: DatasetPlatesMeta } {
  const dir = mkdtempSync(join(tmpdir(), 'vx-plates-ds-'));
  mkdirSync(join(dir, 'plates'));
  const bg = new Uint8Array(W * H * 4), body = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = 4 * (y * W + x);
      bg.set([x, y, 77, 255], i);
      body.set(y >= (2 * H) / 3 ? [250, 250, 250, 255] : [255, 0, 0, 0], i);
    }
  writeFileSync(join(dir, 'plates', 'background.png'), encodeRgbaPng(bg, W, H));
  writeFileSync(join(dir, 'plates', 'body.png'), encodeRgbaPng(body, W, H));
  const plates = { width: W, height: H, intrinsics, samples: 10, background: 'plates/background.png', body: 'plates/body.png' };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ version: 2, plates }));
  return { dir, plates };
}

describe('AvatarPlates', () => {
  test('a dataset\'s plates come into the plate view through the reference: each plate-view pixel shows the source pixel its ray meets', () => {
    const { dir, plates } = writeDataset();
    try {
      const p = platesFromDataset(dir, plates, reference, camera, { width: 160, height: 90 })!;
      const cam = p.camera;
      assert.deepEqual([cam.width, cam.height], [160, 90]);
      assert.equal(p.background.length, 160 * 90 * 3);
      assert.equal(p.body.length, 160 * 90 * 4);
      let checked = 0;
      for (let v = 0; v < 90; v += 7)
        for (let u = 0; u < 160; u += 11) {
          // Identity rotation: the source position is cx_s + fx_s (u + 0.5 - cx) / f, pixel index = that - 0.5.
          const xs = intrinsics.cx + (intrinsics.fx * (u + 0.5 - cam.cx)) / cam.focalPx - 0.5;
          const ys = intrinsics.cy + (intrinsics.fy * (v + 0.5 - cam.cy)) / cam.focalPx - 0.5;
          if (xs < 1 || ys < 1 || xs > W - 2 || ys > H - 2) continue; // beyond the source: filled (next test)
          const i = 3 * (v * 160 + u);
          assert.ok(Math.abs(p.background[i]! - xs) <= 1 && Math.abs(p.background[i + 1]! - ys) <= 1, `pixel ${u},${v}: ${[...p.background.subarray(i, i + 3)]} for source ${xs.toFixed(1)},${ys.toFixed(1)}`);
          assert.equal(p.background[i + 2], 77);
          const a = p.body[4 * (v * 160 + u) + 3]!;
          if (ys > (2 * H) / 3 + 1) assert.deepEqual([...p.body.subarray(4 * (v * 160 + u), 4 * (v * 160 + u) + 4)], [250, 250, 250, 255]);
          if (ys < (2 * H) / 3 - 2) assert.equal(a, 0, 'transparent above the body');
          checked++;
        }
      assert.ok(checked > 60, `checked ${checked}`);
      assert.equal(platesFromDataset(dir, undefined, reference, camera), null, 'a version-1 dataset has no plates');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test('the under-layer: the body over the chosen background, blur softer than the room, a colour where the body is not, grey without plates', () => {
    const { dir, plates } = writeDataset();
    try {
      const p = platesFromDataset(dir, plates, reference, camera, { width: 320, height: 180 })!;
      const out = framingCamera(camera, 160, 90);
      const view = platesInView(p, out);
      const room = buildUnderLayer({ kind: 'room' }, p, out), blur = buildUnderLayer({ kind: 'blur' }, p, out);
      const colour = buildUnderLayer({ kind: 'colour', rgb: '#2a6f97' }, p, out);
      assert.ok(room.kind === 'image' && blur.kind === 'image' && colour.kind === 'image');
      const layers: Uint8Array[] = [room.rgb, blur.rgb, colour.rgb];
      let bodyPixels = 0, backgroundPixels = 0, roomStep = 0, blurStep = 0;
      for (let y = 0; y < 90; y++)
        for (let x = 0; x < 160; x++) {
          const q = y * 160 + x, a = view.body[4 * q + 3]!;
          if (a === 255) {
            bodyPixels++;
            for (const layer of layers) assert.deepEqual([...layer.subarray(3 * q, 3 * q + 3)], [250, 250, 250], 'the body stays sharp over any background');
          } else if (a === 0) {
            backgroundPixels++;
            assert.deepEqual([...colour.rgb.subarray(3 * q, 3 * q + 3)], [0x2a, 0x6f, 0x97]);
            assert.deepEqual([...room.rgb.subarray(3 * q, 3 * q + 3)], [...view.background.subarray(3 * q, 3 * q + 3)]);
            if (x > 0 && view.body[4 * (q - 1) + 3] === 0) {
              roomStep += Math.abs(room.rgb[3 * q + 1]! - room.rgb[3 * q - 2]!) + Math.abs(room.rgb[3 * q]! - room.rgb[3 * q - 3]!);
              blurStep += Math.abs(blur.rgb[3 * q + 1]! - blur.rgb[3 * q - 2]!) + Math.abs(blur.rgb[3 * q]! - blur.rgb[3 * q - 3]!);
            }
          }
        }
      assert.ok(bodyPixels > 500 && backgroundPixels > 2000, `${bodyPixels} body and ${backgroundPixels} background pixels`);
      assert.ok(roomStep > 0, 'the room has a gradient');
      assert.deepEqual(buildUnderLayer({ kind: 'blur' }, null, out), { kind: 'colour', rgb: NEUTRAL_RGB });
      assert.deepEqual(buildUnderLayer({ kind: 'colour', rgb: '#ffffff' }, null, out), { kind: 'colour', rgb: [1, 1, 1] });
      // A blur of a gradient keeps the gradient in the middle: compare a noisier room instead.
      const noisy = { ...p, background: p.background.map((v, i) => (i * 2654435761) >>> 24) };
      const nRoom = buildUnderLayer({ kind: 'room' }, noisy, out), nBlur = buildUnderLayer({ kind: 'blur' }, noisy, out);
      assert.ok(nRoom.kind === 'image' && nBlur.kind === 'image');
      let sharp = 0, soft = 0;
      for (let q = 1; q < 160 * 40; q++) {
        sharp += Math.abs(nRoom.rgb[3 * q]! - nRoom.rgb[3 * q - 3]!);
        soft += Math.abs(nBlur.rgb[3 * q]! - nBlur.rgb[3 * q - 3]!);
      }
      assert.ok(soft < sharp / 8, `the blurred room's neighbour steps ${soft} are far below the room's ${sharp}`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  test('beyond the source the plates are filled smoothly, not by stretching its edge pixels', () => {
    const { dir, plates } = writeDataset();
    try {
      // A bright stripe down the body: clamping the bottom row drew it on down the whole frame.
      const body = new Uint8Array(W * H * 4);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) body.set(y >= (2 * H) / 3 ? (x >= 122 && x < 134 ? [255, 255, 0, 255] : [40, 40, 40, 255]) : [0, 0, 0, 0], 4 * (y * W + x));
      writeFileSync(join(dir, 'plates', 'body.png'), encodeRgbaPng(body, W, H));
      // A narrow source (twice the focal length) seen by a wide, low frame: the frame reaches well past it at the sides and the bottom.
      const narrow = { ...intrinsics, fx: 400, fy: 400 };
      const wide = framingCamera(camera, 320, 90), p = platesFromDataset(dir, { ...plates, intrinsics: narrow }, reference, camera, { width: 320, height: 90 })!;
      const bottomV = Math.ceil(wide.cy + ((H - narrow.cy) * wide.focalPx) / narrow.fy);
      assert.ok(bottomV < 85, `the source ends at row ${bottomV}`);
      const stripeU = Math.round(wide.cx + ((128.5 - narrow.cx) * wide.focalPx) / narrow.fx - 0.5);
      const at = (u: number, v: number) => p.body[4 * (v * 320 + u) + 2]!;
      // Blue 0 in the stripe, 40 around it: far below the edge the stripe must have melted into its surroundings.
      assert.ok(Math.abs(at(stripeU, 88) - at(stripeU + 12, 88)) < 8, `stripe ${at(stripeU, 88)} vs beside ${at(stripeU + 12, 88)}`);
      assert.ok(p.body[4 * (88 * 320 + stripeU) + 3]! > 200, 'the body goes on below the source');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
