/**
 * The avatar's render process on the GPU backend (WGSL on Dawn), here on SwiftShader:
 * it draws the call's frame as the CPU backend does (the same LiveFrame; frames compared
 * as bytes before the encoder), a device lost mid-call hands the avatar to the CPU
 * without a fault, and the backend choice never takes a software adapter on its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blendshapeIndex, BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { FaceState } from '../../server/avatar/DrivenFace';
import { ProcessFrameRenderer } from '../../server/avatar/ProcessFrameRenderer';
import { openRenderBackend } from '../../server/avatar/renderBackend';
import { psnr } from '../../server/engine/Metrics';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';

// Sets VK_ICD_FILENAMES for this process and the render processes it starts (they inherit it).
const probe = await openTestGpu();
probe?.close();

/** A small call frame (SwiftShader shades about 1 GFLOP/s) over a flat background colour. */
const SIZE = { width: 160, height: 90, background: { kind: 'colour', rgb: '#2a6f97' } } as const;

function face(jaw: number, brows: number, yaw = 0): FaceState {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  blendshapes[blendshapeIndex('jawOpen')] = jaw;
  blendshapes[blendshapeIndex('browInnerUp')] = brows;
  const half = (yaw * Math.PI) / 360;
  return { status: 'live', blendshapes, rotation: [0, Math.sin(half), 0, Math.cos(half)], translationCm: [0, 0, -40], ageMs: 0, sequence: 1 };
}

const FACES = [face(0, 0), face(0.8, 0.1), face(0.3, 0.9, 12), face(0.6, 0.4, -10)];

function toFloat(rgba: Uint8Array): Float32Array {
  const out = new Float32Array((rgba.length / 4) * 3);
  for (let p = 0, o = 0; p < rgba.length; p += 4) for (let c = 0; c < 3; c++) out[o++] = rgba[p + c]! / 255;
  return out;
}

describe('the render process on the GPU backend', { skip: probe ? false : 'no Vulkan adapter here' }, () => {
  let avatarPath: string;
  let cpu: ProcessFrameRenderer;
  const cpuFrames: Uint8Array[] = [];
  before(async () => {
    avatarPath = syntheticAvatarFile();
    cpu = await ProcessFrameRenderer.open(avatarPath, SIZE, { backend: 'cpu' });
    for (const f of FACES) cpuFrames.push((await cpu.render(f)).slice());
  });
  after(() => cpu?.close());

  test('frames drawn through the WGSL backend match the CPU backend\'s within 40 dB PSNR, and the renderer says which backend drew them', async (t) => {
    const gpu = await ProcessFrameRenderer.open(avatarPath, SIZE, { backend: 'gpu', allowSoftwareGpu: true });
    try {
      assert.equal(gpu.backend, 'gpu');
      assert.match(gpu.backendReason, /VOXFACE_RENDER_BACKEND=gpu: SwiftShader/);
      const scores: number[] = [];
      for (const [i, f] of FACES.entries()) {
        const frame = await gpu.render(f);
        scores.push(psnr(toFloat(frame), toFloat(cpuFrames[i]!)));
        assert.equal(gpu.backend, 'gpu');
      }
      t.diagnostic(`GPU vs CPU frame PSNR: ${scores.map((s) => s.toFixed(1)).join(', ')} dB`);
      for (const s of scores) assert.ok(s >= 40, `GPU frames match the CPU's: ${s.toFixed(2)} dB`);
      // The faces' frames differ (the comparison is not of four copies of one frame). On
      // SwiftShader the GPU's bytes measured identical to the CPU's (Infinity dB): both
      // backends evaluate the same polynomials in the same order.
      for (let i = 1; i < FACES.length; i++) assert.notDeepEqual(cpuFrames[i], cpuFrames[0], `face ${i} changes the frame`);
    } finally {
      gpu.close();
    }
  });

  test('a GPU device lost mid-call: the next frames render on the CPU, with no fault and no failed frame', async () => {
    const gpu = await ProcessFrameRenderer.open(avatarPath, SIZE, { backend: 'gpu', allowSoftwareGpu: true, loseGpuAfterFrames: 2 });
    let faulted = false;
    void gpu.fault.then(() => { faulted = true; });
    try {
      const drawnBy: string[] = [];
      for (const [i, f] of FACES.entries()) {
        const frame = await gpu.render(f);
        drawnBy.push(gpu.backend);
        assert.ok(psnr(toFloat(frame), toFloat(cpuFrames[i]!)) >= 40, `frame ${i} is the avatar's frame`);
      }
      assert.deepEqual(drawnBy, ['gpu', 'gpu', 'cpu', 'cpu']);
      assert.equal(faulted, false);
    } finally {
      gpu.close();
    }
  });

  test('auto never picks a software adapter, and gpu without a hardware adapter is a clear error', async () => {
    const auto = await openRenderBackend('auto');
    assert.equal(auto.kind, 'cpu');
    assert.match(auto.reason, /^auto: no hardware GPU adapter/);
    await assert.rejects(openRenderBackend('gpu'), /VOXFACE_RENDER_BACKEND=gpu, but no hardware GPU adapter was found/);
    const cpuOnly = await openRenderBackend('cpu');
    assert.deepEqual(cpuOnly, { kind: 'cpu', reason: 'VOXFACE_RENDER_BACKEND=cpu' });
  });
});
