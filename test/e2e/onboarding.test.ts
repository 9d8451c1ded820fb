/**
 * Train-on-join, end to end, in headless Chromium with a shared clip as the camera:
 * the capture page records and uploads, the server builds the dataset and trains
 * (a short budget at 64 px), the server is restarted during training and the job
 * resumes from its checkpoint, the avatar becomes usable, the page's join link
 * joins the room as that avatar, and a second page decodes the avatar's video.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { loadDataset } from '../../server/dataset/loadDataset';
import { checkpointElapsedMs } from '../../server/onboarding/TrainerProcess';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { launchChromium, openPage } from '../helpers/browser';
import { onboardingProbe, startOnboardingServer, waitForOnboarding, type OnboardingServerOptions } from '../helpers/onboardingFlow';
import { inboundFigures, pollUntil } from '../helpers/pageProbes';
import { clipToY4m } from '../helpers/sharedData';

const OPTIONS: OnboardingServerOptions = {
  // Short but real: the fast model at 64 px, snapshots every 8 s. "Usable" = a face SSIM 0.1 over
  // the mean image's, with a PSNR at most 1 dB under the mean image's: the first usable version
  // comes while the held-out PSNR still climbs, so a better one follows. A CI run with the bar
  // at +0.5 dB and the face SSIM at the mean image's had its first usable version at the top of
  // the curve (12.3, 13.4, 16.8, then 18.5 dB usable at 40 s; the mean image 16.4 dB), then
  // 110 s of snapshots within 0.2 dB of it and none better: one install, and the test failed.
  // 2.5 minutes, not 1.5: a CI run on a slower CPU became usable so late in 1.5 that no better
  // version followed.
  training: { minutes: 2.5, res: 64, model: 'fast', fidelity: true },
  usablePsnr: 12,
  usableMarginDb: -1,
  usableFaceSsimMargin: 0.1,
  snapshotSeconds: 8,
  minFaceFrames: 40,
};
/**
 * The call's avatar at 10 fps, not 25 (and the page tracks its camera at 10 too): on 2
 * cores the two pages (one tracking its camera), the render process and the encoder left
 * the trainer (niceness 10) 9 steps in the 108 s after the first usable version of a CI
 * run, so no better version could follow; calls come first by design, and a server that
 * trains during calls has the cores for both.
 */
const CALL = { avatarFps: 10 };
const ROOM = 'onboarding';
let server: VoxfaceServer;
let browser: Browser;
let avatarDir: string;

before(async () => {
  server = await startOnboardingServer(OPTIONS, CALL);
  avatarDir = server.config.avatarDir;
  // KatieHill turns and nods: the mean image is a weak baseline, so "usable" means a real likeness.
  browser = await launchChromium({ fakeVideoFile: clipToY4m('womanHdtf', { width: 640, fps: 30, seconds: 9 }) });
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (avatarDir) rmSync(avatarDir, { recursive: true, force: true });
});

test('a newcomer records, trains through a server restart, and joins the call as the avatar others then see', async (t) => {
  // 16 s, not 12: with other work on the 2 cores the page tracked 30 frames in 12 s (40 needed).
  const onboard = await openPage(browser, `${server.url}/onboard.html?room=${ROOM}&seconds=16&fps=10&autostart=1`);
  // The page talks to our server only (MediaPipe's own telemetry posts are answered locally).
  // The origin is read once: the restarted server keeps the port, and while the server is
  // down for the restart, server.url has no address to read (a request the page made in that
  // gap threw from this listener, an uncaught exception that failed a CI run).
  const elsewhere: string[] = [];
  const origin = server.url;
  onboard.page.on('request', (r) => { if (!/^(blob|data):/.test(r.url()) && new URL(r.url()).origin !== origin) elsewhere.push(r.url()); });
  const recorded = await waitForOnboarding(onboard.page, (p) => ['training', 'usable', 'done'].includes(p.state), 90_000, 'recording and upload');
  t.diagnostic(`recorded ${recorded.framesCaptured} frames (${recorded.framesWithFace} with a face), uploaded ${recorded.framesUploaded}`);
  assert.ok(recorded.framesWithFace >= OPTIONS.minFaceFrames, JSON.stringify(recorded));
  assert.equal(recorded.framesUploaded, recorded.framesCaptured);
  const jobId = recorded.jobId!;
  assert.match(jobId, /^job-/);
  // The recording's plates: the page sent whole frames (one every 2 of the 160 due, up to 48) and finish estimated them.
  const plates = loadDataset(join(server.onboarding.datasetsDir, recorded.avatarId!)).meta.plates;
  t.diagnostic(`plates: ${JSON.stringify(plates && { width: plates.width, height: plates.height, samples: plates.samples })}`);
  // Whole frames at the camera's size, the long side at most 640 (the fake camera gives Chromium's portrait 480x640 here).
  assert.ok(plates && plates.samples >= 20 && Math.max(plates.width, plates.height) === 640 && plates.width * plates.height >= 480 * 480, `plates ${JSON.stringify(plates)}`);

  // Training has produced progress (and a checkpoint-worthy amount of work): restart the server.
  const training = await waitForOnboarding(onboard.page, (p) => p.job?.progress.stage === 'training' && p.job.progress.step > 0, 90_000, 'training progress');
  assert.equal(typeof training.job!.progress.psnr, 'number');
  const previous = { config: server.config, port: Number(new URL(server.url).port) };
  // While the server is down the page may fetch (a preview, its progress) and be refused: the
  // errors logged between the close and the page's reconnection are checked apart below.
  const errorsBeforeRestart = onboard.errors.length;
  await server.close();
  const saved = checkpointElapsedMs(join(avatarDir, '.onboarding', 'jobs', jobId, 'avatar.vxa.ckpt'));
  assert.ok(saved !== undefined && saved > 0, 'the stopped trainer saved its checkpoint');
  server = await startOnboardingServer({ ...OPTIONS, previous }, CALL);
  const resumed = server.trainingQueue.get(jobId)!;
  assert.equal(resumed.state, 'running');
  assert.equal(resumed.progress.elapsedMs, Math.round(saved!), 'the restarted server resumes the job from its checkpoint');

  // The page reconnects by itself and learns when the avatar is usable.
  const usable = await waitForOnboarding(onboard.page, (p) => p.joinUrl !== null && p.job?.usable === true, 180_000, 'a usable avatar');
  t.diagnostic(`usable: ${JSON.stringify(usable.job)}; previews ${usable.previews}`);
  assert.equal(usable.job!.state, 'running', 'usable early: the call can start while training goes on');
  assert.equal(usable.progressVia, 'socket', 'the progress channel reconnected to the restarted server');
  const errorsAfterReconnect = onboard.errors.length;
  assert.ok(usable.previews >= 1, 'preview renders reached the page');
  assert.ok((usable.job!.installedPsnr ?? 0) >= OPTIONS.usablePsnr);
  assert.match(usable.joinUrl!, new RegExp(`avatar=${usable.avatarId}`));

  // The join link: the demo joins the room as the avatar (camera tracked, not sent).
  const me = await openPage(browser, new URL(usable.joinUrl!, server.url).href);
  await me.page.waitForFunction(() => window.voxfaceDemo.events.includes('joined'), undefined, { timeout: 30_000 });
  const events = await me.page.evaluate(() => window.voxfaceDemo.events);
  assert.ok(events.includes(`avatar:${usable.avatarId}`), `joined as the avatar: ${events.join(', ')}`);
  const myId = await me.page.evaluate(() => window.voxfaceDemo.room!.peerId);
  // The server renders the avatar at 10 fps (less if its scheduler lowers it, or if the render
  // falls short of it beside the trainers) and tells the page: its tracker follows, not the camera's 30 fps.
  const tracking = await pollUntil(async () => {
    const session = server.avatars.sessions().find((x) => x.peer.id === myId);
    return {
      told: session && server.avatars.toldFrameRate(session.room.id, myId),
      rendered: session?.stats().targetFps,
      tracked: await me.page.evaluate(() => window.voxfaceDemo.coefficients?.readout().tracker.maxFps),
    };
  }, (x) => x.told !== undefined && x.tracked === x.told, 15_000);
  assert.equal(tracking.tracked, tracking.told, `the join link's page tracks at the rate the server told: ${JSON.stringify(tracking)}`);
  assert.ok(tracking.told! <= tracking.rendered!, `the told rate is within the avatar's render rate: ${JSON.stringify(tracking)}`);

  const other = await openPage(browser, `${server.url}/?room=${ROOM}&name=Bob`);
  await other.page.evaluate(() => window.voxfaceDemo.join());
  const figures = await pollUntil(() => inboundFigures(other.page), (f) => f.some((x) => x.peerId === myId && x.kind === 'video' && x.framesDecoded >= 50), 30_000);
  assert.ok(figures.some((x) => x.peerId === myId && x.kind === 'video' && x.framesDecoded >= 50), `the other page decodes the avatar: ${JSON.stringify(figures)}`);
  const sources = await other.page.evaluate((id) => [...window.voxfaceDemo.room!.remoteTracks.values()]
    .filter((r) => r.peerId === id).map((r) => `${r.kind}:${String(r.appData.source)}`), myId);
  assert.ok(sources.includes('video:avatar') && !sources.includes('video:camera'), sources.join(', '));

  // Training goes on; each better version is installed and swapped into the live call.
  // The final avatar comes after its expression fidelity is measured (the trainer's --fidelity: a Chromium re-tracking its held-out renders).
  const done = await waitForOnboarding(onboard.page, (p) => p.job?.state === 'done', 240_000, 'the final avatar');
  const session = server.avatars.sessions().find((x) => x.peer.id === myId)!;
  // The last install's reload (a render process starting) may still be under way.
  await pollUntil(async () => session.stats().rendererSwaps, (n) => n >= 1, 15_000);
  t.diagnostic(`final: ${done.job!.installs} versions installed, best ${done.job!.installedPsnr} dB; live session ${JSON.stringify(session.stats())}`);
  assert.ok((done.job!.installs ?? 0) >= 2, `a better version followed the first usable one: ${JSON.stringify(done.job)}`);
  assert.ok(session.stats().rendererSwaps >= 1, 'the live call picked up a better version');
  const fidelity = done.job!.fidelity;
  t.diagnostic(`expression fidelity of the final avatar: ${JSON.stringify(fidelity)}`);
  assert.ok(fidelity && 'mouthPx' in fidelity && fidelity.comparedFrames >= 1, `the final avatar's expression fidelity was measured: ${JSON.stringify(fidelity)}`);
  assert.match(await onboard.page.textContent('#fidelity') ?? '', /^mouth \d+\.\d px from your recording \(a real frame of you: \d+\.\d px\)/, 'and shown next to the quality');
  // Still decoding after the last swap, not frozen: over 3 s, not 1, and at 3 fps, not 10. This
  // machine runs three pages (one tracking its camera with MediaPipe on the CPU), the encoder and
  // the avatar's render process on 2 cores: a CI run decoded 7 frames in 1 s here, and so did this
  // session's main before these changes (5 in 1 s), on a slower day of the same machine.
  const before = (await inboundFigures(other.page)).find((x) => x.peerId === myId && x.kind === 'video')!.framesDecoded;
  await other.page.waitForTimeout(3000);
  const after = (await inboundFigures(other.page)).find((x) => x.peerId === myId && x.kind === 'video')!.framesDecoded;
  t.diagnostic(`after the last install: ${after - before} frames decoded in 3 s`);
  assert.ok(after - before >= 9, `the other page keeps decoding the avatar (${after - before} frames in 3 s)`);

  // Nobody else may see or delete it (404 like a missing avatar); driving it is refused in signalingAbuse.test.ts.
  const stranger = server.tokens.mintOnboarding('stranger');
  const asStranger = { headers: { authorization: `Bearer ${stranger}` } };
  assert.equal((await fetch(`${server.url}/api/onboarding/avatars/${usable.avatarId}`, asStranger)).status, 404);
  assert.equal((await fetch(`${server.url}/api/onboarding/avatars/${usable.avatarId}`, { ...asStranger, method: 'DELETE' })).status, 404);
  assert.equal(server.avatarStore.ownerOf(usable.avatarId!), recordedOwner(usable.joinUrl!, server), 'still there, still its owner\'s');
  const final = await onboardingProbe(onboard.page);
  t.diagnostic(`page at the end: ${final.state}, job ${JSON.stringify(final.job?.progress)}, via ${final.progressVia}`);
  t.diagnostic(`page events: ${(await onboard.page.evaluate('window.voxfaceOnboarding.events') as string[]).filter((e) => !e.startsWith('retry')).join(' ')}`);
  const duringRestart = onboard.errors.slice(errorsBeforeRestart, errorsAfterReconnect);
  assert.deepEqual(duringRestart.filter((e) => !/net::ERR_CONNECTION_REFUSED/.test(e)), [], 'while the server was down, only refused connections');
  assert.deepEqual([...onboard.errors.slice(0, errorsBeforeRestart), ...onboard.errors.slice(errorsAfterReconnect)], [], 'no page error before the restart or after the reconnection');
  assert.deepEqual(elsewhere, [], 'no request leaves for another host');
  assert.deepEqual(other.errors, []);
});

/** The user id (`sub`) inside the join link's call token. */
function recordedOwner(joinUrl: string, server: VoxfaceServer): string {
  const token = new URL(joinUrl, server.url).searchParams.get('token')!;
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { sub: string }).sub;
}
