export type * from './KernelsTypes';
export { cpuKernels, cpuThreads, cpuSimd } from './cpu';
export { referenceKernels } from './reference/index';
