/**
 * `npm run bench:onboarding`: a newcomer's whole path on this machine, with the
 * product's onboarding settings unless overridden: the capture page records a
 * shared clip (the fake camera) for SECONDS (30), uploads as it records, the
 * server builds the dataset and trains for MINUTES (the product default, 10).
 * Prints seconds from the end of recording to a usable avatar and to the final
 * one, with the held-out PSNR (and face SSIM) of each, and the baseline measured in
 * the same run: the mean training image's PSNR and face SSIM on the same held-out
 * frames (the quality a featureless average face gets), and the thresholds "usable"
 * read (server/onboarding/snapshotVerdict.ts). CLIP (womanExpressions), RES, MODEL override.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config';
import { launchChromium, openPage } from '../helpers/browser';
import { onboardingProbe, startOnboardingServer, type OnboardingProbe } from '../helpers/onboardingFlow';
import { CLIPS, clipToY4m } from '../helpers/sharedData';
import { printResult, progress, round, runBench } from './benchUtil';

const defaults = loadConfig({});
const SECONDS = Number(process.env.SECONDS ?? 30);
const MINUTES = Number(process.env.MINUTES ?? defaults.onboardingTraining.minutes);
const RES = Number(process.env.RES ?? defaults.onboardingTraining.res);
const MODEL = (process.env.MODEL ?? defaults.onboardingTraining.model) as 'fast' | 'default' | 'small';
const CLIP = (process.env.CLIP ?? 'womanExpressions') as keyof typeof CLIPS;

runBench(async () => {
  if (!(CLIP in CLIPS)) throw new Error(`CLIP must be one of ${Object.keys(CLIPS).join(', ')}`);
  const server = await startOnboardingServer({
    training: { minutes: MINUTES, res: RES, model: MODEL },
    usablePsnr: defaults.onboardingUsablePsnr,
    usableMarginDb: defaults.onboardingUsableMarginDb,
    usableFaceSsimMargin: defaults.onboardingUsableFaceSsimMargin,
    snapshotSeconds: defaults.onboardingSnapshotSeconds,
    minFaceFrames: defaults.onboardingLimits.minFaceFrames,
  });
  // The first usable version's preview (render | ground truth of a held-out frame), kept to look at:
  // the queue emits a snapshot's preview after installing it.
  const pictures = join(tmpdir(), 'voxface-bench-onboarding');
  let usablePreview: string | null = null;
  server.trainingQueue.on('preview', ({ job, png }) => {
    if (usablePreview || !job.usable) return;
    mkdirSync(pictures, { recursive: true });
    usablePreview = join(pictures, `usable-${CLIP}.png`);
    writeFileSync(usablePreview, png);
  });
  const browser = await launchChromium({ fakeVideoFile: clipToY4m(CLIP, { width: 640, fps: 30, seconds: Math.min(SECONDS + 5, 40) }) });
  try {
    const { page } = await openPage(browser, `${server.url}/onboard.html?room=bench&seconds=${SECONDS}&autostart=1`);
    const marks = new Map<string, number>();
    let last: OnboardingProbe | undefined, usable: OnboardingProbe | undefined, usableFaceSsim: number | null = null;
    const deadline = Date.now() + (SECONDS + 120 + MINUTES * 60 * 1.5) * 1000;
    while (Date.now() < deadline) {
      const p = await onboardingProbe(page);
      if (!marks.has(p.state)) {
        marks.set(p.state, Date.now());
        progress(`${new Date().toISOString().slice(11, 19)} ${p.state} (${p.framesCaptured} frames captured, ${p.framesUploaded} uploaded)`);
      }
      if (p.job?.usable && !usable) {
        usable = p;
        marks.set('usable-job', Date.now());
        // The snapshot just installed is the job's last measured one.
        usableFaceSsim = server.trainingQueue.get(p.jobId!)?.faceSsim ?? null;
        progress(`usable: held-out ${p.job.installedPsnr} dB after ${round(p.job.progress.elapsedMs / 1000)} s of training`);
      }
      if (p.state === 'failed') throw new Error(`onboarding failed: ${p.error}`);
      last = p;
      if (p.job?.state === 'done') break;
      await page.waitForTimeout(250);
    }
    if (last?.job?.state !== 'done') throw new Error(`training did not finish in time: ${JSON.stringify(last)}`);
    const recordingEnd = marks.get('uploading') ?? marks.get('finishing') ?? marks.get('training')!;
    const job = server.trainingQueue.get(last.jobId!)!;
    const usableAt = marks.get('usable-job');
    printResult({
      bench: 'onboarding', clip: CLIP, recordSeconds: SECONDS, trainMinutes: MINUTES, res: RES, model: MODEL,
      framesCaptured: last.framesCaptured, framesWithFace: last.framesWithFace,
      uploadAndDatasetSeconds: round(((marks.get('training') ?? recordingEnd) - recordingEnd) / 1000),
      secondsToUsable: usableAt ? round((usableAt - recordingEnd) / 1000) : null,
      usablePsnr: usable?.job?.installedPsnr ?? null,
      usableFaceSsim,
      usablePreview,
      secondsToFinal: round((Date.now() - recordingEnd) / 1000),
      finalPsnr: job.installedPsnr,
      threshold: job.usablePsnr,
      faceSsimThreshold: job.usableFaceSsim ?? null,
      baselineMeanImagePsnr: job.baselinePsnr,
      baselineMeanImageFaceSsim: job.baselineFaceSsim ?? null,
      lastSnapshotFaceSsim: job.faceSsim ?? null,
      finalVsBaselineDb: job.installedPsnr !== null && job.baselinePsnr !== null ? round(job.installedPsnr - job.baselinePsnr, 2) : null,
      installs: job.installs,
      previews: last.previews,
      // Each snapshot's held-out PSNR and face SSIM, to judge the usable rule by.
      snapshots: job.quality.map((q) => [round(q.elapsedMs / 1000), q.psnr, q.faceSsim ?? null]),
    });
  } finally {
    await browser.close();
    await server.close();
    rmSync(server.config.avatarDir, { recursive: true, force: true });
  }
});
