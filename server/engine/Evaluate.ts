// Held-out evaluation: PSNR and SSIM of the avatar's renders, and of two baselines from
// the same run: the mean training image, and the training frame whose coefficients and
// pose are nearest (does the model do better than looking up the closest frame it saw?).
//
// SSIM is Wang et al. 2004 with the standard constants: 11x11 Gaussian window (sigma
// 1.5), K1 0.01, K2 0.03, dynamic range 1, computed on each RGB channel separately and
// averaged (as scikit-image with channel_axis and most NeRF/avatar papers), over the
// "valid" windows only (no padding), on float images in [0,1].
import type { AvatarModel } from './AvatarModel';
import type { HeadPose } from './AvatarModelTypes';
import { meanImage, psnr } from './Metrics';
import { render } from './Renderer';
import type { TrainingFrame } from './TrainerTypes';

const WIN = 11, SIGMA = 1.5, C1 = 0.01 ** 2, C2 = 0.03 ** 2;

function gaussianKernel(): Float64Array {
  const k = new Float64Array(WIN), h = (WIN - 1) / 2;
  let s = 0;
  for (let i = 0; i < WIN; i++) s += k[i] = Math.exp(-((i - h) ** 2) / (2 * SIGMA * SIGMA));
  return k.map((x) => x / s);
}
const KERNEL = gaussianKernel();

/** Separable valid-mode Gaussian filter of a w x h plane -> (w-10) x (h-10). */
function filter(p: Float64Array, w: number, h: number): Float64Array {
  const ow = w - WIN + 1, oh = h - WIN + 1, tmp = new Float64Array(ow * h), out = new Float64Array(ow * oh);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < WIN; i++) s += KERNEL[i]! * p[y * w + x + i]!;
      tmp[y * ow + x] = s;
    }
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < WIN; i++) s += KERNEL[i]! * tmp[(y + i) * ow + x]!;
      out[y * ow + x] = s;
    }
  return out;
}

/** Mean SSIM of two interleaved images (channels c, values in [0,1]), per channel then averaged. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, channels = 3): number {
  if (a.length !== width * height * channels || b.length !== a.length) throw new RangeError(`ssim: images must both have ${width * height * channels} values`);
  if (width < WIN || height < WIN) throw new RangeError(`ssim: images must be at least ${WIN}x${WIN}`);
  const n = width * height;
  let total = 0;
  for (let c = 0; c < channels; c++) {
    const x = new Float64Array(n), y = new Float64Array(n), xx = new Float64Array(n), yy = new Float64Array(n), xy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = a[i * channels + c]!, v = b[i * channels + c]!;
      x[i] = u; y[i] = v; xx[i] = u * u; yy[i] = v * v; xy[i] = u * v;
    }
    const mx = filter(x, width, height), my = filter(y, width, height), sxx = filter(xx, width, height), syy = filter(yy, width, height), sxy = filter(xy, width, height);
    let s = 0;
    for (let i = 0; i < mx.length; i++) {
      const ux = mx[i]!, uy = my[i]!, vx = sxx[i]! - ux * ux, vy = syy[i]! - uy * uy, cxy = sxy[i]! - ux * uy;
      s += ((2 * ux * uy + C1) * (2 * cxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
    }
    total += s / mx.length;
  }
  return total / channels;
}

/** Distance used to pick the nearest training frame: coefficients (in [0,1]) and pose (radians, model units) in one Euclidean space. */
export function frameDistance(a: { coefficients: Float32Array; pose: HeadPose }, b: { coefficients: Float32Array; pose: HeadPose }): number {
  let s = 0;
  for (let i = 0; i < a.coefficients.length; i++) s += (a.coefficients[i]! - b.coefficients[i]!) ** 2;
  for (let k = 0; k < 3; k++) s += (a.pose.rotation[k]! - b.pose.rotation[k]!) ** 2 + (a.pose.translation[k]! - b.pose.translation[k]!) ** 2;
  return Math.sqrt(s + (a.pose.scale - b.pose.scale) ** 2);
}

export function nearestFrame<T extends { coefficients: Float32Array; pose: HeadPose }>(query: { coefficients: Float32Array; pose: HeadPose }, pool: readonly T[]): T {
  let best = pool[0]!, bestD = Infinity;
  for (const f of pool) {
    const d = frameDistance(query, f);
    if (d < bestD) { bestD = d; best = f; }
  }
  return best;
}

/** RGBA bytes -> RGB float [0,1]. */
export function rgbaToRgb(rgba: Uint8Array): Float32Array {
  const n = rgba.length / 4, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = rgba[4 * i + c]! / 255;
  return out;
}

export interface Scores { psnr: number; ssim: number }

export interface EvalResult {
  readonly frames: number;
  readonly res: number;
  readonly model: Scores;
  readonly meanImage: Scores;
  readonly nearestFrame: Scores;
  readonly renderMsPerFrame: number;
}

/** The avatar through the product renderer (inference form) on `test`, and both baselines from `train`. */
export function evaluateAvatar(
  model: AvatarModel, train: readonly TrainingFrame[], test: readonly TrainingFrame[], res: number,
  onFrame?: (i: number, rendered: Float32Array) => void,
): EvalResult {
  if (test.length === 0) throw new RangeError('evaluate: the dataset has no held-out (test) frames');
  if (train.length === 0) throw new RangeError('evaluate: the dataset has no training frames (needed for the baselines)');
  const mean = meanImage(train.map((f) => f.image)), sum = { m: [0, 0], a: [0, 0], n: [0, 0] };
  let ms = 0;
  test.forEach((f, i) => {
    const t0 = performance.now();
    const img = rgbaToRgb(render(model, f.coefficients, f.pose, { width: res, height: res }));
    ms += performance.now() - t0;
    onFrame?.(i, img);
    const near = nearestFrame(f, train).image;
    for (const [key, x] of [['m', img], ['a', mean], ['n', near]] as const) {
      sum[key][0]! += psnr(x, f.image);
      sum[key][1]! += ssim(x, f.image, res, res);
    }
  });
  const avg = (k: 'm' | 'a' | 'n'): Scores => ({ psnr: sum[k][0]! / test.length, ssim: sum[k][1]! / test.length });
  return { frames: test.length, res, model: avg('m'), meanImage: avg('a'), nearestFrame: avg('n'), renderMsPerFrame: ms / test.length };
}
