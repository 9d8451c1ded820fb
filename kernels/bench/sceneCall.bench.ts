// Per-call overhead of the scene ops (renderRays, densityAt) on a tiny scene: 16 rays or
// points, so the time is mostly getting the scene across the binding, not the math; and
// with no rays or points at all (the binding alone: arguments, scene, result).
// Takes the best of 5 rounds of CALLS calls each (a loaded machine only adds time).
// Prints one JSON line. Run: node --import tsx kernels/bench/sceneCall.bench.ts
// (VOXFACE_KERNELS_ADDON=<path> times another build of the addon).
import { cpuKernels } from '../cpu';
import { randomRays, randomScene } from '../suite/render.suite';

const CALLS = 20000, R = 16;
const scene = randomScene(1);
const { origins, dirs } = randomRays(R, 2);
const color = new Float32Array(3 * R), transmittance = new Float32Array(R), sigma = new Float32Array(R);
const points = origins.map((v, i) => (i % 3 === 2 ? 0 : v));
const none = new Float32Array(0);

function microsPerCall(fn: () => void): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1e3) / CALLS);
  }
  return +best.toFixed(2);
}

console.log(JSON.stringify({
  bench: 'sceneCall', calls: CALLS, rays: R,
  renderRays_us: microsPerCall(() => cpuKernels.renderRays(origins, dirs, scene, color)),
  renderRaysTransmittance_us: microsPerCall(() => cpuKernels.renderRays(origins, dirs, scene, color, transmittance)),
  densityAt_us: microsPerCall(() => cpuKernels.densityAt(points, scene, sigma)),
  renderRaysNoRays_us: microsPerCall(() => cpuKernels.renderRays(none, none, scene, none)),
  densityAtNoPoints_us: microsPerCall(() => cpuKernels.densityAt(none, scene, none)),
}));
