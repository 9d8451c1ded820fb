// Issue 16's comparison: does the expression encoder drive the mouth better than the
// blendshapes? For each shared clip: `voxface prepare`, then two avatars trained with the
// same budget, seed, resolution and model, one with `--encoder` and one without, each
// scored by `voxface eval --video --fidelity` (the live path in the call's framing; the
// encoder avatar driven by int8 codes as a call drives it). Per clip: mouth, eyes and face
// landmark distance (px at 512 px), lip-opening error and face-region PSNR of both, and the
// encoder's mouth distance as a ratio of the blendshape avatar's from the same run. The
// final JSON line gives the decision rule: the encoder becomes the default only if it lowers
// mouth distance by at least 15% on at least five of the six clips without losing face
// PSNR (a loss under 0.1 dB is read as none; every figure is printed either way).
//
//   npm run bench:encoder -- [--clips a,b] [--cpu-seconds N] [--work DIR] [--reuse]
//
// --cpu-seconds (default 240) budgets each training run's process CPU time: fair between
// the two runs on a shared machine. --reuse keeps datasets and avatars already in --work.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../server/config';
import { SHARED_DATA } from '../helpers/sharedData';
import { printResult, progress, round, runBench } from './benchUtil';
import { lastJson, voxface } from './voxfaceCli';

interface Fidelity { mouthPx: number; eyesPx: number; facePx: number; lipOpeningPx: number; comparedFrames: number }
interface EvalLine {
  driver: 'encoder' | 'blendshapes';
  model: { psnr: number; face: { psnr: number; ssim: number; sharpness: number } };
  fidelity: { model: Fidelity; nearestFrame: Fidelity };
}

const mean = (xs: number[]) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 3) : null);
const MOUTH_GAIN = 0.15, CLIPS_NEEDED = 5, FACE_PSNR_TOLERANCE_DB = 0.1;

runBench(async () => {
  const { values } = parseArgs({ options: {
    clips: { type: 'string' }, 'cpu-seconds': { type: 'string' }, work: { type: 'string' }, reuse: { type: 'boolean' },
  } });
  const videos = join(SHARED_DATA, 'videos');
  const all = readdirSync(videos).filter((f) => f.endsWith('.mp4')).sort();
  const clips = values.clips ? values.clips.split(',').map((c) => all.find((f) => f.startsWith(c)) ?? c) : all;
  const cpuSeconds = Number(values['cpu-seconds'] ?? 240);
  if (!(cpuSeconds > 0)) throw new Error(`--cpu-seconds must be > 0, got ${values['cpu-seconds']}`);
  const training = loadConfig().onboardingTraining;
  const work = resolve(values.work ?? '/tmp/voxface-encoder-bench');
  const env = { VOXFACE_FACE_MODEL: join(SHARED_DATA, 'models', 'face_landmarker.task'), VOXFACE_SEGMENTER_MODEL: join(SHARED_DATA, 'models', 'selfie_segmenter.tflite') };
  const rows: Record<string, unknown>[] = [];
  let wins = 0;
  for (const clip of clips) {
    const video = join(videos, clip), name = basename(clip, '.mp4'), dir = join(work, name), ds = join(dir, 'dataset');
    if (!existsSync(video)) throw new Error(`no clip ${clip} in ${videos}`);
    mkdirSync(dir, { recursive: true });
    if (!(values.reuse && existsSync(join(ds, 'dataset.json')))) {
      progress(`${name}: prepare`);
      await voxface(['prepare', video, '--out', ds, '--force'], env);
    }
    const scored: Partial<Record<'blendshapes' | 'encoder', EvalLine>> = {};
    for (const variant of ['blendshapes', 'encoder'] as const) {
      const avatar = join(dir, `${variant}.vxa`);
      if (!(values.reuse && existsSync(avatar))) {
        progress(`${name}: train (${variant}, ${cpuSeconds} CPU-s at ${training.res} px, ${training.model})`);
        await voxface(['train', ds, '--out', avatar, '--force', '--cpu-seconds', String(cpuSeconds), '--res', String(training.res),
          '--model', training.model, '--seed', '1', ...(variant === 'encoder' ? ['--encoder'] : [])], env);
      }
      progress(`${name}: eval (${variant})`);
      const r = lastJson<EvalLine>(await voxface(['eval', avatar, ds, '--video', video, '--fidelity'], env));
      if (r.driver !== variant) throw new Error(`${avatar}: eval drove it by ${r.driver}, expected ${variant}`);
      scored[variant] = r;
    }
    const b = scored.blendshapes!, e = scored.encoder!;
    const mouthRatio = e.fidelity.model.mouthPx / b.fidelity.model.mouthPx;
    const faceDeltaDb = e.model.face.psnr - b.model.face.psnr;
    const win = mouthRatio <= 1 - MOUTH_GAIN && faceDeltaDb >= -FACE_PSNR_TOLERANCE_DB;
    if (win) wins++;
    const side = (r: EvalLine) => ({ ...r.fidelity.model, facePsnr: r.model.face.psnr, faceSsim: r.model.face.ssim, faceSharpness: r.model.face.sharpness });
    const row = {
      clip: name, blendshapes: side(b), encoder: side(e), nearestFrameMouthPx: b.fidelity.nearestFrame.mouthPx,
      mouthRatio: round(mouthRatio, 3), faceDeltaDb: round(faceDeltaDb, 2), encoderWins: win,
    };
    progress(JSON.stringify(row));
    rows.push(row);
  }
  printResult({
    bench: 'encoder', cpuSeconds, res: training.res, model: training.model, clips: rows,
    rule: `mouth distance at most ${1 - MOUTH_GAIN} of the blendshapes' and face PSNR within ${FACE_PSNR_TOLERANCE_DB} dB, on ${CLIPS_NEEDED} of 6 clips`,
    encoderWins: wins, encoderBecomesDefault: clips.length === all.length && wins >= CLIPS_NEEDED,
    // Over the clips where both avatars' renders were re-tracked (an untrained avatar may show no face).
    meanMouthRatio: mean(rows.map((r) => r.mouthRatio as number).filter(Number.isFinite)),
  });
});
