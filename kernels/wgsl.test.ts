import { after, test } from 'node:test';
import { runKernelSuite } from './kernelSuite';
import { openTestGpu } from './wgsl/testGpu';
import { createWgslKernels } from './wgsl/wgslKernels';

const ctx = await openTestGpu();
if (ctx) {
  after(() => ctx.close());
  // Every op, against the same references and tolerances as the CPU backend.
  runKernelSuite(`wgsl on ${ctx.adapter.description}`, createWgslKernels(ctx));
} else {
  // CI installs chromium (its SwiftShader ICD), so there this is a failure, not a skip.
  test('the WGSL backend finds a Vulkan adapter', { skip: process.env['CI'] ? false : 'no Vulkan adapter here' }, () => {
    throw new Error('no Vulkan adapter: install Debian\'s chromium (SwiftShader ICD) or set VK_ICD_FILENAMES');
  });
}
