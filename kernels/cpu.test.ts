import { runKernelSuite } from './kernelSuite';
import { cpuKernels } from './cpu';

runKernelSuite('cpu', cpuKernels);
