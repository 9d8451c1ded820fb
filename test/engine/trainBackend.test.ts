/**
 * `voxface train --backend`: the GPU trainer (WGSL, here on SwiftShader) behind the same CLI,
 * checkpoints and avatar files as the CPU's, so a run started on one device resumes on the
 * other; auto never trains on a software adapter; what the GPU does not run yet is refused
 * with a clear error, never silently dropped.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../server/config';
import { readAvatarFile } from '../../server/engine/AvatarFile';
import { AvatarModel } from '../../server/engine/AvatarModel';
import { readCheckpoint } from '../../server/engine/Checkpoint';
import { swiftShaderIcd } from '../../kernels/wgsl/testGpu';
import { runVoxface } from '../helpers/prepareCli';
import { writeSyntheticDataset } from '../helpers/syntheticDataset';

// SwiftShader runs about 1 GFLOP/s: a 32 px image, the small model and 64 rays keep a step under a second.
const TINY = ['--res', '32', '--model', 'small', '--rays', '64'];
const SOFTWARE_GPU = { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? swiftShaderIcd, VOXFACE_GPU_ALLOW_SOFTWARE: '1' };

describe('voxface train on the GPU and on the CPU', () => {
  const dir = mkdtempSync(join(tmpdir(), 'voxface-train-backend-')), data = join(dir, 'synthetic'), avatar = join(dir, 'gpu.vxa');
  before(() => writeSyntheticDataset(data, 8));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--backend gpu trains on the adapter (the distortion loss too) and writes an avatar and a checkpoint that the CPU resumes', { skip: !existsSync(swiftShaderIcd) && !process.env.VK_ICD_FILENAMES }, async () => {
    const gpu = await runVoxface(['train', data, '--out', avatar, '--backend', 'gpu', '--steps', '4', '--distortion', '1e-3', ...TINY], 180_000, SOFTWARE_GPU);
    assert.equal(gpu.code, 0, gpu.stderr);
    assert.match(gpu.stderr, /voxface train: on the GPU \(gpu: .*software\)/);
    const done = gpu.lines.at(-1)!;
    assert.equal(done.backend, 'gpu');
    assert.equal(done.step, 4);
    assert.ok(Number.isFinite(done.heldOutPsnr as number), JSON.stringify(done));
    // The device's parameters reached the file: trained, so not the seed's initial values.
    const file = readAvatarFile(avatar), ckpt = readCheckpoint(`${avatar}.ckpt`);
    assert.equal(ckpt.state.step, 4);
    assert.deepEqual(file.params.colorW0, ckpt.model.params.colorW0);
    const initial = AvatarModel.create(file.config, 1).params.colorW0;
    assert.ok(file.params.colorW0.some((v, i) => v !== initial[i]), 'the colour head moved from its initial values');

    const cpu = await runVoxface(['train', data, '--out', avatar, '--resume', '--backend', 'cpu', '--steps', '2', ...TINY]);
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.match(cpu.stderr, /voxface train: on the CPU \(backend cpu\)/);
    assert.equal(cpu.lines.at(-1)!.step, 6, 'the CPU run continued the GPU run\'s step count');
  });

  test('auto trains on the CPU without a hardware GPU, and says why', async () => {
    const r = await runVoxface(['train', data, '--out', join(dir, 'auto.vxa'), '--steps', '2', ...TINY], 120_000, { VK_ICD_FILENAMES: swiftShaderIcd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /voxface train: on the CPU \(auto: no hardware GPU adapter/);
    assert.equal(r.lines.at(-1)!.backend, 'cpu');
    const align = await runVoxface(['train', data, '--out', join(dir, 'auto-align.vxa'), '--steps', '1', '--align', '0.5', ...TINY], 120_000, { VOXFACE_TRAIN_BACKEND: 'auto' });
    assert.equal(align.code, 0, align.stderr);
    assert.match(align.stderr, /on the CPU \(auto: --align train on the CPU only\)/);
  });

  test('bad choices: a clear one-line error and exit status 2; a server refuses a bad VOXFACE_TRAIN_BACKEND at start', async () => {
    assert.equal(loadConfig({}).trainBackend, 'auto');
    assert.equal(loadConfig({ VOXFACE_TRAIN_BACKEND: 'gpu' }).trainBackend, 'gpu');
    assert.throws(() => loadConfig({ VOXFACE_TRAIN_BACKEND: 'fast' }), /VOXFACE_TRAIN_BACKEND must be auto, cpu or gpu, got 'fast'/);
    for (const [args, env, message] of [
      [['--backend', 'tpu'], {}, /--backend must be auto, cpu or gpu, got 'tpu'/],
      [[], { VOXFACE_TRAIN_BACKEND: 'fast' }, /VOXFACE_TRAIN_BACKEND must be auto, cpu or gpu, got 'fast'/],
      [['--backend', 'gpu', '--align', '0.5'], SOFTWARE_GPU, /training on the GPU does not support --align yet \(use --backend cpu\)/],
      [['--distortion', '2'], {}, /--distortion must be a number in \[0, 1\], got '2'/],
      [['--backend', 'gpu'], { VK_ICD_FILENAMES: swiftShaderIcd, VOXFACE_GPU_ALLOW_SOFTWARE: '0' }, /backend gpu, but no hardware GPU adapter was found/],
    ] as const) {
      const r = await runVoxface(['train', data, '--out', join(dir, 'bad.vxa'), '--force', '--steps', '1', ...TINY, ...args], 120_000, env);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
