import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUBIC_A } from '../../kernels/upscaleCubic';
import { cubicWeights, upscalePlan, upscaleRgb } from '../../server/engine/FastUpscale';
import { seededRandom } from '../../shared/coefficients/seededRandom';

const centre = (i: number, s: number, d: number) => Math.min(Math.max(((i + 0.5) * s) / d - 0.5, 0), s - 1);

/** Keys' cubic convolution kernel with parameter a, as published (piecewise in |d|). */
function keys(d: number, a: number): number {
  const x = Math.abs(d);
  return x < 1 ? (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1 : x < 2 ? a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a : 0;
}

/** Sixteen taps per output pixel from the cubic convolution kernel (a = CUBIC_A) itself, in float64. */
function cubicReference(src: Float32Array, sw: number, sh: number, W: number, H: number): Float64Array {
  const kernel = (d: number) => keys(d, CUBIC_A);
  const out = new Float64Array(3 * W * H), clampTo = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const u = centre(x, sw, W), v = centre(y, sh, H), x0 = Math.floor(u), y0 = Math.floor(v);
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let j = -1; j <= 2; j++)
          for (let i = -1; i <= 2; i++)
            sum += kernel(u - (x0 + i)) * kernel(v - (y0 + j)) * src[3 * (clampTo(y0 + j, sh) * sw + clampTo(x0 + i, sw)) + c]!;
        out[3 * (y * W + x) + c] = sum;
      }
    }
  return out;
}

function bilinearReference(src: Float32Array, sw: number, sh: number, W: number, H: number): Float64Array {
  const out = new Float64Array(3 * W * H);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const u = centre(x, sw, W), v = centre(y, sh, H), x0 = Math.floor(u), y0 = Math.floor(v);
      const x1 = Math.min(x0 + 1, sw - 1), y1 = Math.min(y0 + 1, sh - 1), fx = u - x0, fy = v - y0;
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number) => src[3 * (yy * sw + xx) + c]!;
        out[3 * (y * W + x) + c] = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
      }
    }
  return out;
}

/** Mean squared 4-neighbour Laplacian of channel 0 over the interior: the detail a picture keeps. */
function laplacianEnergy(img: ArrayLike<number>, W: number, H: number, stride: number): number {
  let sum = 0, n = 0;
  for (let y = 1; y < H - 1; y++)
    for (let x = 1; x < W - 1; x++) {
      const at = (xx: number, yy: number) => img[stride * (yy * W + xx)]!;
      sum += (4 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1)) ** 2;
      n++;
    }
  return sum / n;
}

test('the cubic weights are Keys\' kernel at the four taps\' distances, sum to 1 and pass through the samples, for any a', () => {
  for (const a of [-0.5, -0.75, -1, CUBIC_A]) {
    for (const t of [0, 0.1, 0.25, 0.5, 0.75, 0.999]) {
      const w = cubicWeights(t, a), want = [keys(1 + t, a), keys(t, a), keys(1 - t, a), keys(2 - t, a)];
      w.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) < 1e-12, `a=${a} t=${t} tap ${k}: ${v} vs ${want[k]}`));
      assert.ok(Math.abs(w.reduce((x, y) => x + y) - 1) < 1e-12, `a=${a} t=${t}`);
    }
    assert.deepEqual(cubicWeights(0, a).map((v) => v + 0), [0, 1, 0, 0]);
  }
});

test('Catmull-Rom (a = -0.5) reproduces a straight line; a sharper cubic does not', () => {
  // f(k) = k at taps -1..2: the cubic's value at t is t.
  const lineError = (a: number, t: number) => { const w = cubicWeights(t, a); return -w[0] + w[2] + 2 * w[3] - t; };
  for (const t of [0.1, 0.25, 0.5, 0.75]) assert.ok(Math.abs(lineError(-0.5, t)) < 1e-12, `linear at t=${t}`);
  assert.ok(Math.abs(lineError(-1, 0.25)) > 1e-3);
});

test('the separable upscale matches the sixteen-tap cubic convolution within one level, clamping out-of-range colours', () => {
  const sw = 7, sh = 5, W = 23, H = 16;
  const src = Float32Array.from({ length: 3 * sw * sh }, (_, i) => Math.sin(i * 1.7) * 0.7 + 0.45);
  const out = new Uint8Array(4 * W * H);
  upscaleRgb(src, sw, upscalePlan(sw, sh, W, H), out);
  const want = cubicReference(src, sw, sh, W, H);
  let worst = 0;
  for (let p = 0; p < W * H; p++)
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(out[4 * p + c]! - Math.round(Math.min(Math.max(want[3 * p + c]!, 0), 1) * 255)));
  assert.ok(worst <= 1, `worst difference ${worst} levels`);
  assert.ok(src.some((v) => v > 1) && src.some((v) => v < 0), 'the source has colours outside [0, 1]');
  const colour = out.filter((_, i) => i % 4 !== 3);
  assert.ok(colour.includes(0) && colour.includes(255), 'colours outside [0, 1] clamp to 0 and 255');
  for (let i = 3; i < out.length; i += 4) assert.equal(out[i], 255);
});

test('at 3x, the output pixels centred on a source pixel are that pixel', () => {
  const sw = 6, sh = 4, src = Float32Array.from({ length: 3 * sw * sh }, (_, i) => ((i * 37) % 101) / 100);
  const out = new Uint8Array(4 * 18 * 12);
  upscaleRgb(src, sw, upscalePlan(sw, sh, 18, 12), out);
  for (let y = 0; y < sh; y++)
    for (let x = 0; x < sw; x++)
      for (let c = 0; c < 3; c++)
        assert.equal(out[4 * ((3 * y + 1) * 18 + 3 * x + 1) + c], Math.round(src[3 * (y * sw + x) + c]! * 255), `(${x}, ${y}) channel ${c}`);
});

test('upscaled twice over (as LIVE is), random detail keeps more of its high-frequency energy than bilinear gives it', () => {
  const sw = 40, sh = 30, W = 80, H = 60;
  const rand = seededRandom(12345);
  const src = Float32Array.from({ length: 3 * sw * sh }, () => 0.25 + 0.5 * rand());
  const out = new Uint8Array(4 * W * H);
  upscaleRgb(src, sw, upscalePlan(sw, sh, W, H), out);
  const cubic = laplacianEnergy(Float64Array.from(out.filter((_, i) => i % 4 === 0), (v) => v / 255), W, H, 1);
  const bilinear = laplacianEnergy(bilinearReference(src, sw, sh, W, H), W, H, 3);
  // Measured 2.37x (white noise: most of its energy is near the source's Nyquist rate, where
  // bilinear's average of two neighbours cancels most of it).
  assert.ok(cubic > 1.5 * bilinear, `Laplacian energy: cubic ${cubic.toFixed(5)}, bilinear ${bilinear.toFixed(5)}`);
});
