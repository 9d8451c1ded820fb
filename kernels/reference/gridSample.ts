// Reference trilinear grid sampling (PyTorch grid_sample 3D, align_corners=false,
// zero padding) on the strided sub-grid grid[::s, ::s, ::s]. float64 throughout, so
// it doubles as the ground truth for finite-difference gradient checks.
import type { GridShape } from '../KernelsTypes';

type Num = ArrayLike<number>;

interface Axis {
  i0: number;
  f: number;
}

function axis(g: number, size: number): Axis {
  let u = ((g + 1) * size - 1) / 2;
  // Same clamp as the C++ kernel: far/NaN points read only zero padding.
  u = Number.isNaN(u) ? -2 : Math.min(Math.max(u, -2), size + 1);
  const i0 = Math.floor(u);
  return { i0, f: u - i0 };
}

function view(shape: GridShape, stride: number) {
  return {
    ds: Math.floor((shape.d - 1) / stride) + 1,
    hs: Math.floor((shape.h - 1) / stride) + 1,
    ws: Math.floor((shape.w - 1) / stride) + 1,
    // Element offset of strided cell (z, y, x) in the full grid.
    at: (z: number, y: number, x: number) => (((z * stride) * shape.h + y * stride) * shape.w + x * stride) * shape.c,
  };
}

/** Calls visit(offset, weight, dw/du per axis) for each in-range corner. */
function corners(
  p: Num, n: number, v: ReturnType<typeof view>,
  visit: (off: number, w: number, gx: number, gy: number, gz: number) => void,
): void {
  const ax = axis(p[3 * n]!, v.ws), ay = axis(p[3 * n + 1]!, v.hs), az = axis(p[3 * n + 2]!, v.ds);
  for (let dz = 0; dz < 2; dz++) {
    const z = az.i0 + dz;
    if (z < 0 || z >= v.ds) continue;
    const wz = dz ? az.f : 1 - az.f, sz = dz ? 1 : -1;
    for (let dy = 0; dy < 2; dy++) {
      const y = ay.i0 + dy;
      if (y < 0 || y >= v.hs) continue;
      const wy = dy ? ay.f : 1 - ay.f, sy = dy ? 1 : -1;
      for (let dx = 0; dx < 2; dx++) {
        const x = ax.i0 + dx;
        if (x < 0 || x >= v.ws) continue;
        const wx = dx ? ax.f : 1 - ax.f, sx = dx ? 1 : -1;
        visit(v.at(z, y, x), wx * wy * wz, sx * wy * wz, sy * wx * wz, sz * wx * wy);
      }
    }
  }
}

export function gridSample3dRef(grid: Num, shape: GridShape, points: Num, stride: number): Float64Array {
  const n = points.length / 3, c = shape.c, v = view(shape, stride);
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    corners(points, i, v, (off, w) => {
      for (let k = 0; k < c; k++) out[i * c + k]! += w * grid[off + k]!;
    });
  }
  return out;
}

export function gridSample3dBackwardRef(
  grid: Num, shape: GridShape, points: Num, stride: number, dOut: Num,
): { dGrid: Float64Array; dPoints: Float64Array } {
  const n = points.length / 3, c = shape.c, v = view(shape, stride);
  const dGrid = new Float64Array(grid.length);
  const dPoints = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    let gx = 0, gy = 0, gz = 0;
    corners(points, i, v, (off, w, dwx, dwy, dwz) => {
      let dot = 0;
      for (let k = 0; k < c; k++) {
        dGrid[off + k]! += w * dOut[i * c + k]!;
        dot += grid[off + k]! * dOut[i * c + k]!;
      }
      gx += dwx * dot;
      gy += dwy * dot;
      gz += dwz * dot;
    });
    // du/dg = size/2 (align_corners=false unnormalisation).
    dPoints[3 * i] = (gx * v.ws) / 2;
    dPoints[3 * i + 1] = (gy * v.hs) / 2;
    dPoints[3 * i + 2] = (gz * v.ds) / 2;
  }
  return { dGrid, dPoints };
}
