/**
 * Checks that bytes are a whole baseline or progressive JPEG by walking its
 * markers, without decoding pixels: SOI first, segments with consistent
 * lengths up to the first SOS, exactly one SOF0/SOF2 with sane dimensions and
 * 1 or 3 components, and EOI as the last two bytes (a truncated upload ends
 * mid-scan). The client's Content-Type is never trusted; this is the check.
 * Pure (no Node APIs) so the capture page can run the same check before upload.
 */
import { OnboardingError } from './OnboardingError';

export interface JpegInfo {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
}

/** Largest side accepted before any other rule: anything bigger is not a face crop. */
export const JPEG_MAX_SIDE = 1024;

const bad = (message: string) => new OnboardingError(415, 'not_jpeg', `frame image is not a valid JPEG: ${message}`);

export function parseJpeg(bytes: Uint8Array): JpegInfo {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw bad('no SOI marker at the start');
  if (bytes[bytes.length - 2] !== 0xff || bytes[bytes.length - 1] !== 0xd9) throw bad('no EOI marker at the end (truncated?)');
  let at = 2;
  let info: JpegInfo | undefined;
  for (;;) {
    // Markers may be preceded by 0xff fill bytes.
    if (at >= bytes.length || bytes[at] !== 0xff) throw bad(`expected a marker at byte ${at}`);
    while (at < bytes.length && bytes[at] === 0xff) at += 1;
    const marker = bytes[at];
    at += 1;
    if (marker === undefined) throw bad('ends inside a marker');
    if (marker === 0xd8 || marker === 0xd9) throw bad(`unexpected ${marker === 0xd8 ? 'SOI' : 'EOI'} before the image data`);
    // Standalone markers (RSTn, TEM) carry no length.
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (at + 2 > bytes.length) throw bad('ends inside a segment length');
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (length < 2 || at + length > bytes.length) throw bad(`segment 0xff${marker.toString(16)} has length ${length} past the end`);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // A start-of-frame: only baseline (C0) and progressive (C2) are what browsers' encoders make.
      if (marker !== 0xc0 && marker !== 0xc2) throw bad(`unsupported JPEG process (SOF${marker - 0xc0}); use baseline or progressive`);
      if (info) throw bad('more than one start-of-frame');
      if (length < 8) throw bad('start-of-frame segment too short');
      const height = (bytes[at + 3]! << 8) | bytes[at + 4]!;
      const width = (bytes[at + 5]! << 8) | bytes[at + 6]!;
      const components = bytes[at + 7]!;
      if (width < 1 || height < 1 || width > JPEG_MAX_SIDE || height > JPEG_MAX_SIDE) {
        throw bad(`dimensions ${width}x${height} outside 1..${JPEG_MAX_SIDE}`);
      }
      if (components !== 1 && components !== 3) throw bad(`${components} colour components (1 or 3 expected)`);
      if (length !== 8 + 3 * components) throw bad('start-of-frame length does not match its components');
      info = { width, height, components, progressive: marker === 0xc2 };
    }
    if (marker === 0xda) {
      // Start of scan: entropy-coded data follows; EOI at the end was checked above.
      if (!info) throw bad('scan before any start-of-frame');
      if (at + length >= bytes.length - 2) throw bad('no image data after the scan header');
      return info;
    }
    at += length;
  }
}
