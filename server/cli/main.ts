/**
 * The `voxface` command line (bin/voxface.js loads this through tsx).
 *
 *   voxface prepare <video> --out <dir> [--force] [--max-frames N] [--start S]
 *                   [--duration S] [--max-side PX] [--min-face-ratio R]
 *   voxface train <dataset> --out <file> [--minutes N] [--res 256] [--resume]   (server/cli/train.ts)
 *   voxface render <avatar> <dataset> --out <dir> [--res 256]                   (server/cli/evaluate.ts)
 *   voxface eval <avatar> <dataset> [--res 256]
 *   voxface export-encoder <avatar> <out.onnx>                                  (server/cli/exportEncoder.ts)
 *
 * Progress goes to stderr; stdout gets one JSON line with the result. Exit
 * status: 0 done, 1 unexpected failure, 2 bad input or usage, 130 interrupted.
 */
import { parseArgs } from 'node:util';
import { ensureModelAsset, FACE_LANDMARKER_MODEL, type ModelAssetSpec } from '../assets/ModelAsset';
import { loadConfig } from '../config';
import { SELFIE_SEGMENTER_MODEL } from '../assets/ModelAsset';
import { PrepareError } from '../dataset/PrepareError';
import { prepareDataset } from '../dataset/prepareDataset';
import { DatasetValidationError } from '../../shared/dataset/validate';
import { CliInputError } from './common';
import { EVAL_USAGE, evalCommand, RENDER_USAGE, renderCommand } from './evaluate';
import { ProgressBar } from './progressBar';
import { train, TRAIN_USAGE } from './train';
import { EXPORT_ENCODER_USAGE, exportEncoderCommand } from './exportEncoder';


const PREPARE_USAGE = `usage: voxface prepare <video> --out <dir> [options]

Turns a talking-head video into a training dataset (docs/dataset.md).

options:
  --out <dir>            dataset folder to create (required)
  --force                replace <dir> if it exists
  --max-frames <n>       use at most n frames
  --start <seconds>      start this far into the video
  --duration <seconds>   use this many seconds
  --max-side <px>        decode with the longer side at most px (default 1280)
  --min-face-ratio <r>   refuse when a face is in fewer than r of frames (default 0.5)

environment:
  VOXFACE_FACE_MODEL       face_landmarker.task (default as the server: ~/.cache/voxface/models/)
  VOXFACE_SEGMENTER_MODEL  selfie_segmenter.tflite (default beside the face model)
  VOXFACE_CHROMIUM         Chromium binary (default /usr/bin/chromium)
`;

const USAGE = `${PREPARE_USAGE}\n${TRAIN_USAGE}\n${RENDER_USAGE}\n${EVAL_USAGE}\n${EXPORT_ENCODER_USAGE}`;

function number(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new PrepareError(`--${name} must be a number >= ${min}, got '${raw}'`);
  return value;
}

/** A verified model path; a missing model that cannot be fetched is the user's to fix, so no stack trace. */
async function model(spec: ModelAssetSpec, variable: string): Promise<string> {
  try {
    return await ensureModelAsset(spec);
  } catch (error) {
    throw new PrepareError(`${error instanceof Error ? error.message : String(error)} (set ${variable} to a local copy)`);
  }
}

async function prepare(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' }, force: { type: 'boolean' }, 'max-frames': { type: 'string' }, start: { type: 'string' },
      duration: { type: 'string' }, 'max-side': { type: 'string' }, 'min-face-ratio': { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) { process.stdout.write(PREPARE_USAGE); return; }
  if (positionals.length !== 1 || !values.out) throw new PrepareError(`prepare needs one video and --out <dir>\n\n${PREPARE_USAGE}`);
  // Only the model paths are read: prepare serves nothing, so the server's secret rule (dev mode) does not apply.
  const config = loadConfig({ ...process.env, VOXFACE_DEV: '1' });
  const faceModelPath = await model({ ...FACE_LANDMARKER_MODEL, path: config.faceModelPath, url: config.faceModelUrl }, 'VOXFACE_FACE_MODEL');
  const segmenterModelPath = await model({ ...SELFIE_SEGMENTER_MODEL, path: config.segmenterModelPath, url: config.segmenterModelUrl }, 'VOXFACE_SEGMENTER_MODEL');
  const bar = new ProgressBar();
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const maxFrames = number('max-frames', values['max-frames'], 1);
    const result = await prepareDataset({
      video: positionals[0]!,
      outDir: values.out,
      force: values.force ?? false,
      faceModelPath,
      segmenterModelPath,
      maxFrames: maxFrames === undefined ? undefined : Math.floor(maxFrames),
      startSec: number('start', values.start, 0),
      durationSec: number('duration', values.duration, 0.01),
      maxSide: number('max-side', values['max-side'], 64),
      minFaceRatio: number('min-face-ratio', values['min-face-ratio'], 0),
      signal: controller.signal,
      onProgress: (phase, done, total) => bar.update(phase, done, total),
    });
    bar.end();
    process.stderr.write(`wrote ${result.outDir} (${result.delegate} delegate)\n`);
    const round = (value: number, digits: number) => Number(value.toFixed(digits));
    process.stdout.write(`${JSON.stringify({
      frames: result.frames, seconds: round(result.seconds, 2), fps: round(result.fps, 1),
      faceFoundRatio: round(result.faceFoundRatio, 4), reprojectionErrorPx: round(result.reprojectionErrorPx, 2),
    })}\n`);
  } finally {
    bar.end();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    if (controller.signal.aborted) process.exitCode = 130;
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    if (command === 'prepare') await prepare(rest);
    else if (command === 'train') await train(rest);
    else if (command === 'render') await renderCommand(rest);
    else if (command === 'eval') await evalCommand(rest);
    else if (command === 'export-encoder') exportEncoderCommand(rest);
    else if (!command || command === '--help' || command === 'help') process.stdout.write(USAGE);
    else throw new PrepareError(`unknown command '${command}'\n\n${USAGE}`);
  } catch (error) {
    if (process.exitCode === 130) {
      process.stderr.write('voxface: interrupted; nothing was written\n');
    } else if (error instanceof PrepareError || error instanceof CliInputError || error instanceof DatasetValidationError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`voxface: ${(error as Error).message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`voxface: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}
