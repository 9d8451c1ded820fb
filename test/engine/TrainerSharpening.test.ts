// The trainer's face-quality parts: rays where the face is, D-SSIM on patches, per-frame
// alignment, and their state across a checkpoint.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { decodeCheckpoint, encodeCheckpoint } from '../../server/engine/Checkpoint';
import { FrameAlignment } from '../../server/engine/FrameAlignment';
import { patchDssim } from '../../server/engine/PatchSsim';
import { sampleRays } from '../../server/engine/RaySampler';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { SYNTH_CONFIG, TINY_CONFIG } from './modelFixtures';

/** Bilinear read of an RGB image at (x, y) in pixel indices, clamped at the edges. */
function bilinear(img: Float32Array, w: number, h: number, x: number, y: number, c: number): number {
  const cl = (v: number, m: number) => Math.min(Math.max(v, 0), m - 1);
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const at = (xx: number, yy: number) => img[3 * (cl(yy, h) * w + cl(xx, w)) + c]!;
  return (1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x0 + 1, y0) + (1 - fx) * fy * at(x0, y0 + 1) + fx * fy * at(x0 + 1, y0 + 1);
}

/** The image moved by (dx, dy) pixels: out(p) = img(p - d). */
function shifted(img: Float32Array, w: number, h: number, dx: number, dy: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[3 * (y * w + x) + c] = bilinear(img, w, h, x - dx, y - dy, c);
  return out;
}

describe('D-SSIM on patches', () => {
  test('the gradient in the render and in the target matches central finite differences', () => {
    const rand = seededRandom(5), k = 4, patches = 3, start = 5, rays = start + patches * k * k + 2;
    const x = Float32Array.from({ length: 3 * rays }, () => 0.2 + 0.6 * rand());
    const y = Float32Array.from({ length: 3 * rays }, (_, i) => Math.min(1, Math.max(0, x[i]! + 0.3 * (rand() - 0.5))));
    const weight = 0.7, gx = new Float32Array(3 * rays), gy = new Float32Array(3 * rays);
    const base = patchDssim(x, y, start, patches, k, weight, gx, gy).dssim;
    assert.ok(base > 0.01 && base < 1, `D-SSIM ${base}`);
    const loss = (a: Float32Array, b: Float32Array) => weight * patchDssim(a, b, start, patches, k, 1, new Float32Array(3 * rays)).dssim;
    const h = 1e-3;
    let checked = 0;
    for (let i = 0; i < 3 * rays; i += 7) {
      for (const [arr, g, name] of [[x, gx, 'render'], [y, gy, 'target']] as const) {
        const keep = arr[i]!;
        const a = Float32Array.from(arr); a[i] = keep + h;
        const b = Float32Array.from(arr); b[i] = keep - h;
        const fd = name === 'render' ? (loss(a, y) - loss(b, y)) / (2 * h) : (loss(x, a) - loss(x, b)) / (2 * h);
        assert.ok(Math.abs(fd - g[i]!) < 2e-3 * Math.max(1, Math.abs(fd)) + 2e-4, `${name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
        if (Math.abs(fd) > 1e-3) checked++;
      }
    }
    assert.ok(checked > 10, `only ${checked} non-zero derivatives were compared`);
    // Rays outside the patches get no gradient; identical patches score 0.
    assert.equal(gx[0], 0);
    assert.equal(gx[3 * rays - 1], 0);
    assert.ok(patchDssim(x, x, start, patches, k, 1, new Float32Array(3 * rays)).dssim < 1e-6);
  });
});

describe('rays where the face is', () => {
  const W = 64, H = 48;
  // Face: a 16 x 12 box (6.25% of the frame); head mask: a 32 x 24 box around it (25%).
  const faceRegion = new Uint8Array(W * H), mask = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    if (x >= 24 && x < 40 && y >= 18 && y < 30) faceRegion[y * W + x] = 1;
    if (x >= 16 && x < 48 && y >= 12 && y < 36) mask[y * W + x] = 1;
  }
  const frame = { mask, faceRegion };

  test('the face oval gets the configured share of the single rays, the head mask its share, the rest is uniform', () => {
    const o = { faceRayShare: 0.5, headRayShare: 0.3, patchRayShare: 0, patchSize: 8 };
    const b = sampleRays(frame, W, H, 20000, o, seededRandom(1));
    assert.equal(b.patches, 0);
    let inFace = 0, inHead = 0;
    for (const p of b.pixels) { inFace += faceRegion[p]!; inHead += mask[p]! > 0.5 ? 1 : 0; }
    // Expected: 0.5 + 0.3 * (face share of the head, 0.25) + 0.2 * 0.0625 = 0.5875 in the face,
    // 0.5 + 0.3 + 0.2 * 0.25 = 0.85 in the head; uniform sampling would give 0.0625 and 0.25.
    assert.ok(Math.abs(inFace / 20000 - 0.5875) < 0.015, `face share ${inFace / 20000}`);
    assert.ok(Math.abs(inHead / 20000 - 0.85) < 0.015, `head share ${inHead / 20000}`);
  });

  test('patches are whole k x k squares of neighbouring pixels centred in the face', () => {
    const o = { faceRayShare: 0, headRayShare: 0, patchRayShare: 0.5, patchSize: 4 };
    const b = sampleRays(frame, W, H, 1000, o, seededRandom(2));
    assert.equal(b.patches, Math.floor(500 / 16));
    assert.equal(b.patchStart, 1000 - 16 * b.patches);
    for (let p = 0; p < b.patches; p++) {
      const first = b.pixels[b.patchStart + 16 * p]!;
      for (let i = 0; i < 16; i++) assert.equal(b.pixels[b.patchStart + 16 * p + i], first + Math.floor(i / 4) * W + (i % 4), `patch ${p} ray ${i}`);
      assert.equal(faceRegion[first + 2 * W + 2], 1, `patch ${p} centre outside the face`);
    }
  });

  test('a frame without a mask or face samples uniformly', () => {
    const b = sampleRays({}, W, H, 20000, { faceRayShare: 0.5, headRayShare: 0.3, patchRayShare: 0, patchSize: 8 }, seededRandom(3));
    let inFace = 0;
    for (const p of b.pixels) inFace += faceRegion[p]!;
    assert.ok(Math.abs(inFace / 20000 - 0.0625) < 0.01, `face share ${inFace / 20000}`);
  });
});

describe('per-frame alignment', () => {
  test('Gauss-Newton steps recover a known sub-pixel shift of a synthetic frame from the render', () => {
    const W = 48, [frame] = syntheticFrames(SYNTH_CONFIG, { width: W, height: W, frames: 1, seed: 4 });
    // The dataset's image is the true one moved by d; reading it at p + d gives the truth back.
    const d = [1.6, -0.7], image = shifted(frame!.image, W, W, d[0]!, d[1]!), rand = seededRandom(6);
    const align = new FrameAlignment(1, { rate: 0.8, maxShift: 4, maxStep: 1, damping: 0.1 });
    for (let visit = 0; visit < 10; visit++) {
      const pixels = Int32Array.from({ length: 800 }, () => Math.floor(rand() * W * W));
      const t = align.target(0, { image }, W, W, pixels);
      const render = new Float32Array(t.target.length);
      pixels.forEach((p, i) => { for (let c = 0; c < 3; c++) render[3 * i + c] = frame!.image[3 * p + c]!; });
      align.update(0, render, t);
    }
    // Within 0.2 px: reading a bilinear-shifted image bilinearly blurs it unevenly at fractional
    // offsets (integer shifts come back exact to 0.01 px); 800 random rays a visit add noise.
    assert.ok(Math.abs(align.shifts[0]! - d[0]!) < 0.2 && Math.abs(align.shifts[1]! - d[1]!) < 0.2, `recovered ${align.shifts[0]}, ${align.shifts[1]} for ${d}`);
  });

  test('training with alignment learns opposite shifts for frames moved left and right', () => {
    // 16 synthetic frames, half moved +1.5 px and half -1.5 px in x (a mean of 0, which
    // recentre() keeps): the trainer's shifts must come out with the right signs and spread.
    const W = 32, frames = syntheticFrames(SYNTH_CONFIG, { width: W, height: W, frames: 16, seed: 7 });
    const moved = frames.map((f, i) => ({ ...f, image: shifted(f.image, W, W, i % 2 ? 1.5 : -1.5, 0) }));
    const trainer = new Trainer(AvatarModel.create(SYNTH_CONFIG, 1), moved, {
      width: W, height: W, raysPerStep: 512, alignRate: 0.5, alignFromStep: 60, headRayShare: 0.5,
    });
    for (let i = 0; i < 200; i++) trainer.step();
    const s = trainer.frameShifts!;
    let right = 0, left = 0;
    for (let i = 0; i < 16; i++) (i % 2 ? (right += s[2 * i]!) : (left += s[2 * i]!));
    right /= 8; left /= 8;
    assert.ok(right > 0.8 && left < -0.8, `mean learned x shift ${right.toFixed(2)} (moved +1.5) and ${left.toFixed(2)} (moved -1.5)`);
  });
});

describe('trainer defaults', () => {
  test('a step traces 1024 uniformly random rays with plain L1 and no alignment unless asked', () => {
    const W = 64, rand = seededRandom(9);
    const frame = {
      coefficients: Float32Array.of(0.5, 0.5), pose: { rotation: [0, 0, 0], translation: [0, 0, 0], scale: 1 },
      image: Float32Array.from({ length: W * W * 3 }, () => rand()),
    };
    const t = new Trainer(AvatarModel.create(TINY_CONFIG, 1), [frame], { width: W, height: W });
    assert.equal(t.step().rays, 1024);
    assert.equal(t.frameShifts, undefined);
    assert.equal(t.exportState().frameShifts, undefined);
    assert.throws(() => new Trainer(AvatarModel.create(TINY_CONFIG, 1), [frame], { width: W, height: W, faceRayShare: 0.8, headRayShare: 0.4 }),
      new RangeError('faceRayShare + headRayShare must be at most 1, got 1.2000000000000002'));
  });
});

describe('checkpoint with the new trainer state', () => {
  test('a resumed trainer with face rays, D-SSIM patches and alignment continues exactly, shifts included', () => {
    const W = 12, rand = seededRandom(2);
    const frames = Array.from({ length: 3 }, () => ({
      coefficients: Float32Array.of(rand(), rand()), pose: { rotation: [0, 0.2 * rand(), 0], translation: [0, 0, 0], scale: 1 },
      image: Float32Array.from({ length: W * W * 3 }, () => rand()),
      mask: Float32Array.from({ length: W * W }, (_, i) => (i % W > 3 && i % W < 9 ? 1 : 0)),
      faceRegion: Uint8Array.from({ length: W * W }, (_, i) => (i % W > 4 && i % W < 8 && i > 3 * W ? 1 : 0)),
    }));
    const opts = {
      width: W, height: W, raysPerStep: 64, occupancyEvery: 3, faceRayShare: 0.5, headRayShare: 0.3,
      patchRayShare: 0.5, patchSize: 4, ssimWeight: 0.3, alignRate: 0.5, alignFromStep: 2,
    };
    const a = new Trainer(AvatarModel.create(TINY_CONFIG, 1), frames, opts);
    for (let i = 0; i < 5; i++) a.step();
    assert.ok(a.frameShifts!.some((v) => v !== 0), 'shifts were learned');
    const ck = decodeCheckpoint(encodeCheckpoint(a.model, a.exportState(), { datasetSha256: 'x', res: W, elapsedMs: 5, history: [] }));
    assert.deepEqual(ck.state.frameShifts, a.frameShifts);
    const b = new Trainer(ck.model, frames, opts);
    b.importState(ck.state);
    for (let i = 0; i < 4; i++) assert.equal(b.step().loss, a.step().loss, `step ${i + 6} loss`);
    assert.deepEqual(b.frameShifts, a.frameShifts);
    assert.deepEqual(b.model.params.appearance, a.model.params.appearance);
    // A checkpoint for another number of frames is refused.
    assert.throws(() => new Trainer(ck.model, frames.slice(0, 2), opts).importState({ ...ck.state, order: [] }), /2 frame shifts|frame shifts, expected 2/);
  });
});
