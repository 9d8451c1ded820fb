// Image metrics on float [0,1] buffers.

export function mse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`mse: lengths differ (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

/** Peak signal-to-noise ratio in dB for peak 1 (Infinity for identical images). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return psnrFromMse(mse(a, b));
}

export function psnrFromMse(m: number): number {
  return m === 0 ? Infinity : -10 * Math.log10(m);
}

/** Pixel-wise mean of equally sized images: the mean-image baseline. */
export function meanImage(images: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(images[0]?.length ?? 0);
  for (const im of images) for (let i = 0; i < out.length; i++) out[i]! += im[i]! / images.length;
  return out;
}

/** PSNR over the pixels of `region` (1 inside; one entry per pixel, `channels` values each); NaN for an empty region. */
export function regionPsnr(a: ArrayLike<number>, b: ArrayLike<number>, region: Uint8Array, channels = 3): number {
  if (a.length !== b.length || a.length !== region.length * channels) throw new RangeError(`regionPsnr: images must have ${region.length * channels} values, got ${a.length} and ${b.length}`);
  let s = 0, n = 0;
  for (let p = 0; p < region.length; p++) {
    if (!region[p]) continue;
    for (let c = 0; c < channels; c++) s += (a[p * channels + c]! - b[p * channels + c]!) ** 2;
    n += channels;
  }
  return n === 0 ? Number.NaN : psnrFromMse(s / n);
}

// SSIM is Wang et al. 2004 with the standard constants: 11x11 Gaussian window (sigma
// 1.5), K1 0.01, K2 0.03, dynamic range 1, computed on each RGB channel separately and
// averaged (as scikit-image with channel_axis and most NeRF/avatar papers), over the
// "valid" windows only (no padding), on float images in [0,1].
const WIN = 11, HALF = (WIN - 1) / 2, SIGMA = 1.5, C1 = 0.01 ** 2, C2 = 0.03 ** 2;

function gaussianKernel(): Float64Array {
  const k = new Float64Array(WIN);
  let s = 0;
  for (let i = 0; i < WIN; i++) s += k[i] = Math.exp(-((i - HALF) ** 2) / (2 * SIGMA * SIGMA));
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

/**
 * SSIM of every valid window, averaged over channels: (width-10) x (height-10) values,
 * window (x, y) centred on pixel (x+5, y+5).
 */
export function ssimMap(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, channels = 3): Float64Array {
  if (a.length !== width * height * channels || b.length !== a.length) throw new RangeError(`ssim: images must both have ${width * height * channels} values`);
  if (width < WIN || height < WIN) throw new RangeError(`ssim: images must be at least ${WIN}x${WIN}`);
  const n = width * height, map = new Float64Array((width - WIN + 1) * (height - WIN + 1));
  for (let c = 0; c < channels; c++) {
    const x = new Float64Array(n), y = new Float64Array(n), xx = new Float64Array(n), yy = new Float64Array(n), xy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = a[i * channels + c]!, v = b[i * channels + c]!;
      x[i] = u; y[i] = v; xx[i] = u * u; yy[i] = v * v; xy[i] = u * v;
    }
    const mx = filter(x, width, height), my = filter(y, width, height), sxx = filter(xx, width, height), syy = filter(yy, width, height), sxy = filter(xy, width, height);
    for (let i = 0; i < mx.length; i++) {
      const ux = mx[i]!, uy = my[i]!, vx = sxx[i]! - ux * ux, vy = syy[i]! - uy * uy, cxy = sxy[i]! - ux * uy;
      map[i]! += ((2 * ux * uy + C1) * (2 * cxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2)) / channels;
    }
  }
  return map;
}

/**
 * Mean of an ssimMap over the windows centred in `region` (width x height pixels), or
 * over every window without a region. NaN when no window is centred in the region.
 */
export function meanSsim(map: Float64Array, width: number, height: number, region?: Uint8Array): number {
  const ow = width - WIN + 1, oh = height - WIN + 1;
  if (map.length !== ow * oh) throw new RangeError(`meanSsim: map has ${map.length} windows, a ${width}x${height} image has ${ow * oh}`);
  let s = 0, n = 0;
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      if (region && !region[(y + HALF) * width + x + HALF]) continue;
      s += map[y * ow + x]!;
      n++;
    }
  return n === 0 ? Number.NaN : s / n;
}

/** Mean SSIM of two interleaved images (channels c, values in [0,1]), per channel then averaged. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, channels = 3): number {
  return meanSsim(ssimMap(a, b, width, height, channels), width, height);
}
