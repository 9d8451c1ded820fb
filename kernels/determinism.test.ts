// The native reductions and scatters are designed to give bit-identical results for
// any thread count (z-plane ownership in gridSample3dBackward, row-split GEMMs, fixed
// reduction blocks). The pool size is fixed per process, so compare against a child
// process running with VOXFACE_THREADS=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { cpuKernels, cpuThreads } from './cpu';
import { rng, uniform } from './testUtil';

/** Hash of the gradients of a fixed random problem (also run as a script by the child). */
export function gradientDigest(): string {
  const rand = rng(7);
  const h = createHash('sha256');
  const shape = { d: 33, h: 33, w: 33, c: 2 };
  const grid = uniform(33 * 33 * 33 * 2, -1, 1, rand);
  const pts = uniform(3 * 20000, -1, 1, rand), dOut = uniform(2 * 20000, -1, 1, rand);
  for (const s of [1, 2, 4] as const) {
    const g = cpuKernels.gridSample3dBackward(grid, shape, pts, s, dOut);
    h.update(new Uint8Array(g.dGrid.buffer)).update(new Uint8Array(g.dPoints.buffer));
  }
  const ds = { n: 3000, inFeatures: 54, outFeatures: 128 };
  const x = uniform(3000 * 54, -1, 1, rand), w = uniform(128 * 54, -0.2, 0.2, rand), b = uniform(128, -0.1, 0.1, rand);
  const { y } = cpuKernels.dense(x, w, b, ds, 'leakyRelu');
  const d = cpuKernels.denseBackward(x, w, y, uniform(3000 * 128, -1, 1, rand), ds, 'leakyRelu');
  for (const a of [y, d.dX!, d.dW, d.dB]) h.update(new Uint8Array(a.buffer));
  const bases = uniform(8 * 50000, -1, 1, rand);
  const bl = cpuKernels.blendVolumesBackward(bases, uniform(8, -1, 1, rand), uniform(50000, -1, 1, rand));
  h.update(new Uint8Array(bl.dCoeff.buffer));
  h.update(String(cpuKernels.l1Loss(bases, bases.map((v) => v * 0.5))));
  return h.digest('hex');
}

if (process.argv[2] === '--digest') {
  process.stdout.write(gradientDigest());
} else {
  test('native gradients are bit-identical with 1 thread and with the default pool', { skip: cpuThreads() < 2 ? 'needs a pool of 2+ threads' : false }, () => {
    const here = fileURLToPath(import.meta.url);
    const child = execFileSync(process.execPath, ['--import', 'tsx', here, '--digest'], {
      env: { ...process.env, VOXFACE_THREADS: '1' },
      encoding: 'utf8',
    });
    assert.equal(gradientDigest(), child);
  });
}
