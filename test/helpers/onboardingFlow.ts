/**
 * The train-on-join path as a user takes it, for the end-to-end test and the
 * benchmark: a server configured for onboarding, the capture page recording a
 * shared clip (the fake camera), and probes of the page's `window.voxfaceOnboarding`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { VoxfaceConfig } from '../../server/config';
import { DEFAULT_ONBOARDING_LIMITS } from '../../server/onboarding/OnboardingService';
import type { TrainingOptions } from '../../server/onboarding/TrainingJobTypes';
import type { JobFidelity } from '../../shared/onboarding/TrainingJobTypes';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { startTestServer } from './testServer';

export interface OnboardingServerOptions {
  training: TrainingOptions;
  usablePsnr: number;
  usableMarginDb: number;
  usableFaceSsimMargin: number;
  snapshotSeconds: number;
  minFaceFrames: number;
  /** Reuse a previous server's port, secret and folders (a restart; read them before closing it). */
  previous?: { config: VoxfaceConfig; port: number };
}

/** A server whose avatar folder (and so its onboarding data) outlives it, so a restart finds its jobs. */
export function startOnboardingServer(o: OnboardingServerOptions, extra: Partial<VoxfaceConfig> = {}): Promise<VoxfaceServer> {
  const same = o.previous?.config;
  return startTestServer({
    avatarDir: same?.avatarDir ?? mkdtempSync(join(tmpdir(), 'voxface-onboarding-e2e-')),
    port: o.previous?.port ?? 0,
    ...(same ? { tokenSecret: same.tokenSecret } : {}),
    onboardingTraining: o.training,
    onboardingUsablePsnr: o.usablePsnr,
    onboardingUsableMarginDb: o.usableMarginDb,
    onboardingUsableFaceSsimMargin: o.usableFaceSsimMargin,
    onboardingSnapshotSeconds: o.snapshotSeconds,
    onboardingLimits: { ...DEFAULT_ONBOARDING_LIMITS, minFaceFrames: o.minFaceFrames },
    ...extra,
  });
}

export interface OnboardingProbe {
  state: string;
  framesCaptured: number;
  framesWithFace: number;
  framesUploaded: number;
  avatarId: string | null;
  jobId: string | null;
  joinUrl: string | null;
  error: string | null;
  previews: number;
  progressVia: string | null;
  job: {
    state: string; usable?: boolean; installedPsnr?: number | null; installs?: number; fidelity?: JobFidelity;
    progress: { stage: string; step: number; elapsedMs: number; etaMs: number; psnr: number | null };
  } | null;
}

/** The page's state (string code: tsx-compiled helpers do not survive page.evaluate). */
export function onboardingProbe(page: Page): Promise<OnboardingProbe> {
  return page.evaluate(`(() => {
    const s = window.voxfaceOnboarding;
    return s ? {
      state: s.state, framesCaptured: s.framesCaptured, framesWithFace: s.framesWithFace, framesUploaded: s.framesUploaded,
      avatarId: s.avatarId, jobId: s.jobId, joinUrl: s.joinUrl, error: s.error, previews: s.previews, progressVia: s.progressVia,
      job: s.job ? JSON.parse(JSON.stringify(s.job)) : null,
    } : { state: 'not-loaded' };
  })()`) as Promise<OnboardingProbe>;
}

/** Polls the page until `done` holds; a 'failed' page ends the wait with its error. */
export async function waitForOnboarding(page: Page, done: (p: OnboardingProbe) => boolean, timeoutMs: number, what: string): Promise<OnboardingProbe> {
  const deadline = Date.now() + timeoutMs;
  let last: OnboardingProbe | undefined;
  while (Date.now() < deadline) {
    last = await onboardingProbe(page);
    if (done(last)) return last;
    if (last.state === 'failed') throw new Error(`onboarding failed while waiting for ${what}: ${last.error}`);
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
}
