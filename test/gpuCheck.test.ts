/**
 * The prepared GPU check (scripts/gpu-check): its scoring against the float64 references
 * (with the reference and CPU backends standing in for a GPU: the scoring is what is
 * tested), its failure reports, the timing loop's budget, the check on SwiftShader
 * (accepted only when a rehearsal allows software, refused otherwise), and the bundle
 * pack.sh ships, run by plain node from a folder laid out as the pack's.
 * pack.sh and run.sh themselves are not run here: xz -9 of the 110 MB payload takes
 * over a minute on 2 cores (the rehearsal command is in run.sh's header).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InferenceKernels } from '../kernels/KernelsTypes';
import { cpuKernels } from '../kernels/cpu';
import { referenceKernels } from '../kernels/reference/index';
import { swiftShaderIcd } from '../kernels/wgsl/testGpu';
import { checkOptions, runGpuCheck, type CheckOptions } from '../scripts/gpu-check/check';
import { checkOps, compare, OP_NAMES } from '../scripts/gpu-check/opChecks';
import { timeRenderRays } from '../scripts/gpu-check/renderTiming';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'voxface-gpu-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const reference: InferenceKernels = referenceKernels;

describe('the GPU check\'s scoring', () => {
  test('compare reports the largest error and whether it is within abs + rel |expected|; NaN is out of any tolerance', () => {
    const c = compare([1, 2.001, 3], [1, 2, 3], { abs: 5e-4, rel: 1e-3 });
    assert.ok(Math.abs(c.maxAbsError - 0.001) < 1e-12);
    assert.ok(c.worstExcess <= 0, 'within 5e-4 + 1e-3 * 2');
    assert.ok(compare([1, 2.001, 3], [1, 2, 3], { abs: 5e-4, rel: 0 }).worstExcess > 0);
    const n = compare([1, NaN], [1, 2], { abs: 1, rel: 1 });
    assert.equal(n.maxAbsError, Infinity);
    assert.equal(n.worstIndex, 1);
  });

  test('a backend that computes the references passes every op on the suite\'s inputs, and agrees with the CPU backend', async () => {
    const report = await checkOps(reference, cpuKernels, null);
    for (const op of OP_NAMES) {
      const r = report[op];
      assert.ok(r.ok, `${op}: ${JSON.stringify(r.cases.filter((c) => !c.ok))}`);
      assert.ok(r.cases.length >= 2, `${op} runs the suite's cases`);
      // Float32 rounding of a float64 result, nothing more.
      assert.ok(r.maxAbsError !== null && r.maxAbsError < 1e-6, `${op} error ${r.maxAbsError}`);
      assert.ok(r.maxAbsErrorVsCpu !== null && r.maxAbsErrorVsCpu < 1e-3, `${op} vs cpu ${r.maxAbsErrorVsCpu}`);
    }
  });

  test('an op that throws is reported as failed with its message, and the other ops still run', async () => {
    const broken: InferenceKernels = { ...reference, bakeMotion: () => Promise.reject(new Error('bakeMotion: not on this backend')) };
    const report = await checkOps(broken, null, null);
    assert.equal(report.bakeMotion.ok, false);
    assert.equal(report.bakeMotion.cases.length, 1, 'its other cases are not tried');
    assert.equal(report.bakeMotion.cases[0]!.error, 'bakeMotion: not on this backend');
    assert.equal(report.bakeMotion.maxAbsError, null);
    assert.ok(report.renderRays.ok && report.blendVolumes.ok && report.densityAt.ok);
    assert.equal(report.renderRays.maxAbsErrorVsCpu, null, 'no CPU backend, no CPU comparison');
  });

  test('an op whose result is off by more than the suite\'s tolerance fails and names the element', async () => {
    const off: InferenceKernels = {
      ...reference,
      blendVolumes(mean, bases, coeff) {
        const { out } = referenceKernels.blendVolumes(mean, bases, coeff);
        if (out.length > 5) out[5]! += 1e-3;
        return { out };
      },
    };
    const r = (await checkOps(off, null, null)).blendVolumes;
    assert.equal(r.ok, false);
    assert.equal(r.cases[0]!.ok, true, 'the 2-value hand-worked case has no element 5');
    assert.equal(r.cases[1]!.withinTolerance, false);
    assert.match(r.cases[1]!.error ?? '', /^at \[5\] got /);
    assert.ok(Math.abs(r.maxAbsError! - 1e-3) < 1e-5);
  });
});

describe('the GPU check\'s options and timing loop', () => {
  test('options: defaults, the JSON under OUT, and a malformed variable named', () => {
    const o = checkOptions({ OUT: '/out' });
    assert.deepEqual([o.width, o.height, o.avatarCounts, o.budgetMs, o.allowSoftware, o.useCpu, o.jsonPath], [320, 180, [1, 8, 32, 128], 180_000, false, true, '/out/gpu-check.json']);
    assert.equal(checkOptions({ VOXFACE_GPU_CHECK_ALLOW_SOFTWARE: '1', VOXFACE_GPU_CHECK_NO_CPU: '1' }).allowSoftware, true);
    assert.equal(checkOptions({}).jsonPath, null);
    assert.throws(() => checkOptions({ VOXFACE_GPU_CHECK_SIZE: '320' }), /VOXFACE_GPU_CHECK_SIZE must be WxH/);
    assert.throws(() => checkOptions({ VOXFACE_GPU_CHECK_AVATARS: '1,x' }), /VOXFACE_GPU_CHECK_AVATARS must be/);
    assert.throws(() => checkOptions({ VOXFACE_GPU_CHECK_BUDGET_S: '0' }), /VOXFACE_GPU_CHECK_BUDGET_S must be/);
  });

  test('timing: counts are timed in order, one that cannot fit the budget is skipped, and the first frame is compared with the CPU backend', async () => {
    // The CPU backend stands in for the GPU: the loop, not the figure, is under test.
    const r = await timeRenderRays(cpuKernels, cpuKernels, { width: 8, height: 6, avatarCounts: [1, 2, 1_000_000], budgetMs: 3000 });
    assert.equal(r.rays, 48);
    assert.equal(r.error, undefined);
    assert.equal(r.maxAbsDiffVsCpu, 0, 'the same kernels give the same colour');
    assert.ok(r.cpu && 'msPerFrame' in r.cpu && r.cpu.msPerFrame > 0 && r.cpu.samplesPerRay > 0);
    assert.deepEqual(r.gpu.map((t) => t.avatars), [1, 2, 1_000_000]);
    assert.ok(r.gpu[0]!.msPerTick! > 0 && r.gpu[1]!.ticks! >= 2);
    assert.match(r.gpu[2]!.skipped ?? '', /^predicted \d+ ms/);
  });

  test('timing: a renderRays that throws ends the timing with its message', async () => {
    const r = await timeRenderRays({ ...reference, renderRays: () => { throw new Error('renderRays: not yet'); } }, null, { width: 4, height: 4, avatarCounts: [1], budgetMs: 1000 });
    assert.equal(r.error, 'renderRays: not yet');
    assert.deepEqual(r.gpu, []);
    assert.equal(r.cpu, null);
  });
});

const hasVulkan = existsSync(swiftShaderIcd);
const noVulkan = process.env['CI'] ? false : hasVulkan ? false : 'no SwiftShader ICD here';

describe('the GPU check on SwiftShader', { skip: noVulkan }, () => {
  const options = (over: Partial<CheckOptions>): CheckOptions => ({
    ...checkOptions({ VOXFACE_GPU_CHECK_SIZE: '8x6', VOXFACE_GPU_CHECK_AVATARS: '1', VOXFACE_GPU_CHECK_BUDGET_S: '5' }), ...over,
  });

  test('a software adapter is refused unless a rehearsal allows it; allowed, blendVolumes passes and the report is saved', async () => {
    process.env['VK_ICD_FILENAMES'] ??= swiftShaderIcd;
    const refused = await runGpuCheck(options({ jsonPath: join(tmp, 'refused.json') }), () => {});
    assert.equal(refused.adapter?.software, true);
    assert.equal(refused.adapterAccepted, false);
    assert.match(refused.error ?? '', /software one .* refused/);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'refused.json'), 'utf8')), JSON.parse(JSON.stringify(refused)));

    const lines: string[] = [];
    const allowed = await runGpuCheck(options({ allowSoftware: true, jsonPath: join(tmp, 'allowed.json') }), (l) => lines.push(l));
    assert.equal(allowed.adapterAccepted, true);
    assert.equal(allowed.phase, 'done');
    assert.ok(allowed.ops.blendVolumes?.ok, JSON.stringify(allowed.ops.blendVolumes));
    assert.equal(allowed.ops.blendVolumes?.maxAbsErrorVsCpu !== null, true, 'compared with the CPU backend');
    assert.deepEqual(Object.keys(allowed.ops), [...OP_NAMES]);
    assert.ok(lines.some((l) => l.startsWith('adapter: ')));
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'allowed.json'), 'utf8')), JSON.parse(JSON.stringify(allowed)));
  });

  test('the bundle pack.sh ships runs under plain node from the pack\'s layout (shaders inlined, addons beside it) and prints its JSON last', () => {
    const dir = join(tmp, 'pack'), out = join(tmp, 'out');
    mkdirSync(join(dir, 'dist', 'linux-x64'), { recursive: true });
    mkdirSync(out);
    const built = spawnSync(process.execPath, [join(REPO, 'scripts/gpu-check/bundle.mjs'), join(dir, 'check.mjs')], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    symlinkSync(join(REPO, 'node_modules/webgpu/dist/linux-x64/dawn.node'), join(dir, 'dist/linux-x64/dawn.node'));
    const run = spawnSync(process.execPath, ['check.mjs'], {
      cwd: dir, encoding: 'utf8', timeout: 120_000,
      env: {
        PATH: '/usr/bin:/bin', OUT: out, VK_ICD_FILENAMES: process.env['VK_ICD_FILENAMES'] ?? swiftShaderIcd, VOXFACE_GPU_CHECK_ALLOW_SOFTWARE: '1',
        VOXFACE_GPU_CHECK_SIZE: '8x6', VOXFACE_GPU_CHECK_AVATARS: '1', VOXFACE_GPU_CHECK_BUDGET_S: '5',
        VOXFACE_KERNELS_ADDON: join(REPO, 'kernels/build/Release/voxface_kernels.node'),
      },
    });
    const last = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    assert.equal(last.check, 'voxface-gpu-check', run.stderr);
    assert.equal(last.phase, 'done');
    assert.equal(last.ops.blendVolumes.ok, true);
    assert.ok('threads' in last.cpu, 'the CPU addon loaded from VOXFACE_KERNELS_ADDON');
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'gpu-check.json'), 'utf8')), last);
  });
});
