/**
 * The contact sheet: a grid of evenly spaced frames, each the raw crop with the
 * removed region tinted (so a bad mask shows at a glance), the detected
 * landmarks as green dots and the canonical mesh reprojected with the pose and
 * intrinsics as magenta dots (where they drift apart, the camera is wrong).
 * Below the grid, when the dataset has plates: the clean plate and the body
 * plate over a checkerboard (a silhouette ghost or a hole under the chin shows there).
 */
import { CROP_SIZE } from '../../shared/dataset/format';
import { encodeRgbaPng } from './png';
import type { Plates } from './plates/PlateEstimator';

export interface SheetTile {
  index: number;
  /** tileSize² RGBA, the raw crop downscaled. */
  rgba: Uint8Array;
  /** CROP_SIZE² mask. */
  mask: Uint8Array;
  faceFound: boolean;
  /** Crop-pixel (u, v) pairs, or null. */
  detected: ArrayLike<number> | null;
  projected: ArrayLike<number> | null;
}

export const SHEET_COLUMNS = 4;
export const SHEET_TILE_SIZE = 256;
const GAP = 4;

/** `count` frame indices spread evenly over `frameCount` frames. */
export function sheetFrameIndices(frameCount: number, count = 16): number[] {
  const n = Math.min(count, frameCount);
  return Array.from(new Set(Array.from({ length: n }, (_, i) => Math.round((i * (frameCount - 1)) / Math.max(1, n - 1)))));
}

export function renderContactSheet(tiles: readonly SheetTile[], plates: Plates | null = null, tileSize = SHEET_TILE_SIZE): Buffer {
  const columns = Math.min(SHEET_COLUMNS, Math.max(1, tiles.length));
  const rows = Math.max(1, Math.ceil(tiles.length / columns));
  const width = columns * tileSize + (columns + 1) * GAP;
  const gridHeight = rows * tileSize + (rows + 1) * GAP;
  const plateWidth = Math.floor((width - 3 * GAP) / 2);
  const plateHeight = plates ? Math.round((plateWidth * plates.height) / plates.width) : 0;
  const height = gridHeight + (plates ? plateHeight + GAP : 0);
  const out = new Uint8Array(width * height * 4).fill(40);
  for (let i = 3; i < out.length; i += 4) out[i] = 255;
  const scale = tileSize / CROP_SIZE;
  tiles.forEach((tile, t) => {
    const ox = GAP + (t % columns) * (tileSize + GAP);
    const oy = GAP + Math.floor(t / columns) * (tileSize + GAP);
    const put = (x: number, y: number, r: number, g: number, b: number) => {
      if (x < 0 || y < 0 || x >= tileSize || y >= tileSize) return;
      const o = ((oy + y) * width + ox + x) * 4;
      out[o] = r; out[o + 1] = g; out[o + 2] = b;
    };
    for (let y = 0; y < tileSize; y += 1) {
      for (let x = 0; x < tileSize; x += 1) {
        const s = (y * tileSize + x) * 4;
        const m = (tile.mask[Math.floor(y / scale) * CROP_SIZE + Math.floor(x / scale)] ?? 0) / 255;
        // Removed pixels are dimmed and tinted red; kept pixels show as they are.
        const r = tile.rgba[s]!; const g = tile.rgba[s + 1]!; const b = tile.rgba[s + 2]!;
        put(x, y, r * m + (0.35 * r + 120) * (1 - m), g * m + 0.35 * g * (1 - m), b * m + 0.35 * b * (1 - m));
      }
    }
    const dots = (points: ArrayLike<number> | null, r: number, g: number, b: number) => {
      if (!points) return;
      for (let i = 0; i + 1 < points.length; i += 2) {
        const x = Math.round(points[i]! * scale); const y = Math.round(points[i + 1]! * scale);
        if (Number.isFinite(x) && Number.isFinite(y)) put(x, y, r, g, b);
      }
    };
    dots(tile.detected, 60, 255, 60);
    dots(tile.projected, 255, 0, 255);
    if (!tile.faceFound) {
      // A red frame marks tiles without a face.
      for (let k = 0; k < tileSize; k += 1) {
        for (const [x, y] of [[k, 0], [k, 1], [k, tileSize - 1], [k, tileSize - 2], [0, k], [1, k], [tileSize - 1, k], [tileSize - 2, k]] as const) put(x, y, 255, 0, 0);
      }
    }
  });
  if (plates) {
    for (let side = 0; side < 2; side += 1) {
      const ox = GAP + side * (plateWidth + GAP);
      const source = side === 0 ? plates.background : plates.body;
      for (let y = 0; y < plateHeight; y += 1) {
        const sy = Math.min(plates.height - 1, Math.floor((y * plates.height) / plateHeight));
        for (let x = 0; x < plateWidth; x += 1) {
          const s = (sy * plates.width + Math.min(plates.width - 1, Math.floor((x * plates.width) / plateWidth))) * 4;
          const a = source[s + 3]! / 255;
          const check = ((x >> 4) + (y >> 4)) % 2 ? 200 : 150;
          const o = ((gridHeight + y) * width + ox + x) * 4;
          for (let c = 0; c < 3; c += 1) out[o + c] = Math.round(source[s + c]! * a + check * (1 - a));
        }
      }
    }
  }
  return encodeRgbaPng(out, width, height);
}
