// The backend-independent test suite: every backend (cpu, reference, later WGSL) runs
// exactly these tests. Results are checked against hand-worked answers, against the
// float64 reference implementation (kernels/reference/) on random inputs, and
// gradients against central finite differences of the float64 forward.
import { describe } from 'node:test';
import type { Kernels } from './KernelsTypes';
import { bakeSuite } from './suite/bake.suite';
import { compositeSuite } from './suite/composite.suite';
import { denseSuite } from './suite/dense.suite';
import { gridSampleSuite } from './suite/gridSample.suite';
import { marchSuite } from './suite/march.suite';
import { renderSuite } from './suite/render.suite';
import { adamSuite, blendSuite, lossSuite } from './suite/misc.suite';

export function runKernelSuite(backendName: string, kernels: Kernels): void {
  describe(`kernels[${backendName}]`, () => {
    describe('gridSample3d', () => gridSampleSuite(kernels));
    describe('dense', () => denseSuite(kernels));
    describe('composite', () => compositeSuite(kernels));
    describe('blendVolumes', () => blendSuite(kernels));
    describe('losses', () => lossSuite(kernels));
    describe('adam', () => adamSuite(kernels));
    describe('marchRays', () => marchSuite(kernels));
    describe('renderRays', () => renderSuite(kernels));
    describe('bakeMotion', () => bakeSuite(kernels));
  });
}
