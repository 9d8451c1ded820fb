// Which backend renders an avatar: VOXFACE_RENDER_BACKEND = auto | cpu | gpu.
// - auto: a hardware GPU adapter when the machine has one, else the CPU. Never a software
//   adapter (SwiftShader renders at about 1 GFLOP/s, far slower than the CPU kernels).
// - gpu: a GPU or an error (a deployment that asked for one should fail loudly), with a
//   software adapter accepted only when allowSoftware is set (tests).
// - cpu: the native CPU kernels.
// The choice and its reason are logged and reported in /metrics.
import { GpuContext } from '../../kernels/wgsl/GpuContext';

export type RenderBackendChoice = 'auto' | 'cpu' | 'gpu';

export type RenderBackend =
  | { readonly kind: 'cpu'; /** For people: why the CPU. */ readonly reason: string }
  | { readonly kind: 'gpu'; readonly ctx: GpuContext; readonly reason: string };

/**
 * The device `auto` or `gpu` asks for (a software adapter only for `gpu` with allowSoftware),
 * or null and why not (`failure`: empty, or ': ' and the error); `adapter` describes the one found.
 * Rendering and training (server/engine/StepTrainer.ts) choose their device by this one rule.
 */
export async function requestGpu(choice: 'auto' | 'gpu', options: { allowSoftware?: boolean; label: string }): Promise<{ ctx: GpuContext | null; failure: string; adapter: string }> {
  let ctx: GpuContext | null = null, failure = '';
  try {
    ctx = await GpuContext.create({ allowSoftware: choice === 'gpu' && options.allowSoftware === true, label: options.label });
  } catch (error) {
    failure = `: ${(error as Error).message}`;
  }
  const a = ctx?.adapter;
  return { ctx, failure, adapter: a ? `${a.description} (${a.vendor} ${a.architecture}${a.software ? ', software' : ''})` : '' };
}

export async function openRenderBackend(choice: RenderBackendChoice, options: { allowSoftware?: boolean } = {}): Promise<RenderBackend> {
  if (choice === 'cpu') return { kind: 'cpu', reason: 'VOXFACE_RENDER_BACKEND=cpu' };
  const { ctx, failure, adapter } = await requestGpu(choice, { ...options, label: 'render' });
  if (ctx) return { kind: 'gpu', ctx, reason: `${choice === 'gpu' ? 'VOXFACE_RENDER_BACKEND=gpu' : 'auto'}: ${adapter}` };
  if (choice === 'gpu') throw new Error(`VOXFACE_RENDER_BACKEND=gpu, but no ${options.allowSoftware ? '' : 'hardware '}GPU adapter was found${failure}`);
  return { kind: 'cpu', reason: `auto: no hardware GPU adapter${failure}` };
}
