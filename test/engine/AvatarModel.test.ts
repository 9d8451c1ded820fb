import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuKernels, referenceKernels } from '../../kernels/index';
import { AvatarModel, type FrameInput, modelDims } from '../../server/engine/AvatarModel';
import { PARAM_NAMES } from '../../server/engine/AvatarModelTypes';
import { distortionInputs, distortionLoss } from '../../server/engine/DistortionLoss';
import { cameraRays } from '../../server/engine/Pose';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { TINY_CONFIG, randomModel } from './modelFixtures';

const frame: FrameInput = {
  coefficients: new Float32Array([0.7, -0.4]),
  pose: { rotation: [0.1, -0.2, 0.05], translation: [0.05, -0.03, 0.1], scale: 1.1 },
};
// 5 x 4 pixels: rays through the middle of the head box.
const rays = cameraRays(TINY_CONFIG.camera, 5, 4);
const rand = seededRandom(7);
const dColor = Float32Array.from({ length: 5 * 4 * 3 }, () => 2 * rand() - 1);
const OFFSET_WEIGHT = 0.3;

/** The scalar whose gradient backward computes, in double. */
function loss(m: AvatarModel): number {
  const f = m.forward(referenceKernels, frame, rays.origins, rays.dirs);
  let s = 0;
  for (let i = 0; i < dColor.length; i++) s += f.color[i]! * dColor[i]!;
  return s + OFFSET_WEIGHT * f.offsetMeanSquare;
}

/**
 * A random +-eps step along every value of `p` (eps from its size): f after the step and
 * after the opposite one, the step as stored in float32 (so rounding is not error), and
 * `grad`'s predicted change g . (plus - minus) with its scale sum |g| 2 eps. p is restored.
 */
function centralDifference(p: Float32Array, grad: (i: number) => number, f: () => number, rand: () => number) {
  const saved = Float32Array.from(p), eps = Math.min(1e-3, 1e-2 / Math.sqrt(p.length));
  const v = Float32Array.from(p, () => (rand() < 0.5 ? -1 : 1) * eps);
  for (let i = 0; i < p.length; i++) p[i] = saved[i]! + v[i]!;
  const plus = Float32Array.from(p), up = f();
  for (let i = 0; i < p.length; i++) p[i] = saved[i]! - v[i]!;
  const down = f();
  let analytic = 0, scale = 0;
  for (let i = 0; i < p.length; i++) {
    analytic += grad(i) * (plus[i]! - p[i]!);
    scale += Math.abs(grad(i) * 2 * eps);
  }
  p.set(saved);
  return { numeric: up - down, analytic, scale };
}

describe('AvatarModel', () => {
  test('backward matches finite differences of the whole model for every parameter tensor', () => {
    const m = randomModel(TINY_CONFIG, 3);
    const fwd = m.forward(referenceKernels, frame, rays.origins, rays.dirs);
    assert.ok(fwd.samples > 50, `too few samples to test anything: ${fwd.samples}`);
    const grads = m.backward(referenceKernels, fwd.cache, dColor, { offset: OFFSET_WEIGHT });
    const dirRand = seededRandom(11);
    for (const name of PARAM_NAMES) {
      const g = grads[name], { numeric, analytic, scale: gNorm } = centralDifference(m.params[name], (i) => g[i]!, () => loss(m), dirRand);
      assert.ok(gNorm > 1e-6, `${name}: gradient is (nearly) zero, the check would be vacuous`);
      const err = Math.abs(analytic - numeric);
      assert.ok(err <= 2e-2 * Math.max(Math.abs(numeric), 0.05 * gNorm) + 1e-7,
        `${name}: analytic ${analytic} vs numeric ${numeric} (|g|.|v| ${gNorm})`);
    }
  });

  test('with a distortion weight, backward adds the gradient of the rays\' distortion (finite differences on the density path)', () => {
    const m = randomModel(TINY_CONFIG, 3), weight = 0.05, step = modelDims(TINY_CONFIG).step;
    const distortion = (model: AvatarModel) => distortionLoss(distortionInputs(model.forward(referenceKernels, frame, rays.origins, rays.dirs).cache, step), 1, null);
    const fwd = m.forward(referenceKernels, frame, rays.origins, rays.dirs);
    assert.ok(distortion(m) > 0.05, `the rays' distortion is ${distortion(m)}: too small to test anything`);
    const withIt = m.backward(referenceKernels, fwd.cache, dColor, { offset: OFFSET_WEIGHT, distortion: weight });
    const without = m.backward(referenceKernels, fwd.cache, dColor, { offset: OFFSET_WEIGHT });
    const dirRand = seededRandom(13);
    for (const name of ['densityB1', 'densityW1', 'appearance', 'motionMean'] as const) {
      // What the weight added to the gradient, against the change of weight x distortion.
      const added = (i: number) => withIt[name][i]! - without[name][i]!;
      const d = centralDifference(m.params[name], added, () => weight * distortion(m), dirRand), { analytic, scale, numeric } = d;
      assert.ok(scale > 1e-6, `${name}: the distortion term adds nothing`);
      assert.ok(Math.abs(analytic - numeric) <= 3e-2 * Math.max(Math.abs(numeric), 0.05 * scale) + 1e-7, `${name}: analytic ${analytic} vs numeric ${numeric} (|added|.|v| ${scale})`);
    }
  });

  test('the native backend agrees with the reference on forward and gradients', () => {
    const m = randomModel(TINY_CONFIG, 5);
    const a = m.forward(referenceKernels, frame, rays.origins, rays.dirs);
    const b = m.forward(cpuKernels, frame, rays.origins, rays.dirs);
    for (let i = 0; i < a.color.length; i++) assert.ok(Math.abs(a.color[i]! - b.color[i]!) < 1e-5, `color[${i}]`);
    const ga = m.backward(referenceKernels, a.cache, dColor, { offset: OFFSET_WEIGHT });
    const gb = m.backward(cpuKernels, b.cache, dColor, { offset: OFFSET_WEIGHT });
    for (const name of PARAM_NAMES) {
      let scale = 0;
      for (const x of ga[name]) scale = Math.max(scale, Math.abs(x));
      for (let i = 0; i < ga[name].length; i++)
        assert.ok(Math.abs(ga[name][i]! - gb[name][i]!) <= 1e-4 * scale + 1e-7, `${name}[${i}]: ${ga[name][i]} vs ${gb[name][i]}`);
    }
  });

  test('rejects parameters of the wrong size and a coefficient vector of the wrong length', () => {
    const m = AvatarModel.create(TINY_CONFIG);
    assert.throws(() => new AvatarModel(TINY_CONFIG, { ...m.params, appearance: new Float32Array(3) }),
      new RangeError(`AvatarModel: parameter appearance has 3 values, expected ${6 ** 3 * 4}`));
    assert.throws(() => m.forward(cpuKernels, { ...frame, coefficients: new Float32Array(3) }, rays.origins, rays.dirs),
      new RangeError('forward: expected 2 coefficients, got 3'));
  });
});
