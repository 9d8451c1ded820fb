// Where on screen the avatar can be this frame: the occupied cells' canonical bounding
// box, posed into the world (x = R S x_c + T, the inverse of Pose.ts's ray transform)
// and projected by the output camera (a PixelCamera: the model's square view, or the
// call's framing with its principal point off the centre). The renderer casts rays only inside it; every
// other pixel is the background (an empty ray composites to the background exactly, so
// nothing changes but the work). A 16:9 call frame is mostly background beside the
// person, and the occupancy grid spans a box larger than the head.
import type { Box3, HeadPose } from './AvatarModelTypes';
import type { PixelCamera } from './Framing';
import { rotationMatrix } from './Pose';

/** A pixel rectangle [x0, x1) x [y0, y1) of a width x height image. */
export interface PixelRect {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/**
 * The canonical bounding box of the occupied cells of a G^3 grid over `box` (index
 * (z*G+y)*G+x), or null when no cell is occupied.
 */
export function occupiedBox(occupancy: Uint8Array, G: number, box: Box3): Box3 | null {
  let x0 = G, y0 = G, z0 = G, x1 = -1, y1 = -1, z1 = -1;
  for (let z = 0, i = 0; z < G; z++)
    for (let y = 0; y < G; y++)
      for (let x = 0; x < G; x++, i++) {
        if (!occupancy[i]) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (z < z0) z0 = z;
        z1 = z;
      }
  if (x1 < 0) return null;
  const at = (a: number, cell: number) => box.min[a]! + (cell / G) * (box.max[a]! - box.min[a]!);
  return { min: [at(0, x0), at(1, y0), at(2, z0)], max: [at(0, x1 + 1), at(1, y1 + 1), at(2, z1 + 1)] };
}

/**
 * The pixels whose centres' rays can meet `canonical` under `pose`, grown by `marginPx`
 * and clipped to the image; null when nothing can be hit. The whole image when a corner
 * lies at or behind the camera plane (the projection is unbounded there).
 */
export function projectedRect(canonical: Box3, pose: HeadPose, camera: PixelCamera, marginPx = 1): PixelRect | null {
  const { width, height } = camera;
  const r = rotationMatrix(pose.rotation), t = pose.translation, s = pose.scale, f = camera.focalPx;
  let u0 = Infinity, v0 = Infinity, u1 = -Infinity, v1 = -Infinity;
  for (let corner = 0; corner < 8; corner++) {
    const c = [0, 1, 2].map((a) => ((corner >> a) & 1 ? canonical.max[a]! : canonical.min[a]!) * s);
    const x = r[0]! * c[0]! + r[1]! * c[1]! + r[2]! * c[2]! + t[0]!;
    const y = r[3]! * c[0]! + r[4]! * c[1]! + r[5]! * c[2]! + t[1]!;
    const z = r[6]! * c[0]! + r[7]! * c[1]! + r[8]! * c[2]! + t[2]!;
    const depth = camera.distance - z;
    if (!(depth > 1e-6)) return { x0: 0, y0: 0, x1: width, y1: height };
    // Pixel centre u + 0.5 looks along (u + 0.5 - cx) / f (Framing.pixelRays), so the
    // continuous coordinate of a point is cx + f x / depth - 0.5 in centre units.
    const u = camera.cx + (f * x) / depth - 0.5, v = camera.cy - (f * y) / depth - 0.5;
    u0 = Math.min(u0, u); u1 = Math.max(u1, u); v0 = Math.min(v0, v); v1 = Math.max(v1, v);
  }
  const x0 = Math.max(0, Math.floor(u0 - marginPx)), x1 = Math.min(width, Math.ceil(u1 + marginPx) + 1);
  const y0 = Math.max(0, Math.floor(v0 - marginPx)), y1 = Math.min(height, Math.ceil(v1 + marginPx) + 1);
  if (!(x1 > x0 && y1 > y0)) return null;
  return { x0, y0, x1, y1 };
}
