/**
 * One fixed square crop per video, decided from the landmark boxes of a first
 * pass. A per-frame crop would move the principal point every frame and make
 * the background swim; a fixed one keeps a single camera for the whole clip.
 *
 * Landmarks cover the face from brow to chin only, so the window grows by
 * margins relative to the face size: more above (hair), some at the sides
 * (ears, hair), a little below (the chin must not touch the edge; the mask cuts
 * the neck anyway).
 */
import type { CropWindow } from './format';

export interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export const CROP_MARGINS = { top: 0.75, side: 0.45, bottom: 0.3 } as const;

/** The bounding box of (x, y, z) normalized landmarks, in pixels of a frameWidth x frameHeight frame. */
export function landmarkBox(normalized: ArrayLike<number>, frameWidth: number, frameHeight: number): Box {
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (let i = 0; i + 2 < normalized.length; i += 3) {
    const x = (normalized[i] ?? Number.NaN) * frameWidth;
    const y = (normalized[i + 1] ?? Number.NaN) * frameHeight;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return { minX, minY, maxX, maxY };
}

/**
 * The square window (pixels of the frame the boxes are in) holding every box
 * with margins, clamped inside the frame. When the head with margins is larger
 * than the frame, the window is the largest square that fits, centred on the head.
 */
export function decideCropWindow(boxes: readonly Box[], frameWidth: number, frameHeight: number): CropWindow {
  if (boxes.length === 0) throw new Error('no face boxes to decide a crop from');
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  let faceW = 0; let faceH = 0;
  for (const b of boxes) {
    minX = Math.min(minX, b.minX); minY = Math.min(minY, b.minY);
    maxX = Math.max(maxX, b.maxX); maxY = Math.max(maxY, b.maxY);
    faceW += b.maxX - b.minX; faceH += b.maxY - b.minY;
  }
  faceW /= boxes.length; faceH /= boxes.length;
  const left = minX - CROP_MARGINS.side * faceW;
  const right = maxX + CROP_MARGINS.side * faceW;
  const top = minY - CROP_MARGINS.top * faceH;
  const bottom = maxY + CROP_MARGINS.bottom * faceH;
  const size = Math.min(Math.max(right - left, bottom - top), frameWidth, frameHeight);
  const centerX = (left + right) / 2;
  const centerY = (top + bottom) / 2;
  const x = Math.min(Math.max(centerX - size / 2, 0), frameWidth - size);
  const y = Math.min(Math.max(centerY - size / 2, 0), frameHeight - size);
  // Whole pixels: the crop then maps source pixels to the image without a sub-pixel shift to document.
  const whole = Math.floor(size);
  return { x: Math.round(Math.min(x, frameWidth - whole)), y: Math.round(Math.min(y, frameHeight - whole)), size: whole };
}

/** `crop` (pixels of a frame) expressed in pixels of the same frame scaled by `scale`. */
export function scaleCrop(crop: CropWindow, scale: number): CropWindow {
  return { x: crop.x * scale, y: crop.y * scale, size: crop.size * scale };
}
