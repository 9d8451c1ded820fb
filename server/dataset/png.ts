/** PNG encoding and decoding with pngjs, for masks (8-bit grey), plates (RGB, RGBA) and the contact sheet (RGBA). */
import { PNG } from 'pngjs';

/** 8-bit greyscale PNG. A single cheap filter (Sub) keeps encoding fast; masks are mostly flat runs. */
export function encodeGrayPng(gray: Uint8Array, width: number, height: number): Buffer {
  if (gray.length !== width * height) throw new Error(`grey image of ${gray.length} bytes is not ${width}x${height}`);
  return PNG.sync.write(
    { width, height, data: Buffer.from(gray.buffer, gray.byteOffset, gray.byteLength) } as PNG,
    { colorType: 0, inputColorType: 0, inputHasAlpha: false, filterType: 1, deflateLevel: 6 },
  );
}

export function encodeRgbaPng(rgba: Uint8Array, width: number, height: number): Buffer {
  return PNG.sync.write({ width, height, data: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength) } as PNG, { colorType: 6 });
}

/** RGB PNG (colour type 2) from RGBA pixels: the alpha byte is dropped. */
export function encodeRgbPngFromRgba(rgba: Uint8Array, width: number, height: number): Buffer {
  return PNG.sync.write({ width, height, data: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength) } as PNG, { colorType: 2 });
}

/** Decodes any PNG to RGBA (pngjs expands grey to RGBA). */
export function decodePng(bytes: Buffer): { width: number; height: number; data: Buffer } {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, data: png.data };
}
