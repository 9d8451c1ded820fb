// The native CPU backend: typed wrapper over the N-API addon. Shapes are passed
// through; the addon checks them (TypeError/RangeError) before touching memory.
import type { Kernels } from './KernelsTypes';
import { loadNative } from './native';

export const cpuKernels: Kernels = {
  name: 'cpu',
  gridSample3d(grid, shape, points, stride) {
    return loadNative().gridSample3d(grid, shape.d, shape.h, shape.w, shape.c, points, points.length / 3, stride);
  },
  gridSample3dBackward(grid, shape, points, stride, dOut, accumulate) {
    return loadNative().gridSample3dBackward(grid, shape.d, shape.h, shape.w, shape.c, points, points.length / 3, stride, dOut, accumulate);
  },
  blendVolumes(mean, bases, coeff) {
    return loadNative().blendVolumes(mean, bases, coeff, coeff.length, mean.length);
  },
  blendVolumesBackward(bases, coeff, dOut) {
    return loadNative().blendVolumesBackward(bases, coeff, dOut, coeff.length, dOut.length);
  },
  dense(x, w, b, shape, act) {
    return loadNative().dense(x, w, b, shape.n, shape.inFeatures, shape.outFeatures, act);
  },
  denseBackward(x, w, y, dY, shape, act, needDX = true) {
    return loadNative().denseBackward(x, w, y, dY, shape.n, shape.inFeatures, shape.outFeatures, act, needDX);
  },
  composite(sigma, rgb, delta, rayOffsets, background, tEps) {
    return loadNative().composite(sigma, rgb, delta, rayOffsets, background, rayOffsets.length - 1, sigma.length, tEps);
  },
  compositeBackward(sigma, rgb, delta, rayOffsets, _background, forward, dColor) {
    return loadNative().compositeBackward(
      sigma, rgb, delta, rayOffsets, forward.color, forward.samplesUsed, dColor, rayOffsets.length - 1, sigma.length,
    );
  },
  marchRays(origins, dirs, box, occupancy, gridRes, step, maxSamples) {
    return loadNative().marchRays(origins, dirs, origins.length / 3, box.min, box.max, occupancy, gridRes, step, maxSamples);
  },
  // The scene goes to the addon as it is: read_scene (src/binding_render.cpp) reads its fields by name.
  renderRays(origins, dirs, scene, color, transmittance) {
    return loadNative().renderRays(origins, dirs, origins.length / 3, scene, color, transmittance);
  },
  densityAt(points, scene, sigma) {
    loadNative().densityAt(points, points.length / 3, scene, sigma);
  },
  bakeMotion(motion, shape, bakeRes, d, offsets) {
    if (shape.d !== shape.h || shape.d !== shape.w) throw new RangeError(`bakeMotion: the motion volume must be a cube, got ${shape.d}x${shape.h}x${shape.w}`);
    loadNative().bakeMotion(motion, shape.d, shape.c, bakeRes, d.frequencies, d.W0, d.b0, d.W1, d.b1, d.hidden, offsets);
  },
  l1Loss: (a, b) => loadNative().l1Loss(a, b),
  l1LossBackward: (a, b, dLoss) => loadNative().l1LossBackward(a, b, dLoss),
  meanSquare: (x) => loadNative().meanSquare(x),
  meanSquareBackward: (x, dValue) => loadNative().meanSquareBackward(x, dValue),
  adamStep(param, grad, m, v, o) {
    loadNative().adamStep(param, grad, m, v, o.lr, o.beta1, o.beta2, o.eps, o.step, false);
  },
  adamStepMasked(param, grad, m, v, o) {
    loadNative().adamStep(param, grad, m, v, o.lr, o.beta1, o.beta2, o.eps, o.step, true);
  },
};

/** Worker threads the native pool uses (VOXFACE_THREADS or hardware_concurrency). */
export function cpuThreads(): number {
  return loadNative().numThreads();
}

/** SIMD level the addon was built with ('avx512f+avx2+fma', 'avx2+fma' or 'sse2'). */
export function cpuSimd(): string {
  return loadNative().simd();
}
