// The eval's region measures (FaceRegion, Metrics' region PSNR/SSIM, Sharpness) on cases
// with a known answer and on a real video frame (KatieHill, decoded by ffmpeg).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { FACE_OVAL } from '../../shared/dataset/faceOval';
import { type DatasetMeta, LANDMARK_COUNT } from '../../shared/dataset/format';
import { cropToOutput, faceOvalRegion, personRegion, rasterizePolygon, regionArea } from '../../server/engine/FaceRegion';
import { meanSsim, psnr, regionPsnr, ssim, ssimMap } from '../../server/engine/Metrics';
import { cameraRays } from '../../server/engine/Pose';
import { lookAtRotation } from '../../server/engine/PoseMapping';
import { sourcePositions } from '../../server/engine/RealDataset';
import { laplacianEnergy, sharpnessRatio } from '../../server/engine/Sharpness';
import { clipPath } from '../helpers/sharedData';

const S = 128;

/** Frame 50 (2 s in) of KatieHill at S x S, RGB float [0, 1]. */
function realFrame(): Float32Array {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-nostdin', '-ss', '2', '-i', clipPath('womanHdtf'), '-frames:v', '1', '-vf', `scale=${S}:${S}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 1 << 24 });
  assert.equal(run.status, 0, String(run.stderr));
  assert.equal(run.stdout.length, S * S * 3);
  return Float32Array.from(run.stdout, (b) => b / 255);
}

/** Separable Gaussian blur (clamped edges) of interleaved RGB. */
function gaussianBlur(img: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma), k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0), tmp = new Float32Array(img.length), out = new Float32Array(img.length);
  const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += k[i + r]! * img[3 * (y * w + clamp(x + i, w)) + c]!;
        tmp[3 * (y * w + x) + c] = s / sum;
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += k[i + r]! * tmp[3 * (clamp(y + i, h) * w + x) + c]!;
        out[3 * (y * w + x) + c] = s / sum;
      }
  return out;
}

/** A disc of radius `radius` pixels about (cx, cy), as a region. */
function disc(w: number, h: number, cx: number, cy: number, radius: number): Uint8Array {
  return Uint8Array.from({ length: w * h }, (_, p) => (Math.hypot((p % w) + 0.5 - cx, Math.floor(p / w) + 0.5 - cy) < radius ? 1 : 0));
}

describe('face region', () => {
  test('a polygon is filled at pixel centres: a rectangle, an L shape and a polygon partly outside the frame', () => {
    // Centres x 2.5..10.5 (9 columns) and y 3.5..8.5 (6 rows) lie inside [2.3, 10.7] x [3, 9].
    const rect = rasterizePolygon([2.3, 3, 10.7, 3, 10.7, 9, 2.3, 9], 16, 12);
    assert.equal(regionArea(rect), 54);
    assert.equal(rect[3 * 16 + 2], 1);
    assert.equal(rect[3 * 16 + 11], 0);
    assert.equal(rect[2 * 16 + 5], 0);
    // An L: the 8x8 square [0, 8]^2 without its top-right 4x4 quarter: 48 pixels, concave corner honoured.
    const l = rasterizePolygon([0, 0, 4, 0, 4, 4, 8, 4, 8, 8, 0, 8], 10, 10);
    assert.equal(regionArea(l), 48);
    assert.equal(l[1 * 10 + 6], 0, 'the missing quarter is outside');
    assert.equal(l[6 * 10 + 6], 1);
    // A square reaching past every edge covers the whole frame and nothing is written out of bounds.
    assert.equal(regionArea(rasterizePolygon([-5, -5, 20, -5, 20, 20, -5, 20], 7, 9)), 63);
    assert.throws(() => rasterizePolygon([0, 0, 1, 1], 4, 4), /at least 3/);
  });

  test('crop pixels map back to the output pixels they were resampled for (inverse of sourcePositions, float32 positions)', () => {
    const meta = { imageSize: 512, intrinsics: { fx: 600, fy: 600, cx: 230, cy: 290, width: 512, height: 512 } } as DatasetMeta;
    const ref = { translationCm: [4, -3, -45] as const }, res = 24, pos = sourcePositions(meta, ref, res, 1), map = cropToOutput(meta, ref, res, res);
    for (let p = 0; p < res * res; p++) {
      const [x, y] = map(pos[2 * p]!, pos[2 * p + 1]!);
      assert.ok(Math.abs(x - ((p % res) + 0.5)) < 1e-4 && Math.abs(y - (Math.floor(p / res) + 0.5)) < 1e-4, `pixel ${p}: ${x}, ${y}`);
    }
  });

  test('the mapping holds for a 16:9 frame: the ray of each output pixel (Pose.cameraRays) projects to a crop point that maps back to it', () => {
    const meta = { imageSize: 512, intrinsics: { fx: 600, fy: 600, cx: 230, cy: 290, width: 512, height: 512 } } as DatasetMeta;
    const ref = { translationCm: [4, -3, -45] as const }, w = 32, h = 18, k = meta.intrinsics, q = lookAtRotation(ref);
    const rays = cameraRays({ distance: 4.5, focal: k.fx / 512 }, w, h), map = cropToOutput(meta, ref, w, h);
    for (let p = 0; p < w * h; p++) {
      const d = [rays.dirs[3 * p]!, rays.dirs[3 * p + 1]!, rays.dirs[3 * p + 2]!];
      const m = [0, 1, 2].map((r) => q[3 * r]! * d[0]! + q[3 * r + 1]! * d[1]! + q[3 * r + 2]! * d[2]!);
      const [x, y] = map(k.cx + (k.fx * m[0]!) / -m[2]!, k.cy - (k.fy * m[1]!) / -m[2]!);
      assert.ok(Math.abs(x - ((p % w) + 0.5)) < 1e-4 && Math.abs(y - (Math.floor(p / w) + 0.5)) < 1e-4, `pixel ${p}: ${x}, ${y}`);
    }
  });

  test('the face oval through known landmarks: a circle of radius 100 crop px fills a 25 px disc at 128 px, and no face gives no region', () => {
    // Straight-ahead reference, principal point at the crop centre: crop pixels scale by 128/512.
    const meta = { imageSize: 512, intrinsics: { fx: 560, fy: 560, cx: 256, cy: 256, width: 512, height: 512 } } as DatasetMeta;
    const map = cropToOutput(meta, { translationCm: [0, 0, -40] }, S, S), lm = new Float32Array(2 * LANDMARK_COUNT).fill(Number.NaN);
    FACE_OVAL.forEach((index, k) => {
      const a = (2 * Math.PI * k) / FACE_OVAL.length;
      lm[2 * index] = 256 + 100 * Math.sin(a);
      lm[2 * index + 1] = 256 - 100 * Math.cos(a);
    });
    const face = faceOvalRegion(lm, map, S, S)!;
    // A regular 36-gon holds 0.995 of its circle: pi 25^2 = 1963 pixels.
    const area = regionArea(face), expected = Math.PI * 25 ** 2 * 0.995;
    assert.ok(Math.abs(area / expected - 1) < 0.02, `area ${area}, expected about ${expected.toFixed(0)}`);
    assert.equal(face[64 * S + 64], 1);
    assert.equal(face[64 * S + 64 + 27], 0);
    assert.equal(face[(64 - 27) * S + 64], 0);
    lm[2 * FACE_OVAL[7]!] = Number.NaN;
    assert.equal(faceOvalRegion(lm, map, S, S), undefined);
  });

  test('the person region is the mask above 0.5', () => {
    assert.deepEqual(Array.from(personRegion(Float32Array.from([0, 0.5, 0.51, 1]))), [0, 0, 1, 1]);
  });
});

describe('region PSNR and SSIM', () => {
  const img = realFrame(), region = disc(S, S, 64, 64, 30);

  test('PSNR in a region sees only its pixels', () => {
    const other = img.slice();
    for (let p = 0; p < S * S; p++) if (!region[p]) for (let c = 0; c < 3; c++) other[3 * p + c] = 1 - other[3 * p + c]!;
    assert.equal(regionPsnr(other, img, region), Infinity, 'identical inside');
    assert.ok(psnr(other, img) < 15, 'the whole frame sees the change');
    const shifted = img.map((v, i) => (region[Math.floor(i / 3)] ? v + 0.1 : v));
    assert.ok(Math.abs(regionPsnr(shifted, img, region) - 20) < 1e-4, `a 0.1 error inside is 20 dB, got ${regionPsnr(shifted, img, region)}`);
    assert.ok(Number.isNaN(regionPsnr(img, img, new Uint8Array(S * S))), 'an empty region has no score');
  });

  test('SSIM in a region averages the windows centred in it: changes more than 5 px away do not count', () => {
    const noisy = img.slice();
    // Noise beyond 38 px from the disc's centre: the 11x11 windows centred in the disc (radius 30) reach 30 + 5 sqrt 2 = 37.1 px.
    for (let p = 0; p < S * S; p++) if (Math.hypot((p % S) + 0.5 - 64, Math.floor(p / S) + 0.5 - 64) > 38) for (let c = 0; c < 3; c++) noisy[3 * p + c] = Math.random();
    const map = ssimMap(noisy, img, S, S);
    assert.ok(Math.abs(meanSsim(map, S, S, region) - 1) < 1e-9, `region SSIM ${meanSsim(map, S, S, region)}`);
    assert.ok(meanSsim(map, S, S) < 0.6, `whole-frame SSIM ${meanSsim(map, S, S)}`);
    assert.equal(meanSsim(map, S, S), ssim(noisy, img, S, S), 'ssim() is the mean over every window');
    assert.ok(Number.isNaN(meanSsim(map, S, S, new Uint8Array(S * S))));
  });
});

describe('sharpness ratio', () => {
  const img = realFrame(), region = disc(S, S, 64, 60, 35);

  test('is 1 for the frame itself and far below 1 for a Gaussian-blurred copy', () => {
    assert.equal(sharpnessRatio(img, img, S, S, region), 1);
    const soft = sharpnessRatio(gaussianBlur(img, S, S, 1.5), img, S, S, region), softer = sharpnessRatio(gaussianBlur(img, S, S, 3), img, S, S, region);
    // Measured on this frame: 0.031 at sigma 1.5, 0.003 at sigma 3.
    assert.ok(soft < 0.5, `blur sigma 1.5: ${soft}`);
    assert.ok(softer < soft, `blur sigma 3: ${softer}`);
    assert.ok(soft > 0);
  });

  test('is computed only inside the region: changes outside it, or at its edge pixels, do not count', () => {
    const outside = img.slice();
    for (let p = 0; p < S * S; p++) if (!region[p]) for (let c = 0; c < 3; c++) outside[3 * p + c] = Math.random();
    assert.equal(sharpnessRatio(outside, img, S, S, region), 1);
    assert.ok(sharpnessRatio(outside, img, S, S) > 2, 'the whole frame sees the noise');
    // A region of one pixel has no pixel whose 3x3 neighbourhood is inside it.
    const one = new Uint8Array(S * S);
    one[64 * S + 64] = 1;
    assert.equal(laplacianEnergy(img, S, S, one).pixels, 0);
    assert.ok(Number.isNaN(sharpnessRatio(img, img, S, S, one)));
    // A 3x3 block counts its centre only.
    for (const d of [-S - 1, -S, -S + 1, -1, 1, S - 1, S, S + 1]) one[64 * S + 64 + d] = 1;
    assert.equal(laplacianEnergy(img, S, S, one).pixels, 1);
  });
});
