import { after, describe, test } from 'node:test';
import type { SuiteKernels } from '../KernelsTypes';
import { blendBackwardSuite, blendSuite } from '../suite/misc.suite';
import { blendVolumesBackwardOnGpu, blendVolumesOnGpu } from './blendVolumes';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();

describe('blendVolumes and its backward on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;
  const kernels = {
    blendVolumes: (...a) => blendVolumesOnGpu(g, ...a),
    blendVolumesBackward: (...a) => blendVolumesBackwardOnGpu(g, ...a),
  } as Partial<SuiteKernels> as SuiteKernels;
  blendSuite(kernels);
  blendBackwardSuite(kernels);
});
