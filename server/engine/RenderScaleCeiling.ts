// What a perfect avatar would score through the live path's ray density: the ground-truth
// frame itself, averaged down to the renderer's ray grid (round(W x renderScale) by
// round(H x renderScale), LiveFrame's size) and brought back up by the very cubic
// upscaler LIVE uses, 8-bit like LIVE's output. Its face sharpness bounds the avatar's:
// measured on the six shared clips at LIVE's 0.5 (docs/picture.md), a perfect render keeps
// only a fraction of the camera's pixel-scale detail, whatever the model learns.
import { upscalePlan, upscaleRgb } from './FastUpscale';

/** RGB float [H, W, 3] through a ray grid of `scale` per axis and LIVE's upscale: RGBA8, as a renderer returns a frame. */
export function throughRenderScale(image: Float32Array, width: number, height: number, scale: number): Uint8Array {
  if (image.length !== 3 * width * height) throw new RangeError(`throughRenderScale: expected ${3 * width * height} values, got ${image.length}`);
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`throughRenderScale: scale must be in (0, 1], got ${scale}`);
  const iw = Math.max(1, Math.round(width * scale)), ih = Math.max(1, Math.round(height * scale));
  // Area average: each ray pixel is the mean of the output pixels it covers (a ray through
  // a pixel's centre of a perfect model sees about that mean at the ray grid's Nyquist rate).
  const small = new Float32Array(3 * iw * ih), weight = new Float32Array(iw * ih);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(ih - 1, Math.floor(((y + 0.5) * ih) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(iw - 1, Math.floor(((x + 0.5) * iw) / width)), s = sy * iw + sx, p = 3 * (y * width + x);
      small[3 * s]! += image[p]!;
      small[3 * s + 1]! += image[p + 1]!;
      small[3 * s + 2]! += image[p + 2]!;
      weight[s]!++;
    }
  }
  for (let s = 0; s < weight.length; s++)
    for (let c = 0; c < 3; c++) small[3 * s + c] = weight[s]! > 0 ? small[3 * s + c]! / weight[s]! : 0;
  const rgba = new Uint8Array(4 * width * height);
  upscaleRgb(small, iw, upscalePlan(iw, ih, width, height), rgba);
  return rgba;
}
