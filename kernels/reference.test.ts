import { runKernelSuite } from './kernelSuite';
import { referenceKernels } from './reference/index';

runKernelSuite('reference', referenceKernels);
