import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baselineQuality, heldOutQuality } from './heldOutQuality';

const SIZE = 48;

/** A textured RGB image (fine detail, as skin and hair have) from a seeded generator. */
function textured(seed: number): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const img = new Float32Array(SIZE * SIZE * 3);
  for (let i = 0; i < img.length; i++) img[i] = 0.5 + 0.3 * Math.sin(i * 0.7) + 0.15 * (rand() - 0.5);
  return img;
}

/** Each channel averaged over a 5x5 box: the detail gone, the mean colour kept. */
function blurred(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++)
      for (let c = 0; c < 3; c++) {
        let sum = 0, n = 0;
        for (let dy = -2; dy <= 2; dy++)
          for (let dx = -2; dx <= 2; dx++) {
            const yy = y + dy, xx = x + dx;
            if (yy >= 0 && yy < SIZE && xx >= 0 && xx < SIZE) { sum += img[3 * (yy * SIZE + xx) + c]!; n++; }
          }
        out[3 * (y * SIZE + x) + c] = sum / n;
      }
  return out;
}

function disc(): Uint8Array {
  const r = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) r[y * SIZE + x] = (x - 24) ** 2 + (y - 24) ** 2 < 15 ** 2 ? 1 : 0;
  return r;
}

test('face SSIM ranks a render that keeps the detail above a blur of it', () => {
  const frames = [textured(1), textured(2)].map((image) => ({ image, faceRegion: disc() }));
  const noisy = frames.map((f) => f.image.map((v, i) => v + 0.02 * Math.sin(i * 1.3)));
  const sharp = heldOutQuality(frames, noisy, SIZE), soft = heldOutQuality(frames, frames.map((f) => blurred(f.image)), SIZE);
  assert.ok(sharp.heldOutFaceSsim! > 0.9, JSON.stringify(sharp));
  assert.ok(soft.heldOutFaceSsim! < sharp.heldOutFaceSsim! - 0.3, JSON.stringify({ sharp, soft }));
  assert.ok(sharp.heldOutFacePsnr! > soft.heldOutFacePsnr!);
  assert.ok(Number.isFinite(sharp.heldOutPsnr));
});

test('frames without a face oval leave the face figures null; the baseline puts the mean image in every frame\'s place', () => {
  const frames = [{ image: textured(3) }, { image: textured(4) }];
  const q = heldOutQuality(frames, frames.map((f) => blurred(f.image)), SIZE);
  assert.equal(q.heldOutFacePsnr, null);
  assert.equal(q.heldOutFaceSsim, null);
  const mean = textured(3);
  const b = baselineQuality([{ image: textured(3), faceRegion: disc() }, { image: textured(4), faceRegion: disc() }], mean, SIZE);
  const direct = heldOutQuality([{ image: textured(3), faceRegion: disc() }, { image: textured(4), faceRegion: disc() }], [mean, mean], SIZE);
  assert.deepEqual(b, { baselinePsnr: direct.heldOutPsnr, baselineFacePsnr: direct.heldOutFacePsnr, baselineFaceSsim: direct.heldOutFaceSsim });
});

test('a frame whose face oval is too small for an SSIM window is left out of the face SSIM', () => {
  const speck = new Uint8Array(SIZE * SIZE);
  speck[2] = 1; // a corner pixel: no 11x11 window is centred there
  const frames = [{ image: textured(5), faceRegion: disc() }, { image: textured(6), faceRegion: speck }];
  const q = heldOutQuality(frames, frames.map((f) => f.image.map((v) => v * 0.98)), SIZE);
  const first = heldOutQuality([frames[0]!], [frames[0]!.image.map((v) => v * 0.98)], SIZE);
  assert.equal(q.heldOutFaceSsim, first.heldOutFaceSsim);
  assert.equal(heldOutQuality([frames[1]!], [frames[1]!.image], SIZE).heldOutFaceSsim, null);
});

test('a render count that does not match the frames is refused', () => {
  assert.throws(() => heldOutQuality([{ image: textured(1) }], [], SIZE), { name: 'RangeError', message: 'heldOutQuality: 0 images for 1 frames' });
});
