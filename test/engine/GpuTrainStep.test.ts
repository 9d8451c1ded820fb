// The model's forward and backward on the GPU (GpuTrainStep) against AvatarModel.forward
// and .backward on the CPU kernels, on a tiny random avatar: the colour and the gradient
// of every parameter, within float32 tolerances stated per tensor.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuKernels } from '../../kernels/cpu';
import { rng, uniform } from '../../kernels/testUtil';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { PARAM_NAMES } from '../../server/engine/AvatarModelTypes';
import { GpuTrainStep } from '../../server/engine/GpuTrainStep';
import { cameraRays, raysToCanonical } from '../../server/engine/Pose';
import { randomModel, TINY_CONFIG } from './modelFixtures';

const ctx = await openTestGpu();

/** Largest |a - b| relative to the largest |b| (the scale of that gradient). */
function relativeError(a: Float32Array, b: Float32Array): { err: number; scale: number } {
  assert.equal(a.length, b.length);
  let scale = 0, worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return { err: scale > 0 ? worst / scale : worst, scale };
}

describe('a training step on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;

  test('the colour, every parameter\'s gradient (with the offset and distortion regularisers) and the density at probe points equal AvatarModel.forward, .backward and .density on the CPU kernels', async () => {
    const config = { ...TINY_CONFIG, samplesPerRay: 12 }, model = randomModel(config, 3), rand = rng(11);
    const W = 12, H = 10, pixels = Int32Array.from({ length: 60 }, () => Math.floor(rand() * W * H));
    const pose = { rotation: [0.05, -0.1, 0.02], translation: [0.02, -0.03, 0], scale: 1.02 };
    const frame = { coefficients: Float32Array.of(0.7, 0.2), pose };
    const rays = cameraRays(config.camera, W, H, pixels);
    const G = config.occupancyRes, occupancy = Uint8Array.from({ length: G ** 3 }, (_, i) => (i % 5 === 0 ? 0 : 1));
    const background = Float32Array.of(0.2, 0.5, 0.9), tEps = 1e-4, offsetWeight = 0.05;
    const fwd = model.forward(cpuKernels, frame, rays.origins, rays.dirs, { occupancy, tEps, background });
    assert.ok(fwd.samples > 200, `the rays must cross the avatar (${fwd.samples} samples)`);
    const dColor = uniform(3 * pixels.length, -1, 1, rand);
    // The distortion weight is large enough to change the density path's gradients well beyond the tolerance.
    const weights = { offset: offsetWeight, distortion: 0.05 };
    const want = model.backward(cpuKernels, fwd.cache, dColor, weights);
    const withoutDistortion = model.backward(cpuKernels, fwd.cache, dColor, { offset: offsetWeight });
    assert.ok(relativeError(withoutDistortion.densityW1, want.densityW1).err > 1e-2, 'the distortion term changes the density head\'s gradient');

    const step = new GpuTrainStep(g, config, model.params, 64);
    try {
      step.setOccupancy(occupancy);
      const o = Float32Array.from(rays.origins), v = Float32Array.from(rays.dirs);
      raysToCanonical(pose, o, v);
      const S = await step.prepare({ origins: o, dirs: v, coefficients: frame.coefficients, background });
      assert.equal(S, fwd.samples, 'the march is the CPU\'s bit for bit');
      g.write(step.buffers.rays.dColor, 0, dColor);
      const encoder = g.device.createCommandEncoder({ label: 'test train step encoder' });
      step.encodeForward(encoder, tEps);
      step.encodeBackward(encoder, weights);
      g.device.queue.submit([encoder.finish()]);
      const color = await step.read(step.buffers.rays.color, 3 * pixels.length);
      const colorErr = relativeError(color, fwd.color);
      // Measured 2e-7 of the colour's scale here.
      assert.ok(colorErr.err < 2e-6, `colour off by ${colorErr.err}`);
      const got = await step.readAll('grads');
      const report: string[] = [];
      for (const name of PARAM_NAMES) {
        const { err, scale } = relativeError(got[name], want[name]);
        report.push(`${name} ${err.toExponential(1)} of ${scale.toExponential(1)}`);
        assert.ok(scale > 0, `${name}: the CPU gradient is all zero, the test would not see a wrong one`);
        // float32 through ~10 ops and the grid scatter's order. Measured: the density head's
        // 3e-5 to 5e-5 (dSigma sums a ray's later samples), every other tensor under 4e-6.
        assert.ok(err < 2e-4, `${name} off by ${err} of its scale ${scale}`);
      }
      // The occupancy refresh's probes on the device (GpuTrainStep.density) against AvatarModel.density.
      const probes = uniform(3 * 150, -1, 1, rand), sets = [frame.coefficients, Float32Array.of(0, 1)];
      const sigmas = await step.density(probes, sets);
      sets.forEach((coefficients, k) => {
        const sigmaErr = relativeError(sigmas[k]!, model.density(cpuKernels, coefficients, probes));
        // Measured 3.5e-7.
        assert.ok(sigmaErr.err < 2e-6 && sigmaErr.scale > 0, `density off by ${sigmaErr.err} of ${sigmaErr.scale}`);
        report.push(`density ${sigmaErr.err.toExponential(1)}`);
      });
      console.log(`${S} samples; colour ${colorErr.err.toExponential(1)}; gradient errors (relative to each gradient's largest value): ${report.join(', ')}`);
    } finally {
      step.close();
    }
  });
});
