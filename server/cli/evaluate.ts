/**
 * `voxface render <avatar> <dataset> --out <dir> [--res 256]`: the held-out frames rendered
 * by the product renderer, as <dir>/NNNNN.png (frame index), plus one JSON line.
 *
 * `voxface eval <avatar> <dataset> [--res 256] [--out <dir>]`: one JSON line with PSNR and
 * SSIM (per RGB channel, 11x11 Gaussian; server/engine/Metrics.ts) in the face oval, the
 * person mask and the whole frame, and the face's sharpness ratio, on the held-out frames
 * rendered by the live path calls use (server/engine/Evaluate.ts), for the avatar and two
 * baselines computed in the same run: the mean training image and the training frame
 * with the nearest coefficients and pose; and the held-out frames themselves through the
 * renderer's ray grid and upscale (renderScaleCeiling: what a perfect avatar would score at
 * that ray density). --out adds a side-by-side video and a PNG strip.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../atomicFile';
import { encodeRgbaPng } from '../dataset/png';
import { type FrameRecord, frameFileStem, LANDMARK_COUNT } from '../../shared/dataset/format';
import { loadConfig } from '../config';
import { loadDataset } from '../dataset/loadDataset';
import { baselinesFrom, type EvalFrame, evaluateFrames, rgbaToRgb, type Scores } from '../engine/Evaluate';
import { datasetPlates, loadFramedEval } from '../engine/FramedEvaluate';
import { framingCamera } from '../engine/Framing';
import { buildUnderLayer } from '../engine/AvatarPlates';
import { callCoefficients } from '../engine/CallCoefficients';
import { cropToOutput, faceOvalRegion } from '../engine/FaceRegion';
import type { RealDataset, RealFrame } from '../engine/RealDataset';
import { evenlySpaced, SideBySideVideo, writeStripPng } from '../engine/SideBySide';
import { LIVE, render, StreamingRenderer } from '../engine/Renderer';
import { FidelityCollector } from './evalFidelity';
import { checkCamera, CliInputError, numberOption, readAvatar, readAvatarContents, readDataset, round } from './common';
import { ProgressBar } from './progressBar';

export const RENDER_USAGE = `usage: voxface render <avatar> <dataset> --out <dir> [--res 256]

Renders the dataset's held-out (test) frames with the avatar as <dir>/NNNNN.png.
`;

export const EVAL_USAGE = `usage: voxface eval <avatar> <dataset> [--video <file>] [--size WxH] [--out <dir>] [--fidelity]

Renders the held-out frames with the live renderer (what calls use) and prints one JSON
line: PSNR/SSIM over the whole frame, in the person region and in the face oval, and the
face's sharpness (high-frequency energy over the video's; 1 = as sharp as the camera), for
the avatar, the mean training image and the nearest training frame (coefficients and pose).

With --video (the clip the dataset was made from), the avatar is scored as calls show it:
in the call's framing (--size, default the call's 640x360), head and body over the room,
against the video's own frames. Without it, in the model's square view at --res against
the dataset's head crops on white.

options:
  --video <file>  the dataset's source video (checked by its SHA-256): score the call framing
  --size <WxH>    the call framing's size (default VOXFACE_AVATAR_WIDTH x HEIGHT)
  --res <px>      the square view's size without --video (default 256)
  --out <dir>     also write <dir>/side-by-side.mp4 (original | avatar, every held-out frame)
                  and <dir>/strip.png (6 frames spread over them: original over avatar)
  --fidelity      also re-track the renders with FaceLandmarker: mouth, eyes and face
                  landmark distance and lip-opening error, px at 512 px (docs/fidelity.md)

environment:
  VOXFACE_AVATAR_RENDER_SCALE  rays per output pixel per axis, as in calls (default 0.5)
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

interface EvalArgs { avatar: string; dataset: string; out?: string; res: number; video?: string; size?: { width: number; height: number }; fidelity: boolean }

function parseEval(args: string[]): EvalArgs | undefined {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { out: { type: 'string' }, res: { type: 'string' }, video: { type: 'string' }, size: { type: 'string' }, fidelity: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) return undefined;
  if (positionals.length !== 2) throw new CliInputError(`expected <avatar> <dataset>\n\n${EVAL_USAGE}`);
  const res = numberOption('res', values.res, 16, 1024) ?? 256;
  if (!Number.isInteger(res)) throw new CliInputError(`--res must be an integer, got ${res}`);
  let size: EvalArgs['size'];
  if (values.size !== undefined) {
    const m = /^(\d{2,4})x(\d{2,4})$/.exec(values.size);
    if (!m || Number(m[1]) < 64 || Number(m[2]) < 64 || Number(m[1]) > 1920 || Number(m[2]) > 1920) throw new CliInputError(`--size must be WIDTHxHEIGHT within 64..1920, got '${values.size}'`);
    size = { width: Number(m[1]), height: Number(m[2]) };
  }
  if (size && !values.video) throw new CliInputError('--size is the call framing\'s size: it needs --video');
  if (values.video && !existsSync(values.video)) throw new CliInputError(`--video ${values.video} does not exist`);
  return { avatar: positionals[0]!, dataset: positionals[1]!, out: values.out, res, video: values.video, size, fidelity: values.fidelity ?? false };
}

/** The held-out frames in the call's framing against the source video (FramedEvaluate.ts), rendered as calls render them. */
async function framedRun(a: EvalArgs, bar: ProgressBar) {
  const { model, plates, encoder } = readAvatarContents(a.avatar), config = loadConfig(), drive = callCoefficients(encoder);
  const width = a.size?.width ?? config.avatarWidth, height = a.size?.height ?? config.avatarHeight;
  // The frames' images are not used here (the video's are): the smallest resolution loads fastest.
  const ds = await readDataset(a.dataset, model.config, { res: 16, onProgress: (d, t) => bar.update('load', d, t) });
  bar.end();
  checkCamera(model, ds);
  const files = loadDataset(ds.dir);
  if (!datasetPlates(files)) throw new CliInputError(`${ds.dir} is a version-1 dataset (no plates): prepare it again to evaluate in the call's framing, or leave out --video`);
  const cam = framingCamera(model.config.camera, width, height);
  let framed;
  try {
    framed = await loadFramedEval({ ds, files, video: a.video!, cam, onProgress: (d, t) => bar.update('video', d, t) });
  } catch (e) {
    throw new CliInputError(e instanceof Error ? e.message : String(e));
  }
  bar.end();
  // The room unblurred: the fairest background to compare with the video's own.
  const renderScale = config.avatarRenderScale, under = buildUnderLayer({ kind: 'room' }, plates, cam);
  const renderer = new StreamingRenderer(model, { ...LIVE, renderScale, width, height, camera: cam, under });
  return {
    width, height, framing: 'call' as const, test: framed.test, baselines: framed.baselines, renderScale, driver: drive.driver,
    render: (f: EvalFrame) => rgbaToRgb(renderer.render(drive(f), f.pose)), heldOutFps: heldOutFps(ds, files.frames, ds.test),
  };
}

/** The held-out frames in the model's square view against the dataset's head crops on white (the measure before the call framing). */
async function squareRun(a: EvalArgs, bar: ProgressBar) {
  const { model, encoder } = readAvatarContents(a.avatar), drive = callCoefficients(encoder);
  const ds = await readDataset(a.dataset, model.config, { res: a.res, onProgress: (d, t) => bar.update('load', d, t) });
  bar.end();
  checkCamera(model, ds);
  if (ds.test.length === 0) throw new CliInputError(`${ds.dir}: no held-out (test) frames`);
  const files = loadDataset(ds.dir), test = withFaceRegions(ds, files.landmarks, a.res, a.res);
  // Calls take their ray scale from the same setting (server/config.ts).
  const renderScale = loadConfig().avatarRenderScale;
  const renderer = new StreamingRenderer(model, { ...LIVE, renderScale, width: a.res, height: a.res });
  return {
    width: a.res, height: a.res, framing: 'model-square' as const, test, baselines: baselinesFrom(ds.train), renderScale, driver: drive.driver,
    render: (f: EvalFrame) => rgbaToRgb(renderer.render(drive(f), f.pose)), heldOutFps: heldOutFps(ds, files.frames, test),
  };
}

export async function evalCommand(args: string[]): Promise<void> {
  const a = parseEval(args);
  if (!a) { process.stdout.write(EVAL_USAGE); return; }
  if (a.out && existsSync(a.out) && !statSync(a.out).isDirectory()) throw new CliInputError(`--out ${a.out} is not a folder`);
  const bar = new ProgressBar();
  const run = a.video ? await framedRun(a, bar) : await squareRun(a, bar);
  const { width, height, test } = run;
  if (test.length === 0) throw new CliInputError(`${a.dataset}: no held-out (test) frames`);
  const video = a.out ? new SideBySideVideo(join(a.out, 'side-by-side.mp4'), width, height, run.heldOutFps) : undefined;
  const stripAt = new Set(evenlySpaced(test.length, STRIP_FRAMES)), strip: Float32Array[][] = [];
  const fidelity = a.fidelity ? new FidelityCollector(width, height) : undefined;
  try {
    const r = evaluateFrames(run.render, test, run.baselines, {
      width, height, renderScale: run.renderScale,
      onFrame: (i, rendered, f) => {
        video?.push(f.image, rendered);
        if (stripAt.has(i)) strip.push([f.image, rendered]);
        fidelity?.add(rendered, f.image, run.baselines.nearest(f));
        bar.update('eval', i + 1, test.length);
      },
    });
    bar.end();
    let out: { video: string; strip: string } | undefined;
    if (a.out && video) {
      const stripPath = join(a.out, 'strip.png');
      writeStripPng(stripPath, strip, width, height);
      out = { video: await video.finish(), strip: stripPath };
    }
    const fid = fidelity ? await fidelity.measure() : undefined;
    const region = (x: { psnr: number; ssim: number }) => ({ psnr: round(x.psnr, 2), ssim: round(x.ssim, 4) });
    const s = (x: Scores) => ({ ...region(x), face: { ...region(x.face), sharpness: round(x.face.sharpness, 3) }, person: region(x.person) });
    process.stdout.write(`${JSON.stringify({
      frames: r.frames, framing: run.framing, width, height, res: a.video ? undefined : a.res, renderer: 'LIVE', renderScale: r.renderScale, driver: run.driver,
      faceFrames: r.faceFrames, faceShare: round(r.faceShare, 3),
      model: s(r.model), meanImage: s(r.meanImage), nearestFrame: s(r.nearestFrame), renderScaleCeiling: s(r.renderScaleCeiling), renderMsPerFrame: round(r.renderMsPerFrame, 1),
      ...(fid ? { fidelity: fid } : {}), ...(out ? { out } : {}),
    })}\n`);
  } finally {
    video?.close();
  }
}
