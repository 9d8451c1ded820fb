/**
 * The stored form of an uploaded background (BackgroundImages.ts writes it, the render
 * process reads it): raw RGB, STORED_WIDTH x STORED_HEIGHT, no header, so reading it
 * needs no image decoder and its size alone tells a whole file from a damaged one.
 */
import { readFileSync } from 'node:fs';

/** 16:9, the call frame's shape; calls cover-fit it to their size. */
export const STORED_WIDTH = 1280;
export const STORED_HEIGHT = 720;
export const STORED_BYTES = STORED_WIDTH * STORED_HEIGHT * 3;

/** The stored image's RGB bytes; throws when the file is not one. */
export function readStoredBackground(path: string): Uint8Array {
  const bytes = readFileSync(path);
  if (bytes.length !== STORED_BYTES) throw new RangeError(`background image ${path} has ${bytes.length} bytes, expected ${STORED_BYTES} (${STORED_WIDTH}x${STORED_HEIGHT} RGB)`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
