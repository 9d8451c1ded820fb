// PNG output for people to look at (renders beside ground truth, curves). Atomic writes.
import { writeFileAtomic } from '../atomicFile';
import { PNG } from 'pngjs';

/** Writes RGB float [0,1] images side by side (same height) as one PNG. */
export function writeRgbStrip(path: string, images: readonly Float32Array[], width: number, height: number): void {
  const png = new PNG({ width: width * images.length, height });
  images.forEach((img, j) => {
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const s = 3 * (y * width + x), d = 4 * (y * width * images.length + j * width + x);
        for (let k = 0; k < 3; k++) png.data[d + k] = Math.round(Math.min(Math.max(img[s + k]!, 0), 1) * 255);
        png.data[d + 3] = 255;
      }
  });
  writeFileAtomic(path, PNG.sync.write(png));
}
