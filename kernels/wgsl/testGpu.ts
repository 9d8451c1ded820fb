// The GPU the tests use: SwiftShader (Debian's chromium ships its Vulkan ICD), so results
// are the same on every CI machine. A software adapter is for correctness, never speed.
import { existsSync } from 'node:fs';
import { GpuContext, type GpuContextOptions } from './GpuContext';

export const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * A context on SwiftShader (or on VK_ICD_FILENAMES when set); null when this machine has
 * no Vulkan adapter at all. The Vulkan loader reads VK_ICD_FILENAMES when the first
 * instance is created, so this must run before any other WebGPU use in the process.
 */
export async function openTestGpu(options: Omit<GpuContextOptions, 'allowSoftware'> = {}): Promise<GpuContext | null> {
  if (!process.env['VK_ICD_FILENAMES'] && existsSync(swiftShaderIcd)) process.env['VK_ICD_FILENAMES'] = swiftShaderIcd;
  return GpuContext.create({ label: 'test', ...options, allowSoftware: true });
}
