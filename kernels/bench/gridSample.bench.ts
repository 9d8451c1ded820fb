// gridSample3d throughput on AvatarMAV's grids (65^3 x 4 appearance, 33^3 x 2 motion)
// at each stride, random points in [-1,1]^3. Prints one JSON line (points/s).
// Run: node --import tsx kernels/bench/gridSample.bench.ts
import { cpuKernels, cpuSimd, cpuThreads } from '../cpu';
import type { GridShape, GridStride } from '../KernelsTypes';
import { secondsPerCall as time } from './timing';

const N = 262144;  // one training step's point queries (4096 rays x 64 samples)
const points = new Float32Array(N * 3).map(() => Math.random() * 2 - 1);
const dOut4 = new Float32Array(N * 4).map(() => Math.random() - 0.5);

const result: Record<string, unknown> = { bench: 'gridSample3d', n: N, threads: cpuThreads(), simd: cpuSimd() };
for (const [name, shape] of [['appearance65c4', { d: 65, h: 65, w: 65, c: 4 }], ['motion33c2', { d: 33, h: 33, w: 33, c: 2 }]] as [string, GridShape][]) {
  const grid = new Float32Array(shape.d * shape.h * shape.w * shape.c).map(() => Math.random());
  const dOut = dOut4.subarray(0, N * shape.c);
  const acc = new Float32Array(grid.length);
  for (const s of [1, 2, 4] as GridStride[]) {
    const tf = time(() => cpuKernels.gridSample3d(grid, shape, points, s));
    const tb = time(() => cpuKernels.gridSample3dBackward(grid, shape, points, s, dOut, acc));
    result[`${name}_s${s}_fwd_Mpts_per_s`] = +(N / tf / 1e6).toFixed(1);
    result[`${name}_s${s}_bwd_Mpts_per_s`] = +(N / tb / 1e6).toFixed(1);
  }
}
console.log(JSON.stringify(result));
