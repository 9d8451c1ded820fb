// poseRays on the GPU against the CPU's Pose.raysToCanonical (float64): the same
// rectangle compacted row by row and posed, within float32 rounding; a rectangle of more
// than 65535 workgroups' rays; and the checks on its arguments. It lives in test/ because
// kernels/ may not import server/, not even in a test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, rng, uniform } from '../../kernels/testUtil';
import { encodePoseRays, POSE_RAYS_PARAMS_BYTES, writePoseRays } from '../../kernels/wgsl/poseRays';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { rotationMatrix, raysToCanonical } from '../../server/engine/Pose';

const ctx = await openTestGpu();

/** The CPU's answer: the rectangle's rays copied row by row, then posed in float64. */
function reference(worldO: Float32Array, worldD: Float32Array, iw: number, rect: { x0: number; y0: number; x1: number; y1: number }, pose: { rotation: number[]; translation: number[]; scale: number }) {
  const rw = rect.x1 - rect.x0, n = rw * (rect.y1 - rect.y0);
  const origins = new Float32Array(3 * n), dirs = new Float32Array(3 * n);
  for (let y = rect.y0, i = 0; y < rect.y1; y++, i += 3 * rw) {
    origins.set(worldO.subarray(3 * (y * iw + rect.x0), 3 * (y * iw + rect.x1)), i);
    dirs.set(worldD.subarray(3 * (y * iw + rect.x0), 3 * (y * iw + rect.x1)), i);
  }
  raysToCanonical(pose, origins, dirs);
  return { origins, dirs, n };
}

describe('poseRays on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;

  async function run(iw: number, ih: number, rect: { x0: number; y0: number; x1: number; y1: number }, pose: { rotation: number[]; translation: number[]; scale: number }, seed: number) {
    const rand = rng(seed);
    const worldO = uniform(3 * iw * ih, -5, 5, rand), worldD = uniform(3 * iw * ih, -1, 1, rand);
    const ref = reference(worldO, worldD, iw, rect, pose);
    const b = {
      params: g.uniform('test pose', new Uint8Array(POSE_RAYS_PARAMS_BYTES)),
      worldOrigins: g.upload('test world origins', worldO), worldDirs: g.upload('test world dirs', worldD),
      origins: g.storage('test origins', 12 * ref.n), dirs: g.storage('test dirs', 12 * ref.n),
    };
    try {
      const count = writePoseRays(g, b.params, { ...pose, rect, imageWidth: iw, imageHeight: ih }, rotationMatrix(pose.rotation));
      assert.equal(count, ref.n);
      const encoder = g.device.createCommandEncoder({ label: 'test poseRays encoder' });
      encodePoseRays(g, encoder, b, count, iw * ih);
      g.device.queue.submit([encoder.finish()]);
      const [origins, dirs] = await Promise.all([g.read(b.origins, 12 * count), g.read(b.dirs, 12 * count)]);
      return { ref, origins: new Float32Array(origins), dirs: new Float32Array(dirs) };
    } finally {
      for (const buffer of Object.values(b)) buffer.destroy();
    }
  }

  test('the rectangle\'s rays come out compacted row by row and posed as the CPU poses them, within float32 rounding', async () => {
    const pose = { rotation: [0.21, -0.34, 0.08], translation: [1.5, -2.25, -41], scale: 1.07 };
    const { ref, origins, dirs } = await run(37, 23, { x0: 5, y0: 3, x1: 30, y1: 20 }, pose, 3);
    // Origins reach ~50 (cm) after the translation: 4 ulp of that is ~1.5e-5.
    assertClose(origins, ref.origins, { abs: 2e-5, rel: 1e-6 }, 'origins');
    assertClose(dirs, ref.dirs, { abs: 1e-6, rel: 1e-6 }, 'dirs');
  });

  test('a rectangle of more rays than one dispatch dimension holds (65535 workgroups of 64) is posed whole', async () => {
    const pose = { rotation: [0, 0.5, 0], translation: [0, 0, -40], scale: 1 };
    const { ref, origins, dirs } = await run(2100, 2000, { x0: 0, y0: 0, x1: 2100, y1: 2000 }, pose, 4);
    assert.ok(ref.n > 65535 * 64);
    assertClose(origins, ref.origins, { abs: 2e-5, rel: 1e-6 }, 'origins');
    assertClose(dirs, ref.dirs, { abs: 1e-6, rel: 1e-6 }, 'dirs');
  });

  test('an empty or out-of-image rectangle and a non-positive scale are refused by name', () => {
    const params = g.uniform('test pose', new Uint8Array(POSE_RAYS_PARAMS_BYTES));
    const frame = { rotation: [0, 0, 0], translation: [0, 0, 0], scale: 1, imageWidth: 8, imageHeight: 4 };
    const R = rotationMatrix([0, 0, 0]);
    assert.throws(() => writePoseRays(g, params, { ...frame, rect: { x0: 2, y0: 0, x1: 2, y1: 4 } }, R), /poseRays: rect must be a non-empty integer rectangle within the 8x4 image/);
    assert.throws(() => writePoseRays(g, params, { ...frame, rect: { x0: 0, y0: 0, x1: 9, y1: 4 } }, R), /within the 8x4 image/);
    assert.throws(() => writePoseRays(g, params, { ...frame, scale: 0, rect: { x0: 0, y0: 0, x1: 8, y1: 4 } }, R), /poseRays: scale must be > 0, got 0/);
    params.destroy();
  });
});
