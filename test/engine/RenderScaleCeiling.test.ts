// The eval's renderScaleCeiling: ground truth through LIVE's ray grid and upscale, on
// cases with a known answer and on a real video frame (KatieHill, decoded by ffmpeg).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { rgbaToRgb } from '../../server/engine/Evaluate';
import { psnr } from '../../server/engine/Metrics';
import { throughRenderScale as throughRgba } from '../../server/engine/RenderScaleCeiling';
import { sharpnessRatio } from '../../server/engine/Sharpness';
import { clipPath } from '../helpers/sharedData';

const W = 160, H = 90;

function realFrame(): Float32Array {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-nostdin', '-ss', '2', '-i', clipPath('womanHdtf'), '-frames:v', '1', '-vf', `scale=${W}:${H}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 1 << 24 });
  assert.equal(run.status, 0, String(run.stderr));
  return Float32Array.from(run.stdout, (b) => b / 255);
}

/** The ceiling frame as RGB float, as the eval scores it. */
const throughRenderScale = (img: Float32Array, w: number, h: number, scale: number) => rgbaToRgb(throughRgba(img, w, h, scale));

function image(fn: (x: number, y: number) => number): Float32Array {
  const out = new Float32Array(3 * W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out.fill(fn(x, y), 3 * (y * W + x), 3 * (y * W + x) + 3);
  return out;
}

describe('throughRenderScale', () => {
  test('at scale 1 returns the image up to 8-bit rounding', () => {
    const img = realFrame(), out = throughRenderScale(img, W, H, 1);
    let worst = 0;
    for (let i = 0; i < img.length; i++) worst = Math.max(worst, Math.abs(out[i]! - img[i]!));
    assert.ok(worst <= 0.5 / 255 + 1e-6, `largest difference ${worst * 255} levels`);
  });

  test('at scale 0.5 a one-pixel checkerboard averages to flat grey and a smooth ramp survives', () => {
    const checker = image((x, y) => ((x + y) % 2 === 0 ? 0.2 : 0.8));
    const flat = throughRenderScale(checker, W, H, 0.5);
    for (let i = 0; i < flat.length; i++) assert.ok(Math.abs(flat[i]! - 0.5) <= 1 / 255, `pixel ${i}: ${flat[i]}`);
    assert.ok(sharpnessRatio(flat, checker, W, H) < 1e-3);
    const ramp = image((x, y) => 0.1 + (0.8 * (x + y)) / (W + H));
    assert.ok(psnr(throughRenderScale(ramp, W, H, 0.5), ramp) > 40);
  });

  test('keeps part of a real frame\'s detail at LIVE\'s 0.5 and less at 0.35', () => {
    const img = realFrame();
    const half = sharpnessRatio(throughRenderScale(img, W, H, 0.5), img, W, H);
    const third = sharpnessRatio(throughRenderScale(img, W, H, 0.35), img, W, H);
    assert.ok(half > 0.05 && half < 0.6, `0.5: ${half}`);
    assert.ok(third < half, `0.35: ${third} vs 0.5: ${half}`);
  });

  test('rejects a wrong image size and a scale outside (0, 1]', () => {
    assert.throws(() => throughRenderScale(new Float32Array(5), W, H, 0.5), /expected 43200 values, got 5/);
    assert.throws(() => throughRenderScale(new Float32Array(3 * W * H), W, H, 0), /scale must be in \(0, 1\], got 0/);
    assert.throws(() => throughRenderScale(new Float32Array(3 * W * H), W, H, 1.5), /scale must be in \(0, 1\], got 1.5/);
  });
});
