// Dense-layer throughput on the model's layer shapes (AvatarMAV: 54->128, 140->128,
// 167->128, 128->3) at a 4096-ray x 16-sample batch. Prints one JSON line.
// Run: node --import tsx kernels/bench/dense.bench.ts   (VOXFACE_THREADS=1 for one core)
import { cpuKernels, cpuSimd, cpuThreads } from '../cpu';
import type { DenseShape } from '../KernelsTypes';
import { secondsPerCall as time } from './timing';

const N = 65536;
const layers: [number, number][] = [[54, 128], [140, 128], [167, 128], [128, 3]];

const result: Record<string, unknown> = { bench: 'dense', n: N, threads: cpuThreads(), simd: cpuSimd() };
let fwdFlop = 0, fwdSec = 0, bwdFlop = 0, bwdSec = 0;
for (const [inF, outF] of layers) {
  const shape: DenseShape = { n: N, inFeatures: inF, outFeatures: outF };
  const x = new Float32Array(N * inF).map(() => Math.random() - 0.5);
  const w = new Float32Array(outF * inF).map(() => Math.random() - 0.5);
  const b = new Float32Array(outF);
  const flop = 2 * N * inF * outF;
  const { y } = cpuKernels.dense(x, w, b, shape, 'relu');
  const dY = new Float32Array(N * outF).map(() => Math.random() - 0.5);
  const tf = time(() => cpuKernels.dense(x, w, b, shape, 'relu'));
  const tb = time(() => cpuKernels.denseBackward(x, w, y, dY, shape, 'relu'));
  result[`fwd_${inF}x${outF}_gflops`] = +(flop / tf / 1e9).toFixed(1);
  result[`bwd_${inF}x${outF}_gflops`] = +((2 * flop) / tb / 1e9).toFixed(1);
  fwdFlop += flop; fwdSec += tf; bwdFlop += 2 * flop; bwdSec += tb;
}
result.forward_gflops = +(fwdFlop / fwdSec / 1e9).toFixed(1);
result.backward_gflops = +(bwdFlop / bwdSec / 1e9).toFixed(1);
console.log(JSON.stringify(result));
