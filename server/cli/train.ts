/**
 * `voxface train <dataset> --out <file> [--minutes N] [--res 256] [--resume] [--force]
 *                [--model default|small|fast] [--rays N] [--seed N]
 *                [--report-every S] [--snapshot-every S] [--checkpoint-every S] [--encoder] [--backend auto|cpu|gpu]
 *                [--fidelity] [--lr-tail F]`
 *
 * Trains on the dataset's train frames for a wall-clock budget (this invocation's; a
 * resumed run adds to the checkpoint's time). stderr: a progress bar. stdout: JSON lines
 * {step, loss, psnr, trainPsnr, elapsedMs, lrScale} where psnr is the held-out PSNR of one test
 * frame (the middle one) as a call shows it (the realtime inference form) and lrScale the
 * last step's learning-rate multiplier, then a final line with the paths.
 * Files: <out> (avatar), <out>.ckpt (resumable checkpoint, every minute (--checkpoint-every) and at the end),
 * <out>.curves.png (loss and PSNR over time), <out>.heldout.png (render | ground truth
 * for up to four test frames, rendered by the product renderer).
 * With --snapshot-every, every S seconds of training: <out>.snapshot.vxa (a usable avatar
 * file of the model so far) and <out>.preview.png (render | ground truth of a held-out
 * frame), and a line {snapshot, preview, step, heldOutPsnr, heldOutFacePsnr, heldOutFaceSsim,
 * baselinePsnr, baselineFacePsnr, baselineFaceSsim, elapsedMs}: heldOutPsnr is the mean over
 * up to nine held-out frames rendered by the fused inference form (REALTIME) at --res,
 * heldOutFacePsnr and heldOutFaceSsim the same inside each frame's face oval (null when none
 * has a face), the baselines the mean training image's on the same frames and regions
 * (heldOutQuality.ts). The onboarding queue reads heldOutPsnr and the face SSIMs to decide
 * "usable". The final line carries them too.
 * The learning rates decay over the budget's last quarter (--lr-tail; LearningRateTail.ts);
 * the budget is --minutes, --steps or --cpu-seconds, whichever runs out first.
 * SIGINT/SIGTERM stop at the next step and save everything (exit 130).
 * With --encoder, an expression encoder (server/encoder) trains with the avatar and is saved
 * in the avatar file and the checkpoint; renders and PSNRs use its coefficients.
 * --backend (default VOXFACE_TRAIN_BACKEND, else auto) picks the device: StepTrainer.ts.
 * With --fidelity, a finished run re-tracks the final avatar's held-out renders (as `eval
 * --fidelity` does in the square view) and its final line carries `fidelity` (or
 * `fidelityError`: a failure to measure never fails the training).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { AvatarModel } from '../engine/AvatarModel';
import { type AvatarConfig, FAST_CONFIG } from '../engine/AvatarModelTypes';
import { writeAvatarFile } from '../engine/AvatarFile';
import { datasetPlates } from '../engine/DatasetPlates';
import { type CheckpointRun, readCheckpoint, writeCheckpoint } from '../engine/Checkpoint';
import { rgbaToRgb } from '../engine/Evaluate';
import { meanImage, psnr, psnrFromMse } from '../engine/Metrics';
import { baselineQuality, heldOutQuality } from './heldOutQuality';
import { writeRgbStrip } from '../engine/Png';
import { expressionNamesOf } from '../engine/PoseMapping';
import type { RealDataset } from '../engine/RealDataset';
import { REALTIME, render, StreamingRenderer } from '../engine/Renderer';
import { evenlySpaced } from '../engine/SideBySide';
import { openStepTrainer, TRAIN_BACKEND_CHOICES, type TrainBackendChoice } from '../engine/StepTrainer';
import { DEFAULT_RAYS_PER_STEP } from '../engine/Trainer';
import { DEFAULT_LR_TAIL, type LearningRateTail, learningRateScale } from '../engine/LearningRateTail';
import { writeTrainingCurves } from '../engine/TrainingPlots';
import { CliInputError, MODEL_PRESETS, numberOption, readDataset, round } from './common';
import { encoderForDataset } from './exportEncoder';
import { ProgressBar } from './progressBar';
import { RunBounds } from './RunBounds';
import { trainedFidelity } from './trainFidelity';

export const TRAIN_USAGE = `usage: voxface train <dataset> --out <file> [options]

Trains an avatar on a dataset made by \`voxface prepare\`.

options:
  --out <file>        avatar file to write (also <file>.ckpt, <file>.curves.png, <file>.heldout.png)
  --minutes <n>       wall-clock budget of this run (default 10)
  --res <px>          training image size (default 256)
  --resume            continue from <file>.ckpt (same dataset and --res)
  --force             replace an existing <file> without resuming
  --model <preset>    default | small | fast (default: default; fast = 32-wide heads)
  --rays <n>          rays per step (default 1024)
  --steps <n>         stop after this many steps of this run (fixed-work comparisons; --minutes still bounds it)
  --cpu-seconds <s>   stop after this much process CPU time in training (equal-work comparisons on a shared machine)
  --face-rays <f>     share of single rays inside the face oval
  --head-rays <f>     share of single rays inside the head mask
  --patch-rays <f>    share of rays traced as patches for D-SSIM (0: no D-SSIM)
  --patch-size <px>   patch side
  --ssim <w>          weight of D-SSIM beside L1
  --align <r>         per-frame target shift, Gauss-Newton step fraction (0: off)
  --distortion <w>    weight of the distortion loss, which pulls the avatar's soft density
                      towards a surface (default 1e-3; 0: off; docs/picture.md)
  --white-background  train over white only (default: a random colour a step, so the head
                      is opaque where the person is; calls draw it over the room)
  --lr-tail <f>       share of the budget, at its end, over which the learning rates decay
                      to ${DEFAULT_LR_TAIL.floor}x (default ${DEFAULT_LR_TAIL.share}; 0: constant rates). The budget is
                      --minutes (with a resumed checkpoint's time), --steps (with its steps)
                      or --cpu-seconds (this run's only), whichever runs out first
  --seed <n>          initialisation and sampling seed (default 1)
  --report-every <s>  seconds between progress lines (default: budget/10, within 5..60)
  --snapshot-every <s>  write <file>.snapshot.vxa and <file>.preview.png this often
  --checkpoint-every <s>  seconds between checkpoints (default 60): what a crash loses at most
  --encoder           train an expression encoder with the avatar (landmarks -> 12-value code
                      beside the blendshapes; docs/fidelity.md), saved in <file>
  --backend <b>       auto | cpu | gpu (default: VOXFACE_TRAIN_BACKEND, else auto): auto trains
                      on a hardware GPU when there is one (never a software adapter), else the
                      CPU; --encoder, --patch-rays and --align train on the CPU only
  --fidelity          when finished, re-track the final avatar's held-out renders with
                      FaceLandmarker (needs Chromium; docs/fidelity.md) and report mouth,
                      eyes and lip-opening distances in the final line
`;

function backendChoice(raw: string | undefined, from: string): TrainBackendChoice {
  const value = raw === undefined || raw === '' ? 'auto' : raw;
  if ((TRAIN_BACKEND_CHOICES as readonly string[]).includes(value)) return value as TrainBackendChoice;
  throw new CliInputError(`${from} must be auto, cpu or gpu, got '${raw}'`);
}

/** Held-out frames spread over the held-out seconds that each snapshot scores (besides the middle one). */
const SNAPSHOT_FRAMES = 8;

/** The shared presets plus `fast` (FAST_CONFIG: 32-wide density/colour heads for live speed). */
export const TRAIN_PRESETS: Readonly<Record<string, AvatarConfig>> = { ...MODEL_PRESETS, fast: FAST_CONFIG };

/** Dataset identity stored in checkpoints: the source video, its range and frame count. */
function datasetId(ds: RealDataset): string {
  const s = ds.meta.source;
  return `${s.sha256}:${s.startSec}:${ds.meta.frameCount}`;
}

export async function train(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      out: { type: 'string' }, minutes: { type: 'string' }, res: { type: 'string' }, resume: { type: 'boolean' }, force: { type: 'boolean' },
      model: { type: 'string' }, rays: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' },
      'report-every': { type: 'string' }, 'snapshot-every': { type: 'string' }, 'checkpoint-every': { type: 'string' }, steps: { type: 'string' }, 'cpu-seconds': { type: 'string' },
      'face-rays': { type: 'string' }, 'head-rays': { type: 'string' }, 'patch-rays': { type: 'string' }, 'patch-size': { type: 'string' },
      ssim: { type: 'string' }, align: { type: 'string' }, distortion: { type: 'string' }, 'white-background': { type: 'boolean' }, encoder: { type: 'boolean' },
      backend: { type: 'string' }, fidelity: { type: 'boolean' }, 'lr-tail': { type: 'string' },
    },
  });
  if (values.help) { process.stdout.write(TRAIN_USAGE); return; }
  if (positionals.length !== 1 || !values.out) throw new CliInputError(`train needs one dataset and --out <file>\n\n${TRAIN_USAGE}`);
  const out = values.out, ckptPath = `${out}.ckpt`;
  const maxSteps = numberOption('steps', values.steps, 1, 1e9);
  if (maxSteps !== undefined && !Number.isInteger(maxSteps)) throw new CliInputError(`--steps must be an integer, got ${maxSteps}`);
  const cpuSeconds = numberOption('cpu-seconds', values['cpu-seconds'], 1, 1e7);
  const minutes = numberOption('minutes', values.minutes, 0.01, 24 * 60) ?? (maxSteps !== undefined || cpuSeconds !== undefined ? 24 * 60 : 10);
  const res = numberOption('res', values.res, 16, 1024) ?? 256;
  if (!Number.isInteger(res)) throw new CliInputError(`--res must be an integer, got ${res}`);
  const preset = TRAIN_PRESETS[values.model ?? 'default'];
  if (!preset) throw new CliInputError(`--model must be one of ${Object.keys(TRAIN_PRESETS).join(', ')}, got '${values.model}'`);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new CliInputError(`folder of --out ${out} does not exist`);
  const seed = numberOption('seed', values.seed, 0, 2 ** 32 - 1) ?? 1;
  const reportEverySec = numberOption('report-every', values['report-every'], 1, 3600);
  const snapshotEverySec = numberOption('snapshot-every', values['snapshot-every'], 5, 24 * 3600);
  const lrTail: LearningRateTail = { ...DEFAULT_LR_TAIL, share: numberOption('lr-tail', values['lr-tail'], 0, 1) ?? DEFAULT_LR_TAIL.share };
  const checkpointEveryMs = (numberOption('checkpoint-every', values['checkpoint-every'], 1, 24 * 3600) ?? 60) * 1000;
  if (values.resume && !existsSync(ckptPath)) throw new CliInputError(`--resume: no checkpoint at ${ckptPath}`);
  if (!values.resume && !values.force && existsSync(out)) throw new CliInputError(`${out} exists (use --resume to continue training it, --force to start over)`);
  const backend = values.backend !== undefined ? backendChoice(values.backend, '--backend') : backendChoice(process.env.VOXFACE_TRAIN_BACKEND, 'VOXFACE_TRAIN_BACKEND');

  const bar = new ProgressBar();
  const ds = await readDataset(positionals[0]!, preset, { res, onProgress: (d, t) => bar.update('load', d, t) });
  bar.end();
  if (ds.train.length === 0 || ds.test.length === 0) throw new CliInputError(`${ds.dir}: needs train and test frames (has ${ds.train.length} and ${ds.test.length})`);

  let model: AvatarModel, run: CheckpointRun;
  const ckpt = values.resume ? (() => {
    try { return readCheckpoint(ckptPath); } catch (e) { throw new CliInputError(`${ckptPath}: ${e instanceof Error ? e.message : String(e)}`); }
  })() : undefined;
  if (ckpt) {
    if (ckpt.run.datasetSha256 !== datasetId(ds)) throw new CliInputError(`${ckptPath} was trained on another dataset`);
    if (ckpt.run.res !== res) throw new CliInputError(`${ckptPath} was trained at --res ${ckpt.run.res}, not ${res}`);
    if (!!values.encoder !== !!ckpt.encoder) throw new CliInputError(`${ckptPath} was trained ${ckpt.encoder ? 'with' : 'without'} --encoder`);
    model = ckpt.model;
    run = ckpt.run;
  } else {
    // The camera comes from the dataset (PoseMapping); expression names are stored explicitly
    // so live driving never depends on a default.
    const config = { ...preset, camera: ds.camera, expressionNames: expressionNamesOf(preset) };
    model = AvatarModel.create(config, seed);
    run = { datasetSha256: datasetId(ds), res, elapsedMs: 0, history: [] };
  }
  const encoder = ckpt ? ckpt.encoder : values.encoder ? await encoderForDataset(ds, model.config.expressionCount, seed) : undefined;
  const trainer = await openStepTrainer(backend, model, ds.train, {
    ...(encoder ? { encoder } : {}),
    width: res, height: res, raysPerStep: numberOption('rays', values.rays, 64) ?? DEFAULT_RAYS_PER_STEP, seed,
    faceRayShare: numberOption('face-rays', values['face-rays'], 0, 1), headRayShare: numberOption('head-rays', values['head-rays'], 0, 1),
    patchRayShare: numberOption('patch-rays', values['patch-rays'], 0, 1), patchSize: numberOption('patch-size', values['patch-size'], 2, 32),
    ssimWeight: numberOption('ssim', values.ssim, 0, 1), alignRate: numberOption('align', values.align, 0, 1),
    distortionWeight: numberOption('distortion', values.distortion, 0, 1),
    randomBackground: !values['white-background'],
  }, { allowSoftware: process.env.VOXFACE_GPU_ALLOW_SOFTWARE === '1' }).catch((error: unknown) => {
    throw error instanceof RangeError ? new CliInputError(error.message) : error;
  });
  process.stderr.write(`voxface train: on the ${trainer.backend.toUpperCase()} (${trainer.reason})\n`);
  if (ckpt) trainer.importState(ckpt.state);
  const firstStep = trainer.stepCount;
  // Restarted when training starts (loading and the baselines are not counted).
  const bounds = new RunBounds({ minutes, ...(maxSteps !== undefined ? { steps: maxSteps } : {}), ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) },
    { elapsedMs: run.elapsedMs, steps: firstStep });

  const validation = ds.test[Math.floor(ds.test.length / 2)]!;
  // The snapshot quality measure: the middle held-out frame and up to 8 more spread over the
  // held-out seconds, rendered by the fused inference form (REALTIME: what calls use but for
  // LIVE's ray count; ~50x cheaper than the exact model, ~30 ms a frame at 256 px, so
  // snapshots cost little training time). Three frames (middle, first, last) were too few: on
  // woman-expressions they were near-neutral, and the mean image scored 22.7 dB in their
  // faces against 17.3 over all 152 held-out frames.
  const heldOut = [validation, ...evenlySpaced(ds.test.length, SNAPSHOT_FRAMES).map((i) => ds.test[i]!)].filter((f, i, a) => a.indexOf(f) === i);
  const mean = meanImage(ds.train.map((t) => t.image));
  const baseline = baselineQuality(heldOut, mean, res);
  // A fresh renderer each time: it derives per-model state (occupancy) from the weights.
  const liveRender = async (frames: readonly (typeof validation)[]) => {
    await trainer.syncModel();
    const renderer = new StreamingRenderer(model, { width: res, height: res, ...REALTIME, occupancySlices: 1 });
    return frames.map((f) => rgbaToRgb(renderer.render(trainer.coefficientsOf(f), f.pose)));
  };
  const snapshot = async (images?: Float32Array[]) => {
    images ??= await liveRender(heldOut);
    writeRgbStrip(`${out}.preview.png`, [images![0]!, validation.image], res, res);
    return heldOutQuality(heldOut, images, res);
  };
  const history = [...run.history];
  const reportMs = reportEverySec !== undefined ? reportEverySec * 1000 : Math.min(60_000, Math.max(5_000, bounds.budgetMs / 10));
  bounds.start();
  const t0 = bounds.startedAt;
  /** The whole run's milliseconds (with a resumed checkpoint's), as the checkpoint records them. */
  const runMs = (now = performance.now()) => bounds.before.elapsedMs + bounds.elapsedMs(now);
  const lrScale = () => learningRateScale(bounds.tailProgress(trainer.stepCount), lrTail);
  let stop = false, lastCkpt = t0, loss = 0, se = 0, count = 0, lastLrScale = 1;
  const interrupt = () => { stop = true; };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const save = async () => {
    run = { ...run, elapsedMs: runMs(), history };
    const state = await trainer.exportState();
    writeCheckpoint(ckptPath, await trainer.syncModel(), state, run, encoder);
  };
  try {
    let nextReport = t0 + reportMs, nextSnapshot = t0 + (snapshotEverySec ?? Infinity) * 1000;
    while (!stop && !bounds.done(trainer.stepCount)) {
      // Steps in slices of ~1 s, yielding between them so signals are seen.
      const sliceEnd = Math.min(performance.now() + 1000, bounds.endsAt);
      while (performance.now() < sliceEnd && !bounds.workDone(trainer.stepCount)) {
        lastLrScale = lrScale();
        const s = await trainer.step({ lrScale: lastLrScale });
        if (s.loss !== undefined && s.mse !== undefined) { loss += s.loss; se += s.mse; count++; }
      }
      const now = performance.now();
      bar.update('train', ...bounds.barProgress(trainer.stepCount, now));
      const reportDue = now >= nextReport || bounds.done(trainer.stepCount, now);
      const snapshotDue = snapshotEverySec !== undefined && now >= nextSnapshot && !bounds.timeUp(now);
      // When both fall due together, one render of the held-out frames serves both (the validation frame is the first).
      const images = snapshotDue ? await liveRender(heldOut) : reportDue ? await liveRender([validation]) : [];
      if (reportDue) {
        if (count === 0) {
          // No step since the last report measured its loss (the GPU reads it back every 10 steps): read the last one's.
          const last = await trainer.lastStepStats();
          if (last.loss !== undefined && last.mse !== undefined) { loss = last.loss; se = last.mse; count = 1; }
        }
        const p = {
          step: trainer.stepCount, loss: round(loss / Math.max(count, 1), 5), psnr: round(psnr(images[0]!, validation.image), 2),
          trainPsnr: round(psnrFromMse(se / Math.max(count, 1)), 2), elapsedMs: Math.round(runMs(now)), lrScale: round(lastLrScale, 4),
        };
        history.push(p);
        process.stdout.write(`${JSON.stringify(p)}\n`);
        loss = se = count = 0;
        nextReport = now + reportMs;
      }
      if (snapshotDue) {
        const measured = await snapshot(images);
        writeAvatarFile(`${out}.snapshot.vxa`, model, { plates: datasetPlates(ds), encoder });
        process.stdout.write(`${JSON.stringify({
          snapshot: `${out}.snapshot.vxa`, preview: `${out}.preview.png`, step: trainer.stepCount, ...measured, ...baseline,
          elapsedMs: Math.round(runMs()),
        })}\n`);
        nextSnapshot = performance.now() + snapshotEverySec * 1000;
      }
      if (now - lastCkpt > checkpointEveryMs) { await save(); lastCkpt = performance.now(); }
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    bar.end();
  }
  const trainMs = bounds.elapsedMs(), cpuMs = bounds.cpuSpent() * 1000;
  await save();
  writeAvatarFile(out, model, { plates: datasetPlates(ds), encoder });
  const measured = await snapshot();
  writeTrainingCurves(`${out}.curves.png`, history.map((h) => ({ elapsedMs: h.elapsedMs, loss: h.loss, psnr: h.trainPsnr ?? h.psnr, validationPsnr: h.psnr })));
  const picks = [0, 1, 2, 3].map((i) => ds.test[Math.floor((i * ds.test.length) / 4)]!).filter((f, i, a) => a.indexOf(f) === i);
  const strip = picks.flatMap((f) => [rgbaToRgb(render(model, trainer.coefficientsOf(f), f.pose, { width: res, height: res })), f.image]);
  writeRgbStrip(`${out}.heldout.png`, strip, res, res);
  trainer.close();
  const fidelity = values.fidelity && !stop ? await trainedFidelity(model, encoder ?? null, ds, res, bar) : {};
  process.stdout.write(`${JSON.stringify({
    done: true, backend: trainer.backend, step: trainer.stepCount, msPerStep: round(trainMs / Math.max(1, trainer.stepCount - firstStep), 1),
    cpuMsPerStep: round(cpuMs / Math.max(1, trainer.stepCount - firstStep), 1), psnr: history.at(-1)?.psnr ?? null, ...measured, ...baseline, elapsedMs: Math.round(run.elapsedMs),
    avatar: out, checkpoint: ckptPath, curves: `${out}.curves.png`, heldout: `${out}.heldout.png`, preview: `${out}.preview.png`, interrupted: stop,
    ...fidelity,
  })}\n`);
  if (stop) process.exitCode = 130;
}
