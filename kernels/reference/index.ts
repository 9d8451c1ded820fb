// The plain-TypeScript backend: float64 math, float32 results, same interface as the
// native one. Slow; used as ground truth in tests and as a fallback.
import type { Kernels } from '../KernelsTypes';
import { blendVolumesBackwardRef, blendVolumesRef } from './blend';
import { compositeBackwardRef, compositeRef } from './composite';
import { denseBackwardRef, denseRef } from './dense';
import { gridSample3dBackwardRef, gridSample3dRef } from './gridSample';
import { marchRaysRef } from './march';
import { bakeMotionRef } from './bake';
import { densityAtRef, renderRaysRef } from './render';
import { adamStepRef, l1LossBackwardRef, l1LossRef, meanSquareBackwardRef, meanSquareRef } from './optim';

const f32 = (a: Float64Array) => Float32Array.from(a);

export const referenceKernels: Kernels = {
  name: 'reference',
  gridSample3d: (grid, shape, points, stride) => ({ out: f32(gridSample3dRef(grid, shape, points, stride)) }),
  gridSample3dBackward(grid, shape, points, stride, dOut, accumulate) {
    const r = gridSample3dBackwardRef(grid, shape, points, stride, dOut);
    const dGrid = accumulate ?? new Float32Array(grid.length);
    for (let i = 0; i < dGrid.length; i++) dGrid[i]! += r.dGrid[i]!;
    return { dGrid, dPoints: f32(r.dPoints) };
  },
  blendVolumes: (mean, bases, coeff) => ({ out: f32(blendVolumesRef(mean, bases, coeff)) }),
  blendVolumesBackward(bases, coeff, dOut) {
    const r = blendVolumesBackwardRef(bases, coeff, dOut);
    return { dMean: f32(r.dMean), dBases: f32(r.dBases), dCoeff: f32(r.dCoeff) };
  },
  dense: (x, w, b, shape, act) => ({ y: f32(denseRef(x, w, b, shape, act)) }),
  denseBackward(x, w, y, dY, shape, act, needDX = true) {
    const r = denseBackwardRef(x, w, y, dY, shape, act);
    return { dX: needDX ? f32(r.dX) : null, dW: f32(r.dW), dB: f32(r.dB) };
  },
  composite(sigma, rgb, delta, rayOffsets, background, tEps) {
    const r = compositeRef(sigma, rgb, delta, rayOffsets, background, tEps);
    return { color: f32(r.color), transmittance: f32(r.transmittance), samplesUsed: r.samplesUsed };
  },
  compositeBackward(sigma, rgb, delta, rayOffsets, background, forward, dColor) {
    const r = compositeBackwardRef(sigma, rgb, delta, rayOffsets, background, forward.samplesUsed, dColor);
    return { dSigma: f32(r.dSigma), dRgb: f32(r.dRgb) };
  },
  marchRays: (origins, dirs, box, occupancy, gridRes, step, maxSamples) =>
    marchRaysRef(origins, dirs, box, occupancy, gridRes, step, maxSamples),
  renderRays: (origins, dirs, scene, color, transmittance) => renderRaysRef(origins, dirs, scene, color, transmittance),
  densityAt: (points, scene, sigma) => densityAtRef(points, scene, sigma),
  bakeMotion: (motion, shape, m, deform, offsets) => bakeMotionRef(motion, shape, m, deform, offsets),
  l1Loss: (a, b) => l1LossRef(a, b),
  l1LossBackward: (a, b, dLoss) => f32(l1LossBackwardRef(a, b, dLoss)),
  meanSquare: (x) => meanSquareRef(x),
  meanSquareBackward: (x, dValue) => f32(meanSquareBackwardRef(x, dValue)),
  adamStep: (param, grad, m, v, o) => adamStepRef(param, grad, m, v, o, false),
  adamStepMasked: (param, grad, m, v, o) => adamStepRef(param, grad, m, v, o, true),
};
