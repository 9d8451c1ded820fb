/**
 * `voxface render <avatar> <dataset> --out <dir> [--res 256]`: the held-out frames rendered
 * by the product renderer, as <dir>/NNNNN.png (frame index), plus one JSON line.
 *
 * `voxface eval <avatar> <dataset> [--res 256]`: one JSON line with PSNR and SSIM (per RGB
 * channel, 11x11 Gaussian; server/engine/Evaluate.ts) on the held-out frames, for the
 * avatar and for two baselines computed in the same run: the mean training image and the
 * training frame with the nearest coefficients and pose.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../atomicFile';
import { encodeRgbaPng } from '../dataset/png';
import { frameFileStem } from '../../shared/dataset/format';
import { evaluateAvatar } from '../engine/Evaluate';
import { render } from '../engine/Renderer';
import { checkCamera, CliInputError, numberOption, readAvatar, readDataset, round } from './common';
import { ProgressBar } from './progressBar';

export const RENDER_USAGE = `usage: voxface render <avatar> <dataset> --out <dir> [--res 256]

Renders the dataset's held-out (test) frames with the avatar as <dir>/NNNNN.png.
`;

export const EVAL_USAGE = `usage: voxface eval <avatar> <dataset> [--res 256]

Prints one JSON line: PSNR/SSIM on the held-out frames for the avatar, the mean training
image and the nearest training frame (coefficients and pose).
`;

function parse(args: string[], usage: string, withOut: boolean) {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { out: { type: 'string' }, res: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return undefined;
  if (positionals.length !== 2 || (withOut && !values.out)) throw new CliInputError(`expected <avatar> <dataset>${withOut ? ' --out <dir>' : ''}\n\n${usage}`);
  const res = numberOption('res', values.res, 16, 1024) ?? 256;
  if (!Number.isInteger(res)) throw new CliInputError(`--res must be an integer, got ${res}`);
  return { avatar: positionals[0]!, dataset: positionals[1]!, out: values.out, res };
}

export async function renderCommand(args: string[]): Promise<void> {
  const a = parse(args, RENDER_USAGE, true);
  if (!a) { process.stdout.write(RENDER_USAGE); return; }
  const model = readAvatar(a.avatar), bar = new ProgressBar();
  const ds = await readDataset(a.dataset, model.config, { res: a.res, splits: ['test'], onProgress: (d, t) => bar.update('load', d, t) });
  bar.end();
  checkCamera(model, ds);
  if (ds.test.length === 0) throw new CliInputError(`${ds.dir}: no held-out (test) frames`);
  if (existsSync(a.out!) && !statSync(a.out!).isDirectory()) throw new CliInputError(`--out ${a.out} is not a folder`);
  mkdirSync(a.out!, { recursive: true });
  let ms = 0;
  ds.test.forEach((f, i) => {
    const t0 = performance.now();
    const rgba = render(model, f.coefficients, f.pose, { width: a.res, height: a.res });
    ms += performance.now() - t0;
    writeFileAtomic(join(a.out!, `${frameFileStem(f.index)}.png`), encodeRgbaPng(rgba, a.res, a.res));
    bar.update('render', i + 1, ds.test.length);
  });
  bar.end();
  process.stdout.write(`${JSON.stringify({ frames: ds.test.length, res: a.res, out: a.out, renderMsPerFrame: round(ms / ds.test.length, 1) })}\n`);
}

export async function evalCommand(args: string[]): Promise<void> {
  const a = parse(args, EVAL_USAGE, false);
  if (!a) { process.stdout.write(EVAL_USAGE); return; }
  const model = readAvatar(a.avatar), bar = new ProgressBar();
  const ds = await readDataset(a.dataset, model.config, { res: a.res, onProgress: (d, t) => bar.update('load', d, t) });
  bar.end();
  checkCamera(model, ds);
  const r = evaluateAvatar(model, ds.train, ds.test, a.res, (i) => bar.update('eval', i + 1, ds.test.length));
  bar.end();
  const s = (x: { psnr: number; ssim: number }) => ({ psnr: round(x.psnr, 2), ssim: round(x.ssim, 4) });
  process.stdout.write(`${JSON.stringify({
    frames: r.frames, res: r.res, model: s(r.model), meanImage: s(r.meanImage), nearestFrame: s(r.nearestFrame),
    renderMsPerFrame: round(r.renderMsPerFrame, 1),
  })}\n`);
}
