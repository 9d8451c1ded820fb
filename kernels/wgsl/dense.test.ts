import { after, describe, test } from 'node:test';
import type { SuiteKernels } from '../KernelsTypes';
import { denseSuite } from '../suite/dense.suite';
import { denseBackwardOnGpu, denseOnGpu } from './dense';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();

describe('dense on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;
  denseSuite({
    dense: (...a) => denseOnGpu(g, ...a),
    denseBackward: (...a) => denseBackwardOnGpu(g, ...a),
  } as Partial<SuiteKernels> as SuiteKernels);
});
