import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upscalePlan, upscaleRgb } from '../../server/engine/FastUpscale';

/** The four-tap definition, per output pixel, in float64. */
function bilinear(src: Float32Array, sw: number, sh: number, W: number, H: number): Uint8Array {
  const out = new Uint8Array(4 * W * H);
  const tap = (i: number, s: number, d: number) => Math.min(Math.max(((i + 0.5) * s) / d - 0.5, 0), s - 1);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const u = tap(x, sw, W), v = tap(y, sh, H), x0 = Math.floor(u), y0 = Math.floor(v);
      const x1 = Math.min(x0 + 1, sw - 1), y1 = Math.min(y0 + 1, sh - 1), fx = u - x0, fy = v - y0;
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number) => src[3 * (yy * sw + xx) + c]!;
        const val = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
        out[4 * (y * W + x) + c] = Math.round(Math.min(Math.max(val, 0), 1) * 255);
      }
      out[4 * (y * W + x) + 3] = 255;
    }
  return out;
}

test('the separable upscale matches four-tap bilinear interpolation within one level, clamping out-of-range colours', () => {
  const sw = 7, sh = 5, W = 23, H = 16;
  const src = Float32Array.from({ length: 3 * sw * sh }, (_, i) => Math.sin(i * 1.7) * 0.7 + 0.45);
  const out = new Uint8Array(4 * W * H);
  upscaleRgb(src, sw, upscalePlan(sw, sh, W, H), out);
  const want = bilinear(src, sw, sh, W, H);
  let worst = 0;
  for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - want[i]!));
  assert.ok(worst <= 1, `worst difference ${worst} levels`);
  assert.ok(src.some((v) => v > 1) && src.some((v) => v < 0), 'the source has colours outside [0, 1]');
  const colour = out.filter((_, i) => i % 4 !== 3);
  assert.ok(colour.includes(0) && colour.includes(255), 'colours outside [0, 1] clamp to 0 and 255');
  for (let i = 3; i < out.length; i += 4) assert.equal(out[i], 255);
});
