// The picture benchmark: what a receiver sees, per shared clip. For each clip: `voxface
// prepare`, `voxface train` with the product's onboarding settings (server/config.ts:
// budget, resolution, model), then `voxface eval --video` (the live path, in the call's
// framing, against the video's own held-out frames). Prints per clip the face (inside
// MediaPipe's face oval), person and frame PSNR/SSIM, the face sharpness ratio, and the
// nearest-training-frame baseline measured in the same run (faceVsNearestDb: the avatar's
// face PSNR minus the baseline's), then one final JSON line.
//
//   npm run bench:picture -- [--clips a,b] [--minutes N | --cpu-seconds N] [--work DIR] [--stills DIR] [--reuse]
//
// --minutes overrides the onboarding budget (10 min: the whole run is then about 70 min on
// 2 cores); --cpu-seconds budgets the trainer's CPU time instead (fair on a shared machine); --reuse keeps datasets and avatars already in --work; --stills copies each
// clip's strip (original | avatar, six held-out frames) into DIR/<clip>.png for the docs.
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../server/config';
import { SHARED_DATA } from '../helpers/sharedData';
import { printResult, progress, round, runBench } from './benchUtil';
import { lastJson, voxface as run } from './voxfaceCli';

interface EvalLine {
  model: Scores; nearestFrame: Scores; meanImage: Scores; frames: number; framing?: string;
}
interface Scores { psnr: number; ssim: number; face: { psnr: number; ssim: number; sharpness: number }; person: { psnr: number; ssim: number } }

runBench(async () => {
  const { values } = parseArgs({ options: {
    clips: { type: 'string' }, minutes: { type: 'string' }, 'cpu-seconds': { type: 'string' }, work: { type: 'string' }, stills: { type: 'string' }, reuse: { type: 'boolean' },
  } });
  const videos = join(SHARED_DATA, 'videos');
  const all = readdirSync(videos).filter((f) => f.endsWith('.mp4')).sort();
  const clips = values.clips ? values.clips.split(',').map((c) => all.find((f) => f.startsWith(c)) ?? c) : all;
  const training = loadConfig().onboardingTraining;
  const minutes = values.minutes ? Number(values.minutes) : training.minutes;
  if (!(minutes > 0)) throw new Error(`--minutes must be > 0, got ${values.minutes}`);
  const work = resolve(values.work ?? '/tmp/voxface-picture');
  const env = { VOXFACE_FACE_MODEL: join(SHARED_DATA, 'models', 'face_landmarker.task'), VOXFACE_SEGMENTER_MODEL: join(SHARED_DATA, 'models', 'selfie_segmenter.tflite') };
  const perClip: Record<string, unknown>[] = [];
  for (const clip of clips) {
    const video = join(videos, clip), name = basename(clip, '.mp4'), dir = join(work, name), ds = join(dir, 'dataset'), avatar = join(dir, 'avatar.vxa');
    if (!existsSync(video)) throw new Error(`no clip ${clip} in ${videos}`);
    mkdirSync(dir, { recursive: true });
    if (!(values.reuse && existsSync(join(ds, 'dataset.json')))) {
      progress(`${name}: prepare`);
      await run(['prepare', video, '--out', ds, '--force'], env);
    }
    if (!(values.reuse && existsSync(avatar))) {
      const budget = values['cpu-seconds'] ? ['--cpu-seconds', values['cpu-seconds']] : ['--minutes', String(minutes)];
      progress(`${name}: train ${budget.join(' ')} at ${training.res} px (${training.model})`);
      await run(['train', ds, '--out', avatar, '--force', ...budget, '--res', String(training.res), '--model', training.model]);
    }
    progress(`${name}: eval`);
    const r = lastJson<EvalLine>(await run(['eval', avatar, ds, '--video', video, '--out', join(dir, 'eval')]));
    if (values.stills) { mkdirSync(values.stills, { recursive: true }); copyFileSync(join(dir, 'eval', 'strip.png'), join(values.stills, `${name}.png`)); }
    const row = {
      clip: name, frames: r.frames, framing: r.framing,
      face: r.model.face, person: r.model.person, frame: { psnr: r.model.psnr, ssim: r.model.ssim },
      nearestFace: r.nearestFrame.face, faceVsNearestDb: round(r.model.face.psnr - r.nearestFrame.face.psnr, 2),
    };
    progress(JSON.stringify(row));
    perClip.push(row);
  }
  const mean = (f: (r: Record<string, unknown>) => number) => round(perClip.reduce((s, r) => s + f(r), 0) / perClip.length, 3);
  printResult({
    bench: 'picture', minutes: values['cpu-seconds'] ? undefined : minutes, cpuSeconds: values['cpu-seconds'] ? Number(values['cpu-seconds']) : undefined, res: training.res, model: training.model, clips: perClip,
    meanFacePsnr: mean((r) => (r.face as Scores['face']).psnr), meanFaceSharpness: mean((r) => (r.face as Scores['face']).sharpness),
    meanFaceVsNearestDb: mean((r) => r.faceVsNearestDb as number),
  });
});
