import { after, describe, test } from 'node:test';
import type { SuiteKernels } from '../KernelsTypes';
import { gridSampleSuite } from '../suite/gridSample.suite';
import { gridSample3dBackwardOnGpu, gridSample3dOnGpu } from './gridSample3d';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();

describe('gridSample3d on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;
  gridSampleSuite({
    gridSample3d: (...a) => gridSample3dOnGpu(g, ...a),
    gridSample3dBackward: (...a) => gridSample3dBackwardOnGpu(g, ...a),
  } as Partial<SuiteKernels> as SuiteKernels);
});
