// The CLI's Node flags (server/cli/nodeFlags.ts) against Node's defaults on training steps:
// `voxface train` resumed from the same warmed-up checkpoint (so steps cost what they cost
// mid-onboarding, not the first steps' full-box marches) for the same number of steps with
// CLI_NODE_FLAGS and with none, interleaved. Per run: the trainer's own CPU ms and wall ms a
// step (its final line); the ratios flagged / default of their means; and whether both
// computed the same thing (final batch PSNR and held-out PSNR equal).
//
//   npm run bench:train-step -- [--clip <prefix>] [--steps N] [--runs R] [--work DIR] [--reuse]
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI_NODE_FLAGS } from '../../server/cli/nodeFlags';
import { loadConfig } from '../../server/config';
import { SHARED_DATA } from '../helpers/sharedData';
import { printResult, progress, round, runBench } from './benchUtil';
import { lastJson, voxface } from './voxfaceCli';

interface Done { step: number; msPerStep: number; cpuMsPerStep: number; psnr: number; heldOutPsnr: number }
const WARM_UP_STEPS = 300;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

runBench(async () => {
  const { values } = parseArgs({ options: {
    clip: { type: 'string' }, steps: { type: 'string' }, runs: { type: 'string' }, work: { type: 'string' }, reuse: { type: 'boolean' },
  } });
  const videos = join(SHARED_DATA, 'videos');
  const prefix = values.clip ?? 'man-glasses-pinkwall';
  const clip = readdirSync(videos).find((f) => f.startsWith(prefix) && f.endsWith('.mp4'));
  if (!clip) throw new Error(`no clip starting '${prefix}' in ${videos}`);
  const steps = Number(values.steps ?? 150), runs = Number(values.runs ?? 2);
  if (!(Number.isInteger(steps) && steps >= 10)) throw new Error(`--steps must be an integer >= 10, got ${values.steps}`);
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= 10)) throw new Error(`--runs must be an integer in 1..10, got ${values.runs}`);
  const { res, model } = loadConfig().onboardingTraining;
  const work = resolve(values.work ?? '/tmp/voxface-train-step-bench'), ds = join(work, 'dataset'), warm = join(work, 'warm.vxa');
  const env = { VOXFACE_FACE_MODEL: join(SHARED_DATA, 'models', 'face_landmarker.task'), VOXFACE_SEGMENTER_MODEL: join(SHARED_DATA, 'models', 'selfie_segmenter.tflite') };
  mkdirSync(work, { recursive: true });
  if (!(values.reuse && existsSync(join(ds, 'dataset.json')))) {
    progress(`prepare ${clip}`);
    await voxface(['prepare', join(videos, clip), '--out', ds, '--force'], env);
  }
  const common = ['--res', String(res), '--model', model, '--report-every', '60'];
  if (!(values.reuse && existsSync(`${warm}.ckpt`))) {
    progress(`warm-up: ${WARM_UP_STEPS} steps`);
    await voxface(['train', ds, '--out', warm, '--force', '--steps', String(WARM_UP_STEPS), ...common], env);
  }
  const rows: (Done & { flags: string })[] = [];
  for (let r = 0; r < runs; r++) {
    for (const flags of [[], CLI_NODE_FLAGS]) {
      const name = flags.length ? 'flags' : 'default', out = join(work, `${name}-${r}.vxa`);
      copyFileSync(warm, out);
      copyFileSync(`${warm}.ckpt`, `${out}.ckpt`);
      progress(`run ${r + 1}/${runs}, Node ${flags.length ? flags.join(' ') : 'defaults'}: ${steps} steps`);
      const done = lastJson<Done>(await voxface(['train', ds, '--out', out, '--resume', '--steps', String(steps), ...common], env, flags));
      rows.push({ flags: flags.join(' ') || '(none)', step: done.step, msPerStep: done.msPerStep, cpuMsPerStep: done.cpuMsPerStep, psnr: done.psnr, heldOutPsnr: done.heldOutPsnr });
    }
  }
  const flagged = rows.filter((x) => x.flags !== '(none)'), plain = rows.filter((x) => x.flags === '(none)');
  printResult({
    bench: 'train-step', clip, res, model, warmUpSteps: WARM_UP_STEPS, steps, runs: rows,
    cpuMsPerStep: { default: round(mean(plain.map((x) => x.cpuMsPerStep))), flags: round(mean(flagged.map((x) => x.cpuMsPerStep))) },
    cpuRatio: round(mean(flagged.map((x) => x.cpuMsPerStep)) / mean(plain.map((x) => x.cpuMsPerStep)), 3),
    wallRatio: round(mean(flagged.map((x) => x.msPerStep)) / mean(plain.map((x) => x.msPerStep)), 3),
    sameResult: rows.every((x) => x.psnr === rows[0]!.psnr && x.heldOutPsnr === rows[0]!.heldOutPsnr),
  });
});
