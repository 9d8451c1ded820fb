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
