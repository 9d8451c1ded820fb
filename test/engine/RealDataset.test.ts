// Pose mapping, resampling, SSIM, checkpoints and plots: the pieces between a prepared
// dataset and the trainer, each on cases with a known answer (no video, no Chromium).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { matrixFromPose, quaternionFromRotationMatrix } from '../../shared/coefficients/pose';
import type { DatasetMeta } from '../../shared/dataset/format';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { type AvatarConfig, validateConfig } from '../../server/engine/AvatarModelTypes';
import { decodeCheckpoint, encodeCheckpoint } from '../../server/engine/Checkpoint';
import { nearestFrame, ssim } from '../../server/engine/Evaluate';
import { rotationMatrix } from '../../server/engine/Pose';
import {
  axisAngleFromMatrix, cameraForReference, expressionCoefficients, headPoseFromMediaPipe, lookAtRotation, medianReference,
} from '../../server/engine/PoseMapping';
import { resample, sourcePositions } from '../../server/engine/RealDataset';
import { Trainer } from '../../server/engine/Trainer';
import { plotTrainingCurves } from '../../server/engine/TrainingPlots';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { TINY_CONFIG } from './modelFixtures';

type M3 = [number, number, number, number, number, number, number, number, number];
const mul = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from({ length: 9 }, (_, k) => [0, 1, 2].reduce((s, j) => s + a[3 * Math.floor(k / 3) + j]! * b[3 * j + (k % 3)]!, 0));
const apply = (m: ArrayLike<number>, v: number[]) => [0, 1, 2].map((i) => m[3 * i]! * v[0]! + m[3 * i + 1]! * v[1]! + m[3 * i + 2]! * v[2]!);
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

describe('PoseMapping', () => {
  const ref = { translationCm: [3, -2, -40] as const };

  test('a canonical point lands where MediaPipe puts it, seen from the model camera', () => {
    const rand = seededRandom(3);
    for (let n = 0; n < 20; n++) {
      const r = rotationMatrix([0.4 * (rand() - 0.5), 0.8 * (rand() - 0.5), 0.3 * (rand() - 0.5)]);
      const t = [ref.translationCm[0] + 6 * (rand() - 0.5), ref.translationCm[1] + 6 * (rand() - 0.5), ref.translationCm[2] + 6 * (rand() - 0.5)];
      const matrix = matrixFromPose({ rotation: quaternionFromRotationMatrix(Array.from(r) as M3), translationCm: t as [number, number, number], scale: 1.02 });
      const pose = headPoseFromMediaPipe(matrix, ref), cam = cameraForReference(ref, 1.5), q = lookAtRotation(ref);
      const xCm = [5 * (rand() - 0.5), 8 * (rand() - 0.5), 7 * rand()];
      // MediaPipe: p = s R x + t (cm, camera space); the model camera's frame is Q^T p.
      const p = apply(r, xCm).map((v, i) => 1.02 * v + t[i]!), pView = apply([q[0]!, q[3]!, q[6]!, q[1]!, q[4]!, q[7]!, q[2]!, q[5]!, q[8]!], p);
      // Model: X = S R_m (0.1 x) + T in world units; camera at (0,0,distance).
      const X = apply(rotationMatrix(pose.rotation), xCm.map((v) => 0.1 * v)).map((v, i) => pose.scale * v + pose.translation[i]!);
      close([X[0]!, X[1]!, X[2]! - cam.distance], pView.map((v) => 0.1 * v), 1e-9, 'view-space point');
    }
  });

  test('the reference position maps to zero translation and the optical axis', () => {
    const pose = headPoseFromMediaPipe({ rotation: [0, 0, 0, 1], translationCm: ref.translationCm }, ref);
    close(pose.translation, [0, 0, 0], 1e-12, 'T');
    const q = lookAtRotation(ref), axis = apply(q, [0, 0, -1]), n = Math.hypot(...ref.translationCm);
    close(axis, ref.translationCm.map((v) => v / n), 1e-12, 'axis');
    assert.ok(Math.abs(q[3]!) < 1e-12, 'no roll: the model x axis stays horizontal');
    // Straight ahead: identity view, pose unchanged, 1 unit per 10 cm.
    const ahead = { translationCm: [0, 0, -30] as const };
    const p = headPoseFromMediaPipe({ rotation: [0, Math.sin(0.1), 0, Math.cos(0.1)], translationCm: [2, 0, -30] }, ahead);
    close(p.rotation, [0, 0.2, 0], 1e-12, 'rotation');
    close(p.translation, [0.2, 0, 0], 1e-12, 'translation');
    assert.equal(cameraForReference(ahead, 1).distance, 3);
  });

  test('quaternion and matrix inputs agree; bad input is refused', () => {
    const q: [number, number, number, number] = [0.1, -0.2, 0.05, Math.sqrt(1 - 0.01 - 0.04 - 0.0025)];
    const a = headPoseFromMediaPipe({ rotation: q, translationCm: [1, 2, -35] }, ref);
    const b = headPoseFromMediaPipe(matrixFromPose({ rotation: q, translationCm: [1, 2, -35], scale: 1 }), ref);
    close(a.rotation, b.rotation, 1e-9, 'rotation');
    close(a.translation, b.translation, 1e-9, 'translation');
    assert.throws(() => headPoseFromMediaPipe(new Float32Array(15), ref), /16 values/);
    assert.throws(() => headPoseFromMediaPipe(new Float32Array(16), ref), /degenerate/);
    assert.throws(() => lookAtRotation({ translationCm: [0, 0, 0] }), /non-zero/);
  });

  test('axis-angle round-trips, including near pi', () => {
    for (const v of [[0, 0, 0], [1e-9, 0, 0], [0.3, -0.2, 0.1], [0, Math.PI - 1e-6, 0], [Math.PI / Math.sqrt(2) - 1e-7, -Math.PI / Math.sqrt(2), 0]])
      close(rotationMatrix(axisAngleFromMatrix(rotationMatrix(v))), rotationMatrix(v), 1e-6, `R(${v})`);
  });

  test('median reference and expression coefficients by name', () => {
    assert.deepEqual(medianReference([[1, 5, -30], [3, 4, -50], [2, 100, -40]]).translationCm, [2, 5, -40]);
    const scores = Float32Array.from({ length: 52 }, (_, i) => i / 100);
    // Default names: the first E non-neutral blendshapes (MediaPipe index 1..E).
    assert.deepEqual([...expressionCoefficients(scores, { expressionCount: 3 })].map((v) => Math.round(v * 100)), [1, 2, 3]);
    const named = expressionCoefficients(scores, { expressionCount: 2, expressionNames: ['jawOpen', 'eyeBlinkLeft'] });
    assert.deepEqual([...named].map((v) => Math.round(v * 100)), [25, 9]);
    assert.throws(() => expressionCoefficients(new Float32Array(51), { expressionCount: 2 }), /52 blendshape/);
  });

  test('config.expressionNames is validated', () => {
    const c = (names: unknown) => ({ ...TINY_CONFIG, expressionNames: names } as AvatarConfig);
    validateConfig(c(['jawOpen', 'mouthClose']));
    assert.throws(() => validateConfig(c(['jawOpen'])), /must list 2 names/);
    assert.throws(() => validateConfig(c(['jawOpen', 'jawOpen'])), /appears twice/);
    assert.throws(() => validateConfig(c(['jawOpen', '_neutral'])), /not a non-neutral/);
    assert.throws(() => validateConfig(c(['jawOpen', 'smile'])), /not a non-neutral/);
    assert.throws(() => validateConfig({ ...TINY_CONFIG, expressionCount: 52 }), /exceeds the 51/);
  });
});

describe('resampling a crop into the model view', () => {
  const meta = (cx: number, cy: number) => ({ imageSize: 32, intrinsics: { fx: 40, fy: 40, cx, cy, width: 32, height: 32 } } as DatasetMeta);

  test('centred principal point and straight-ahead reference: a plain box downsample', () => {
    const src = Uint8Array.from({ length: 32 * 32 }, (_, i) => (i * 37) % 256), out = new Float32Array(16 * 16);
    resample(src, 32, 1, sourcePositions(meta(16, 16), { translationCm: [0, 0, -40] }, 16, 2), 2, 1, out);
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++) {
        const box = [0, 1].flatMap((b) => [0, 1].map((a) => src[(2 * y + b) * 32 + 2 * x + a]!)).reduce((s, v) => s + v, 0) / 4 / 255;
        assert.ok(Math.abs(out[y * 16 + x]! - box) < 1e-6, `pixel ${x},${y}`);
      }
  });

  test('the reference head position is centred whatever the principal point; outside the crop is the fill', () => {
    // A reference straight along the crop's own optical axis ray through pixel (20, 9).
    const k = meta(10, 25), ref = { translationCm: [(20 - 10) / 40 * 40, -(9 - 25) / 40 * 40, -40] as const };
    const pos = sourcePositions(k, ref, 8, 1);
    // The model image centre (between pixels 3 and 4) maps to the head's pixel.
    const centre = [0, 1].map((c) => (pos[2 * (3 * 8 + 3) + c]! + pos[2 * (4 * 8 + 4) + c]!) / 2);
    close(centre, [20, 9], 0.05, 'centre');
    const out = new Float32Array(64);
    resample(new Uint8Array(32 * 32), 32, 1, sourcePositions(meta(200, 16), { translationCm: [0, 0, -40] }, 8, 1), 1, 1, out);
    assert.ok(out.every((v) => v === 1), 'a view entirely outside the crop is all fill');
  });
});

describe('SSIM', () => {
  const W = 24, H = 20;
  test('known cases: identical images, constant images, symmetry, noise', () => {
    const rand = seededRandom(5), a = Float32Array.from({ length: W * H * 3 }, () => rand());
    assert.ok(Math.abs(ssim(a, a, W, H) - 1) < 1e-12);
    // Constant images: variances are 0, so SSIM = (2 ab + C1) / (a^2 + b^2 + C1).
    const c1 = 1e-4, x = new Float32Array(W * H * 3).fill(0.5), y = new Float32Array(W * H * 3).fill(0.25);
    assert.ok(Math.abs(ssim(x, y, W, H) - (2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1)) < 1e-9);
    const b = a.map((v) => Math.min(1, Math.max(0, v + 0.2 * (rand() - 0.5))));
    assert.ok(Math.abs(ssim(a, b, W, H) - ssim(b, a, W, H)) < 1e-12, 'symmetric');
    const c = a.map((v) => Math.min(1, Math.max(0, v + 0.6 * (rand() - 0.5))));
    assert.ok(ssim(a, c, W, H) < ssim(a, b, W, H) && ssim(a, b, W, H) < 0.99, 'more noise, lower SSIM');
    // Inverted contrast: the structure term goes negative.
    assert.ok(ssim(a, a.map((v) => 1 - v), W, H) < 0);
  });

  test('matches a direct windowed computation on one channel', () => {
    const rand = seededRandom(9), w = 13, h = 12, a = Float32Array.from({ length: w * h }, () => rand()), b = a.map((v) => v * 0.7 + 0.2 * rand());
    const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / 4.5)), gs = g.reduce((s, v) => s + v, 0);
    let total = 0;
    for (let oy = 0; oy + 11 <= h; oy++)
      for (let ox = 0; ox + 11 <= w; ox++) {
        let mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
        for (let j = 0; j < 11; j++)
          for (let i = 0; i < 11; i++) {
            const wt = (g[i]! * g[j]!) / (gs * gs), u = a[(oy + j) * w + ox + i]!, v = b[(oy + j) * w + ox + i]!;
            mx += wt * u; my += wt * v; sxx += wt * u * u; syy += wt * v * v; sxy += wt * u * v;
          }
        const vx = sxx - mx * mx, vy = syy - my * my, cv = sxy - mx * my;
        total += ((2 * mx * my + 1e-4) * (2 * cv + 9e-4)) / ((mx * mx + my * my + 1e-4) * (vx + vy + 9e-4));
      }
    assert.ok(Math.abs(ssim(a, b, w, h, 1) - total / ((w - 10) * (h - 10))) < 1e-9);
    assert.throws(() => ssim(new Float32Array(30), new Float32Array(30), 10, 1, 3), /at least 11x11/);
  });

  test('nearest frame uses coefficients and pose', () => {
    const f = (c: number, yaw: number, tag: number) => ({ coefficients: Float32Array.of(c, 0), pose: { rotation: [0, yaw, 0], translation: [0, 0, 0], scale: 1 }, tag });
    const pool = [f(0, 0, 0), f(1, 0, 1), f(0, 0.5, 2), f(0.9, 0.45, 3)];
    assert.equal(nearestFrame(f(1, 0.5, -1), pool).tag, 3);
    assert.equal(nearestFrame(f(0.1, 0.4, -1), pool).tag, 2);
  });
});

describe('checkpoint and curves', () => {
  test('a resumed trainer continues exactly where the checkpoint left off', () => {
    const W = 12, rand = seededRandom(2);
    const frames = Array.from({ length: 3 }, () => ({
      coefficients: Float32Array.of(rand(), rand()), pose: { rotation: [0, 0.2 * rand(), 0], translation: [0, 0, 0], scale: 1 },
      image: Float32Array.from({ length: W * W * 3 }, () => rand()),
    }));
    const opts = { width: W, height: W, raysPerStep: 64, occupancyEvery: 3 };
    const a = new Trainer(AvatarModel.create(TINY_CONFIG, 1), frames, opts);
    for (let i = 0; i < 4; i++) a.step();
    const bytes = encodeCheckpoint(a.model, a.exportState(), { datasetSha256: 'x', res: W, elapsedMs: 5, history: [] });
    const ck = decodeCheckpoint(bytes), b = new Trainer(ck.model, frames, opts);
    b.importState(ck.state);
    assert.equal(b.stepCount, 4);
    for (let i = 0; i < 3; i++) assert.equal(b.step().loss, a.step().loss, `step ${i + 5} loss`);
    assert.deepEqual(b.model.params.appearance, a.model.params.appearance);
    // Damage anywhere is caught by the checksum.
    const bad = Buffer.from(bytes);
    bad[bad.length >> 1]! ^= 1;
    assert.throws(() => decodeCheckpoint(bad), /checksum mismatch/);
    assert.throws(() => decodeCheckpoint(Buffer.from('VXAV0000000000000000000000000000000000000000000000')), /not a Voxface training checkpoint/);
    // A run's time that is not a time (NaN is written as null) is refused: a resumed run's budget counts it.
    assert.throws(() => decodeCheckpoint(encodeCheckpoint(a.model, a.exportState(), { datasetSha256: 'x', res: W, elapsedMs: Number.NaN, history: [] })),
      /checkpoint: bad run entry \(elapsedMs null\)/);
  });

  test('training curves: a PNG with both panels drawn', () => {
    const pts = Array.from({ length: 8 }, (_, i) => ({ elapsedMs: i * 1000, loss: 0.3 / (i + 1), psnr: 12 + 2 * i, validationPsnr: 11 + 1.5 * i }));
    const png = PNG.sync.read(plotTrainingCurves(pts, 320, 240));
    assert.equal(png.width, 320);
    let blue = 0, red = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      if (png.data[i + 2] === 200 && png.data[i] === 30) blue++;
      if (png.data[i] === 210 && png.data[i + 1] === 40) red++;
    }
    assert.ok(blue > 100 && red > 50, `blue ${blue}, red ${red} pixels`);
  });
});
