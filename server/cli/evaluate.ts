/**
 * `voxface render <avatar> <dataset> --out <dir> [--res 256]`: the held-out frames rendered
 * by the product renderer, as <dir>/NNNNN.png (frame index), plus one JSON line.
 *
 * `voxface eval <avatar> <dataset> [--res 256] [--out <dir>]`: one JSON line with PSNR and
 * SSIM (per RGB channel, 11x11 Gaussian; server/engine/Metrics.ts) in the face oval, the
 * person mask and the whole frame, and the face's sharpness ratio, on the held-out frames
 * rendered by the live path calls use (server/engine/Evaluate.ts), for the avatar and two
 * baselines computed in the same run: the mean training image and the training frame
 * with the nearest coefficients and pose. --out adds a side-by-side video and a PNG strip.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../atomicFile';
import { encodeRgbaPng } from '../dataset/png';
import { type FrameRecord, frameFileStem, LANDMARK_COUNT } from '../../shared/dataset/format';
import { loadConfig } from '../config';
import { loadDataset } from '../dataset/loadDataset';
import { type EvalFrame, evaluateAvatar, type Scores } from '../engine/Evaluate';
import { cropToOutput, faceOvalRegion } from '../engine/FaceRegion';
import type { RealDataset, RealFrame } from '../engine/RealDataset';
import { evenlySpaced, SideBySideVideo, writeStripPng } from '../engine/SideBySide';
import { render } from '../engine/Renderer';
import { checkCamera, CliInputError, numberOption, readAvatar, readDataset, round } from './common';
import { ProgressBar } from './progressBar';

export const RENDER_USAGE = `usage: voxface render <avatar> <dataset> --out <dir> [--res 256]

Renders the dataset's held-out (test) frames with the avatar as <dir>/NNNNN.png.
`;

export const EVAL_USAGE = `usage: voxface eval <avatar> <dataset> [--res 256] [--out <dir>]

Renders the held-out frames with the live renderer (what calls use) at --res and prints one
JSON line: PSNR/SSIM over the whole frame, in the person mask and in the face oval, and the
face's sharpness (high-frequency energy over the video's; 1 = as sharp as the camera), for
the avatar, the mean training image and the nearest training frame (coefficients and pose).

options:
  --res <px>    output size (default 256, the call's)
  --out <dir>   also write <dir>/side-by-side.mp4 (original | avatar, every held-out frame)
                and <dir>/strip.png (6 frames spread over them: original over avatar)

environment:
  VOXFACE_AVATAR_RENDER_SCALE  rays per output pixel per axis, as in calls (default 0.35)
`;

/** Frames the PNG strip shows. */
const STRIP_FRAMES = 6;

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

/** The held-out frames with their face-oval regions, from the dataset's landmarks mapped into the output frame. */
function withFaceRegions(ds: RealDataset, landmarks: Float32Array, width: number, height: number): (RealFrame & EvalFrame)[] {
  const map = cropToOutput(ds.meta, ds.reference, width, height), n = 2 * LANDMARK_COUNT;
  return ds.test.map((f) => ({ ...f, face: faceOvalRegion(landmarks.subarray(n * f.index, n * (f.index + 1)), map, width, height) }));
}

/** The held-out frames' rate from their timestamps (prepare may keep fewer frames than the video has). */
function heldOutFps(ds: RealDataset, records: readonly FrameRecord[], frames: readonly { index: number }[]): number {
  const t = frames.map((f) => records[f.index]!.timeSec);
  const span = t.at(-1)! - t[0]!;
  return frames.length > 1 && span > 0 ? (frames.length - 1) / span : ds.meta.source.fps;
}

export async function evalCommand(args: string[]): Promise<void> {
  const a = parse(args, EVAL_USAGE, false);
  if (!a) { process.stdout.write(EVAL_USAGE); return; }
  if (a.out && existsSync(a.out) && !statSync(a.out).isDirectory()) throw new CliInputError(`--out ${a.out} is not a folder`);
  const model = readAvatar(a.avatar), bar = new ProgressBar();
  const ds = await readDataset(a.dataset, model.config, { res: a.res, onProgress: (d, t) => bar.update('load', d, t) });
  bar.end();
  checkCamera(model, ds);
  if (ds.test.length === 0) throw new CliInputError(`${ds.dir}: no held-out (test) frames`);
  const files = loadDataset(ds.dir), test = withFaceRegions(ds, files.landmarks, a.res, a.res);
  const video = a.out ? new SideBySideVideo(join(a.out, 'side-by-side.mp4'), a.res, a.res, heldOutFps(ds, files.frames, test)) : undefined;
  const stripAt = new Set(evenlySpaced(test.length, STRIP_FRAMES)), strip: Float32Array[][] = [];
  try {
    const r = evaluateAvatar(model, ds.train, test, {
      // Calls take their ray scale from the same setting (server/config.ts).
      width: a.res, height: a.res, renderer: { renderScale: loadConfig().avatarRenderScale },
      onFrame: (i, rendered, f) => {
        video?.push(f.image, rendered);
        if (stripAt.has(i)) strip.push([f.image, rendered]);
        bar.update('eval', i + 1, test.length);
      },
    });
    bar.end();
    let out: { video: string; strip: string } | undefined;
    if (a.out && video) {
      const stripPath = join(a.out, 'strip.png');
      writeStripPng(stripPath, strip, a.res, a.res);
      out = { video: await video.finish(), strip: stripPath };
    }
    const region = (x: { psnr: number; ssim: number }) => ({ psnr: round(x.psnr, 2), ssim: round(x.ssim, 4) });
    const s = (x: Scores) => ({ ...region(x), face: { ...region(x.face), sharpness: round(x.face.sharpness, 3) }, person: region(x.person) });
    process.stdout.write(`${JSON.stringify({
      frames: r.frames, res: a.res, renderer: 'LIVE', renderScale: r.renderScale, faceFrames: r.faceFrames, faceShare: round(r.faceShare, 3),
      model: s(r.model), meanImage: s(r.meanImage), nearestFrame: s(r.nearestFrame), renderMsPerFrame: round(r.renderMsPerFrame, 1),
      ...(out ? { out } : {}),
    })}\n`);
  } finally {
    video?.close();
  }
}
