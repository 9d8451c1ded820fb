// The training loop on the GPU (GpuTrainer) against the CPU Trainer with the same seed, on
// the synthetic scene at a tiny size: the same frames, pixels and backgrounds
// (TrainingBatch.ts), the same sample counts step after step (the march is bit-exact and
// the occupancy refresh draws the same probes), and parameters that track the CPU's.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { GRID_PARAMS, PARAM_NAMES } from '../../server/engine/AvatarModelTypes';
import { GpuTrainer } from '../../server/engine/GpuTrainer';
import { syntheticFrames } from '../../server/engine/SyntheticScene';
import { Trainer } from '../../server/engine/Trainer';
import { TINY_CONFIG } from './modelFixtures';

const ctx = await openTestGpu();

describe('training on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;
  const config = { ...TINY_CONFIG, samplesPerRay: 10 }, W = 12;
  const frames = syntheticFrames(config, { width: W, height: W, frames: 5, seed: 1 });
  const train = frames.slice(0, 4), heldOut = frames.slice(4);

  test('with the CPU Trainer\'s seed, six steps see the same samples and losses, and the parameters track the CPU\'s', async () => {
    // occupancyEvery 4: a refresh after step 4 (parameters read back, probes on the CPU) that steps 5 and 6 march through.
    const opts = { width: W, height: W, raysPerStep: 32, seed: 7, occupancyEvery: 4 };
    const cpu = new Trainer(AvatarModel.create(config, 2), train, opts);
    const gpu = new GpuTrainer(g, AvatarModel.create(config, 2), train, { ...opts, lossEvery: 1 });
    try {
      const before = await gpu.evaluate(heldOut);
      for (let i = 0; i < 6; i++) {
        const want = cpu.step(), got = await gpu.trainStep();
        assert.equal(got.samples, want.samples, `step ${i + 1}: samples`);
        assert.equal(got.rays, want.rays);
        // Measured within 1.1e-7 (the L1 sum is compensated on the device).
        assert.ok(Math.abs(got.loss! - want.loss) < 1e-6, `step ${i + 1}: loss ${got.loss} against ${want.loss}`);
        assert.ok(Math.abs(got.mse! - want.mse) < 1e-6, `step ${i + 1}: mse ${got.mse} against ${want.mse}`);
      }
      assert.deepEqual(gpu.currentOccupancy, cpu.currentOccupancy, 'the refreshed occupancy');
      const params = await gpu.exportParams(), report: string[] = [];
      for (const name of PARAM_NAMES) {
        const a = params[name], b = cpu.model.params[name];
        let worst = 0, off = 0;
        for (let i = 0; i < b.length; i++) {
          const d = Math.abs(a[i]! - b[i]!);
          worst = Math.max(worst, d);
          if (d > 1e-5) off++;
        }
        report.push(`${name} ${worst.toExponential(1)}${off ? ` (${off}/${b.length} > 1e-5)` : ''}`);
        if (GRID_PARAMS.includes(name)) {
          // Adam's first steps move each cell by about lr x sign(its gradient): a cell whose
          // gradient is within float noise of 0 may step the other way (measured: 8 of 864
          // appearance cells, up to 2.5e-4; 5 of 500 motion-basis values), every other cell
          // within 1e-5. Bounds with room for another CPU's rounding (AVX-512 kernels):
          // a wrong gradient moves nearly every cell.
          assert.ok(off <= 0.04 * b.length, `${name}: ${off} of ${b.length} cells off by more than 1e-5`);
          assert.ok(worst < 5e-3, `${name} off by ${worst}`);
        } else {
          // Measured within 2.4e-7.
          assert.ok(worst < 2e-6, `${name} off by ${worst}`);
        }
      }
      console.log(`parameters against the CPU Trainer's after 6 steps: ${report.join(', ')}`);
      const after = await gpu.evaluate(heldOut);
      assert.ok(after > before + 0.3, `held-out PSNR ${before.toFixed(2)} -> ${after.toFixed(2)} dB`);
      console.log(`held-out PSNR ${before.toFixed(2)} -> ${after.toFixed(2)} dB`);
    } finally {
      gpu.close();
    }
  });

  test('a step\'s lrScale moves the parameters as far as the CPU Trainer\'s step at that scale', async () => {
    // The learning-rate tail (LearningRateTail.ts) reaches the device's Adam: one step at
    // 0.25x against the CPU's at 0.25x and the device's at 1x, from the same seed.
    const opts = { width: W, height: W, raysPerStep: 32, seed: 7 };
    const initial = AvatarModel.create(config, 2);
    const cpu = new Trainer(AvatarModel.create(config, 2), train, opts);
    cpu.step({ lrScale: 0.25 });
    const quarter = new GpuTrainer(g, AvatarModel.create(config, 2), train, opts), full = new GpuTrainer(g, AvatarModel.create(config, 2), train, opts);
    try {
      await quarter.trainStep({ lrScale: 0.25 });
      await full.trainStep();
      const [q, f] = [await quarter.exportParams(), await full.exportParams()];
      for (const name of PARAM_NAMES) {
        let checked = 0;
        for (let i = 0; i < f[name].length; i++) {
          const dq = q[name][i]! - initial.params[name][i]!, df = f[name][i]! - initial.params[name][i]!;
          // Adam's first update is about lr x sign(gradient); below 1e-4 float32 rounding blurs the ratio, and a
          // gradient within float noise of 0 may differ in sign between the devices (the six-step test's bounds).
          if (Math.abs(df) < 1e-4 || Math.abs(cpu.model.params[name][i]! - q[name][i]!) > 1e-5) continue;
          checked++;
          assert.ok(Math.abs(dq / df - 0.25) < 1e-2, `${name}[${i}]: moved ${dq} at 0.25x against ${df}`);
        }
        assert.ok(checked > 0.9 * f[name].filter((x, i) => Math.abs(x - initial.params[name][i]!) >= 1e-4).length, `${name}: ${checked} compared`);
      }
      await assert.rejects(quarter.trainStep({ lrScale: -1 }), /lrScale must be in \(0, 1000\], got -1/);
    } finally {
      quarter.close();
      full.close();
    }
  });

  test('D-SSIM and frame alignment, not on the device yet, are refused by name', () => {
    const model = AvatarModel.create(config, 2);
    assert.throws(() => new GpuTrainer(g, model, train, { width: W, height: W, patchRayShare: 0.25 }), /GpuTrainer: patchRayShare \(D-SSIM\) is not supported on the GPU yet/);
    assert.throws(() => new GpuTrainer(g, model, train, { width: W, height: W, alignRate: 0.5 }), /GpuTrainer: alignRate \(per-frame target shifts\) is not supported on the GPU yet/);
    assert.throws(() => new GpuTrainer(g, model, [], { width: W, height: W }), /GpuTrainer: no training frames/);
  });

  test('a run resumed from exportParams and exportState goes on as the uninterrupted run does', async () => {
    const opts = { width: W, height: W, raysPerStep: 16, seed: 3, occupancyEvery: 2 };
    const first = new GpuTrainer(g, AvatarModel.create(config, 2), train, opts);
    let resumed: GpuTrainer | undefined;
    try {
      for (let i = 0; i < 3; i++) await first.trainStep();
      const params = await first.exportParams(), state = await first.exportState();
      assert.equal(state.step, 3);
      assert.ok(state.adamV.colorW0.some((x) => x > 0), 'the moments are read back');
      resumed = new GpuTrainer(g, new AvatarModel(config, params), train, opts);
      resumed.importState(state);
      assert.deepEqual(await resumed.exportState(), state);
      const [a, b] = [await first.trainStep(), await resumed.trainStep()];
      assert.equal(b.samples, a.samples, 'the same frame, pixels and occupancy');
      const [pa, pb] = [await first.exportParams(), await resumed.exportParams()];
      // The same step on the same state: only the grid scatter's order may differ (float32 rounding).
      for (const name of PARAM_NAMES) for (let i = 0; i < pa[name].length; i++)
        assert.ok(Math.abs(pa[name][i]! - pb[name][i]!) < 1e-4, `${name}[${i}]: ${pa[name][i]} against ${pb[name][i]}`);
      assert.throws(() => resumed!.importState({ ...state, occupancy: new Uint8Array(3) }), /GpuTrainer state: occupancy has 3 cells, expected 64/);
    } finally {
      first.close();
      resumed?.close();
    }
  });

  test('train reports every reportEvery steps with a loss read back for each report, and a last partial report', async () => {
    const gpu = new GpuTrainer(g, AvatarModel.create(config, 2), train, { width: W, height: W, raysPerStep: 8, lossEvery: 100 });
    try {
      const seen: number[] = [];
      const reports = await gpu.train({ maxSteps: 3, reportEvery: 2, validation: heldOut, onProgress: (p) => seen.push(p.step) });
      assert.deepEqual(reports.map((r) => r.step), [2, 3]);
      assert.deepEqual(seen, [2, 3]);
      for (const r of reports) {
        assert.ok(r.loss > 0 && r.loss < 1, `loss ${r.loss}`);
        assert.ok(Number.isFinite(r.psnr) && Number.isFinite(r.validationPsnr!), `psnr ${r.psnr}, held-out ${r.validationPsnr}`);
        assert.ok(r.samplesPerRay > 0);
      }
    } finally {
      gpu.close();
    }
  });

  test('a closed trainer refuses further steps, and closing twice is harmless', async () => {
    const gpu = new GpuTrainer(g, AvatarModel.create(config, 2), train, { width: W, height: W, raysPerStep: 8 });
    gpu.close();
    gpu.close();
    await assert.rejects(gpu.trainStep(), (e: DOMException) => e.name === 'InvalidStateError' && e.message === 'GpuTrainer is closed');
  });
});
