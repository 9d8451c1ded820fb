// The backend-independent test suite: every backend (cpu, reference, wgsl) runs
// exactly these tests. Results are checked against hand-worked answers, against the
// float64 reference implementation (kernels/reference/) on random inputs, and
// gradients against central finite differences of the float64 forward.
import { describe } from 'node:test';
import type { InferenceKernels, SuiteKernels } from './KernelsTypes';
import { bakeSuite } from './suite/bake.suite';
import { compositeSuite } from './suite/composite.suite';
import { denseSuite } from './suite/dense.suite';
import { gridSampleSuite } from './suite/gridSample.suite';
import { marchSuite } from './suite/march.suite';
import { renderSuite } from './suite/render.suite';
import { adamSuite, blendBackwardSuite, blendSuite, lossSuite } from './suite/misc.suite';

/** Every op: a full backend (the trainer's ops as well as the render's), synchronous or not. */
export function runKernelSuite(backendName: string, kernels: SuiteKernels): void {
  describe(`kernels[${backendName}]`, () => {
    inferenceSections(kernels);
    describe('gridSample3d', () => gridSampleSuite(kernels));
    describe('dense', () => denseSuite(kernels));
    describe('composite', () => compositeSuite(kernels));
    describe('blendVolumesBackward', () => blendBackwardSuite(kernels));
    describe('losses', () => lossSuite(kernels));
    describe('adam', () => adamSuite(kernels));
    describe('marchRays', () => marchSuite(kernels));
  });
}

function inferenceSections(kernels: InferenceKernels): void {
  describe('blendVolumes', () => blendSuite(kernels));
  describe('renderRays', () => renderSuite(kernels));
  describe('bakeMotion', () => bakeSuite(kernels));
}
