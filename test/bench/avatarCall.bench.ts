/**
 * `npm run bench:avatar-call`: page A joins as its avatar (a shared clip as camera,
 * Chromium's beeping fake microphone), page B receives. Prints capture-to-receiver
 * latency p50/p95 (the frame marker carries each coefficient packet's sequence
 * number through render, encoder and network to B's decoded frames), fps B decodes
 * and the rate of newly rendered frames, server CPU per avatar (Node, the render
 * process, the encoder, the mediasoup worker), avatar video kbps, and the audio-video
 * offset B experiences (beep latency vs marker latency). Baseline in the same run:
 * the server's CPU while A sends its camera instead. AVATAR=<file.vxa> uses a real
 * avatar; the default is the test's synthetic one. The video is the server's default size
 * (640x360, the call framing) unless WIDTH / HEIGHT say otherwise; SECONDS (15), FPS (25:
 * the output rate; renderedFps shows how many of those frames were newly rendered).
 */
import { copyFileSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { loadConfig } from '../../server/config';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures } from '../helpers/pageProbes';
import { FACE_MODEL_PATH, clipToY4m } from '../helpers/sharedData';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';
import { percentile, printResult, progress, round, runBench } from './benchUtil';
import { beeps, markers, recordBeeps, recordMarkers } from './pageMeters';

const { avatarWidth: DEFAULT_WIDTH, avatarHeight: DEFAULT_HEIGHT } = loadConfig({});
const WIDTH = Number(process.env.WIDTH ?? DEFAULT_WIDTH);
const HEIGHT = Number(process.env.HEIGHT ?? DEFAULT_HEIGHT);
const SECONDS = Number(process.env.SECONDS ?? 15);
const FPS = Number(process.env.FPS ?? 25);

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The machine's busy CPU seconds, all processes (from /proc/stat: everything but idle and iowait). */
function machineCpu(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((s, v) => s + v, 0) - f[3]! - f[4]!) / 100;
}

/** The server's CPU seconds: Node, its workers, and the avatar's encoder and render process. */
function serverCpu(server: VoxfaceServer, encoderPid?: number, renderPid?: number): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6 + server.pool.workers.reduce((s, w) => s + cpuSeconds(w.pid), 0) + cpuSeconds(encoderPid) + cpuSeconds(renderPid);
}

async function videoBytes(page: Page, peerId: string): Promise<number> {
  return page.evaluate(async (id) => {
    const room = window.voxfaceDemo.room!;
    const remote = [...room.remoteTracks.values()].find((t) => t.peerId === id && t.kind === 'video');
    if (!remote) return 0;
    let bytes = 0;
    (await room.consumer(remote.consumerId)!.getStats()).forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp') bytes += Number(s.bytesReceived ?? 0);
    });
    return bytes;
  }, peerId);
}

/** For each B-side event, the latency to the A-side event it answers (the latest A event before it, within limits). */
function pairLatencies(sent: number[], heard: number[], maxMs: number): number[] {
  const out: number[] = [];
  for (const h of heard) {
    const before = sent.filter((s) => s <= h && h - s <= maxMs);
    if (before.length) out.push(h - before.at(-1)!);
  }
  return out;
}

async function main(): Promise<void> {
  progress('bench:avatar-call: preparing the avatar');
  const avatarFile = process.env.AVATAR ?? syntheticAvatarFile();
  const server = await startTestServer({ faceModelPath: FACE_MODEL_PATH, avatarWidth: WIDTH, avatarHeight: HEIGHT, avatarFps: FPS, avatarMarker: true, numWorkers: 1 });
  copyFileSync(avatarFile, server.avatarStore.pathOf('bench'));
  const browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
  try {
    const a = (await openPage(browser, `${server.url}/?room=bench&name=A`)).page;
    await a.evaluate(() => window.voxfaceDemo.join({ avatarId: 'bench' }));
    const aId = await a.evaluate(() => window.voxfaceDemo.room!.peerId);
    const b = (await openPage(browser, `${server.url}/?room=bench&name=B`)).page;
    await b.evaluate(() => window.voxfaceDemo.join({ publish: false }));
    await b.waitForFunction((id) => [...window.voxfaceDemo.room!.remoteTracks.values()].filter((t) => t.peerId === id).length === 2, aId, { timeout: 20_000 });
    await b.waitForTimeout(3000);
    await recordMarkers(b, aId);
    await recordBeeps(a, null);
    await recordBeeps(b, aId);
    const session = server.avatars.sessions()[0]!;
    const cpu0 = serverCpu(server, session.encoderPid, session.renderer.pid);
    const parts0 = [cpuSeconds(session.renderer.pid), cpuSeconds(session.encoderPid), machineCpu()];
    const rendered0 = session.stats().framesRendered;
    const video0 = (await inboundFigures(b)).find((f) => f.peerId === aId && f.kind === 'video')!;
    const frames0 = video0.framesDecoded;
    const bytes0 = await videoBytes(b, aId);
    const tracked = () => a.evaluate(() => window.voxfaceDemo.coefficients!.readout().tracker.framesTracked);
    const tracked0 = await tracked();
    const t0 = Date.now();
    progress(`bench:avatar-call: measuring for ${SECONDS} s`);
    await b.waitForTimeout(SECONDS * 1000);
    const elapsed = (Date.now() - t0) / 1000;
    const cpu1 = serverCpu(server, session.encoderPid, session.renderer.pid);
    // Where the machine's cores went: the render process, the encoder, the rest of the
    // server, and everything else (the two Chromium pages, mostly).
    const [renderCores, encoderCores, machineCores] = [cpuSeconds(session.renderer.pid), cpuSeconds(session.encoderPid), machineCpu()]
      .map((v, i) => (v - parts0[i]!) / elapsed);
    const video1 = (await inboundFigures(b)).find((f) => f.peerId === aId && f.kind === 'video')!;
    const frames1 = video1.framesDecoded;
    const bytes1 = await videoBytes(b, aId);
    const tracked1 = await tracked();
    // MediaPipe's own time per face in A's worker (the rest of A's part is the frame's way there and back).
    const trackerMs = await a.evaluate(() => window.voxfaceDemo.coefficients!.readout().tracker.recentTrackerMs);
    const stats = session.stats();
    const toldFps = server.avatars.toldFrameRate(session.room.id, session.peer.id) ?? null;
    const history = await a.evaluate(() => window.voxfaceDemo.coefficients!.sender.history.slice());
    const seen = await markers(b);
    const latencies: number[] = [], senderMs: number[] = [], toReceivedMs: number[] = [], receiverMs: number[] = [];
    for (const m of seen) {
      const match = history.filter((p) => (p.sequence & 0xffff) === m.value && p.captureTimeMs <= m.at).at(-1);
      if (!match) continue;
      latencies.push(m.at - match.captureTimeMs);
      senderMs.push(match.sentTimeMs - match.captureTimeMs);
      if (m.receivedAt !== null) {
        toReceivedMs.push(m.receivedAt - match.captureTimeMs);
        receiverMs.push(m.at - m.receivedAt);
      }
    }
    const audio = pairLatencies(await beeps(a), await beeps(b), 1000);
    const videoP50 = percentile(latencies, 50);
    const audioP50 = percentile(audio, 50);

    progress('bench:avatar-call: baseline, the same call with A\'s camera');
    await a.evaluate(() => window.voxfaceDemo.leave());
    const c = (await openPage(browser, `${server.url}/?room=bench&name=C`)).page;
    await c.evaluate(() => window.voxfaceDemo.join());
    await b.waitForTimeout(3000);
    const base0 = serverCpu(server);
    await b.waitForTimeout(10_000);
    const baselineCores = (serverCpu(server) - base0) / 10;
    const avatarCores = (cpu1 - cpu0) / elapsed;

    printResult({
      bench: 'avatar-call',
      size: `${WIDTH}x${HEIGHT}`,
      fps: FPS,
      seconds: round(elapsed),
      latencyMsP50: round(videoP50),
      latencyMsP95: round(percentile(latencies, 95)),
      markedFramesMatched: latencies.length,
      decodedFps: round((frames1 - frames0) / elapsed),
      // How long B's page held the avatar's frames before decoding them (its jitter buffer), per frame.
      receiverJitterBufferMs: round((1000 * (video1.jitterBufferDelay - video0.jitterBufferDelay)) / Math.max(1, video1.jitterBufferEmittedCount - video0.jitterBufferEmittedCount)),
      renderedFps: round((stats.framesRendered - rendered0) / elapsed, 2),
      // Faces B's page showed, one count per change of the frame marker: new frames that reached the receiver.
      shownFacesPerSecond: round(latencies.length / elapsed, 2),
      // The tracking rate the server told A's page at the end (avatarFrameRate), and how busy the renderer was.
      toldFps,
      renderBusyShare: round(stats.renderBusyShare, 2),
      // A's page: faces tracked per second (MediaPipe on this machine's CPU, at most the avatar's rate).
      senderTrackedFps: round((tracked1 - tracked0) / elapsed, 1),
      // Where the capture-to-receiver time goes (medians, so they need not add up): A's page
      // (the camera frame's capture to its packet's send: MediaPipe, in its worker), the
      // packet's wait on the server for a render to start, the render; the rest is the
      // encoder and the SFU; then B's page (the frame's arrival to its showing: the jitter
      // buffer, receiverJitterBufferMs, and decode).
      senderMsP50: round(percentile(senderMs, 50)),
      senderTrackerMsP50: round(percentile(trackerMs, 50)),
      faceAgeMsP50: round(stats.faceAgeMsP50),
      renderMsP50: round(stats.renderMsP50),
      renderMsP95: round(stats.renderMsP95),
      receivedMsP50: round(percentile(toReceivedMs, 50)),
      receiverMsP50: round(percentile(receiverMs, 50)),
      serverCoresPerAvatar: round(avatarCores, 2),
      cores: {
        render: round(renderCores!, 2), encoder: round(encoderCores!, 2), restOfServer: round(avatarCores - renderCores! - encoderCores!, 2),
        browsersAndOther: round(machineCores! - avatarCores, 2), machine: round(machineCores!, 2),
      },
      avatarVideoKbps: round(((bytes1 - bytes0) * 8) / 1000 / elapsed),
      audioLatencyMsP50: round(audioP50),
      beepsMatched: audio.length,
      audioVideoOffsetMs: round(videoP50 - audioP50),
      baselineCameraCallCores: round(baselineCores, 2),
      cpuVsCameraCallRatio: round(avatarCores / baselineCores, 2),
    });
  } finally {
    await browser.close();
    await server.close();
  }
}

runBench(main);
