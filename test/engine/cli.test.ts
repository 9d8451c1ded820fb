/**
 * `voxface train / eval / render` end to end, as a user runs them: a 3-second dataset of a
 * shared clip made by `voxface prepare`, 30 s of training at 64 px with the small preset,
 * then evaluation against the baselines, held-out renders, a resumed run, and bad input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { readAvatarFile } from '../../server/engine/AvatarFile';
import { NON_NEUTRAL_BLENDSHAPES } from '../../server/engine/PoseMapping';
import { FACE_MODEL_PATH } from '../helpers/sharedData';
import { runPrepare, scratchDir, SEGMENTER_MODEL_PATH } from '../helpers/prepareCli';
import { clipPath } from '../helpers/sharedData';

const BIN = resolve(process.cwd(), 'bin', 'voxface.js');

interface Run { code: number | null; stdout: string; stderr: string; lines: Record<string, unknown>[] }

function voxface(args: string[], timeoutMs = 90_000): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, VOXFACE_FACE_MODEL: FACE_MODEL_PATH, VOXFACE_SEGMENTER_MODEL: SEGMENTER_MODEL_PATH }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`voxface ${args[0]} timed out:\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      done({ code, stdout, stderr, lines });
    });
  });
}

const png = (path: string) => PNG.sync.read(readFileSync(path));

describe('voxface train, eval and render on a shared clip', () => {
  const dir = scratchDir(), data = join(dir, 'katie'), avatar = join(dir, 'katie.vxa');
  let trained: Run;
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    // KatieHill: a talking head that turns and nods, so the mean image is a weak baseline
    // (16 dB on the first 3 s) and the nearest training frame is not a copy of the test frames.
    const prep = await runPrepare([clipPath('womanHdtf'), '--out', data, '--duration', '3']);
    assert.equal(prep.code, 0, `prepare failed:\n${prep.stderr}`);
    trained = await voxface(['train', data, '--out', avatar, '--minutes', '0.5', '--res', '64', '--model', 'small', '--rays', '1024', '--snapshot-every', '10']);
    assert.equal(trained.code, 0, `train failed:\n${trained.stderr}`);
  });

  test('train prints progress lines, a bar on stderr, and writes the avatar, checkpoint and PNGs', () => {
    const progress = trained.lines.filter((l) => !l.done && !l.snapshot), final = trained.lines.at(-1)!;
    assert.ok(progress.length >= 3, `progress lines: ${trained.stdout}`);
    for (const p of progress) for (const k of ['step', 'loss', 'psnr', 'elapsedMs']) assert.equal(typeof p[k], 'number', `${k} in ${JSON.stringify(p)}`);
    for (let i = 1; i < progress.length; i++) assert.ok((progress[i]!.step as number) > (progress[i - 1]!.step as number));
    assert.ok((progress.at(-1)!.loss as number) < (progress[0]!.loss as number), 'loss decreases');
    assert.equal(final.done, true);
    assert.match(trained.stderr, /train +\[#+/);
    const model = readAvatarFile(avatar);
    assert.deepEqual(model.config.expressionNames, NON_NEUTRAL_BLENDSHAPES.slice(0, 51));
    assert.ok(model.config.camera.distance > 1.5 && model.config.camera.distance < 5, `camera ${JSON.stringify(model.config.camera)}`);
    assert.ok(existsSync(`${avatar}.ckpt`));
    assert.equal(png(`${avatar}.curves.png`).width, 640);
    const strip = png(`${avatar}.heldout.png`);
    assert.deepEqual([strip.width, strip.height], [8 * 64, 64]);
  });

  test('--snapshot-every writes a loadable avatar and a preview, with held-out quality that improves', () => {
    const snapshots = trained.lines.filter((l) => l.snapshot);
    assert.ok(snapshots.length >= 2, `snapshot lines: ${trained.stdout}`);
    for (const s of snapshots) {
      for (const k of ['step', 'heldOutPsnr', 'baselinePsnr', 'elapsedMs']) assert.equal(typeof s[k], 'number', `${k} in ${JSON.stringify(s)}`);
      assert.equal(s.snapshot, `${avatar}.snapshot.vxa`);
    }
    const final = trained.lines.at(-1)!;
    assert.ok((final.heldOutPsnr as number) > (snapshots[0]!.heldOutPsnr as number), `held-out ${snapshots[0]!.heldOutPsnr} dB first, ${final.heldOutPsnr} dB at the end`);
    assert.ok((final.heldOutPsnr as number) > (final.baselinePsnr as number), `held-out ${final.heldOutPsnr} dB vs mean image ${final.baselinePsnr} dB`);
    assert.equal(readAvatarFile(`${avatar}.snapshot.vxa`).config.expressionCount, readAvatarFile(avatar).config.expressionCount);
    const preview = png(`${avatar}.preview.png`);
    assert.deepEqual([preview.width, preview.height], [2 * 64, 64]);
  });

  test('eval beats the mean-image baseline clearly; render writes every held-out frame', async () => {
    const [ev, rendered] = await Promise.all([
      voxface(['eval', avatar, data, '--res', '64']),
      voxface(['render', avatar, data, '--out', join(dir, 'renders'), '--res', '64']),
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    const r = ev.lines.at(-1) as { frames: number; model: { psnr: number; ssim: number }; meanImage: { psnr: number; ssim: number }; nearestFrame: { psnr: number; ssim: number } };
    process.stderr.write(`eval: ${JSON.stringify(r)}\n`);
    // Measured after 30 s: model 22.0 dB / SSIM 0.80, mean image 16.0 / 0.37, nearest frame 16.3 / 0.51.
    assert.ok(r.model.psnr > r.meanImage.psnr + 3, `model ${r.model.psnr} dB vs mean image ${r.meanImage.psnr} dB`);
    assert.ok(r.model.ssim > r.meanImage.ssim + 0.15, `model SSIM ${r.model.ssim} vs mean image ${r.meanImage.ssim}`);
    assert.ok(r.nearestFrame.psnr > 5 && r.nearestFrame.ssim > 0 && r.nearestFrame.ssim < 1);
    assert.equal(rendered.code, 0, rendered.stderr);
    const files = readdirSync(join(dir, 'renders')).filter((f) => /^\d{5}\.png$/.test(f));
    assert.equal(files.length, r.frames);
    const first = png(join(dir, 'renders', files[0]!));
    assert.deepEqual([first.width, first.height], [64, 64]);
  });

  test('--resume continues the step count from the checkpoint', async () => {
    const lastStep = trained.lines.at(-1)!.step as number;
    const resumed = await voxface(['train', data, '--out', avatar, '--resume', '--minutes', '0.05', '--res', '64']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const first = resumed.lines[0]!;
    assert.ok((first.step as number) > lastStep && (first.elapsedMs as number) > (trained.lines.at(-1)!.elapsedMs as number), `resumed at ${JSON.stringify(first)} after step ${lastStep}`);
    const other = await voxface(['train', data, '--out', avatar, '--resume', '--minutes', '0.05', '--res', '32']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /trained at --res 64, not 32/);
  });

  test('bad input: a clear one-line error and exit status 2', async () => {
    const corrupt = join(dir, 'corrupt.vxa'), notAvatar = join(dir, 'not.vxa');
    copyFileSync(avatar, corrupt);
    const bytes = readFileSync(corrupt);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(corrupt, bytes);
    writeFileSync(notAvatar, 'hello');
    const cases: [string[], RegExp][] = [
      [['train', join(dir, 'missing'), '--out', join(dir, 'x.vxa')], /dataset .*missing does not exist/],
      [['train', data, '--out', avatar], /exists \(use --resume/],
      [['train', dir, '--out', join(dir, 'y.vxa')], /invalid dataset: .*missing/],
      [['eval', corrupt, data], /checksum mismatch/],
      [['eval', notAvatar, data], /truncated|bad magic/],
      [['render', join(dir, 'nope.vxa'), data, '--out', join(dir, 'r2')], /nope\.vxa does not exist/],
      [['train', data, '--out', join(dir, 'z.vxa'), '--res', 'big'], /--res must be a number/],
    ];
    const runs = await Promise.all(cases.map(([args]) => voxface(args)));
    runs.forEach((run, i) => {
      assert.equal(run.code, 2, `${cases[i]![0].join(' ')}: exit ${run.code}\n${run.stderr}`);
      assert.match(run.stderr, cases[i]![1]);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    });
  });
});
