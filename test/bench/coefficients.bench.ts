/**
 * `npm run bench:coefficients`: a real clip as the camera, tracked by MediaPipe in
 * headless Chromium and streamed as coefficients for SECONDS (default 15).
 * Prints payload and wire kbps, packets/s, tracker ms and capture-to-server
 * latency. Baseline, measured in the same run: the same camera sent as VP8 video
 * (what the coefficients replace), and the ratio of the two. Then the same camera
 * driving an avatar with an expression encoder (issue 16; test/helpers/encoderAvatar.ts):
 * the encoder's per-frame cost in the tracker's worker (pose removal and the ONNX model
 * on onnxruntime-web's wasm backend; the goal is 3 ms) and the code packets' payload,
 * beside the blendshape packets' (both also as bytes and kbps at 30 Hz).
 */
import type { Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE_PACKET_FIXED_BYTES, COEFFICIENT_PACKET_BYTES } from '../../shared/coefficients/CoefficientPacket';
import { DEFAULT_CODE_SIZE } from '../../server/encoder/ExpressionEncoder';
import { encoderAvatarFile } from '../helpers/encoderAvatar';
import { launchChromium, openPage } from '../helpers/browser';
import { FACE_MODEL_PATH, clipToY4m } from '../helpers/sharedData';
import { startTestServer } from '../helpers/testServer';
import { percentile, printResult, progress, round, runBench } from './benchUtil';

const SECONDS = Number(process.env.SECONDS_TO_STREAM ?? 15);

/** Bytes the page's send transport put on the wire (DTLS/SCTP/ICE included), and when. */
function sendTransportBytes(page: Page): Promise<{ bytes: number; at: number }> {
  return page.evaluate(async () => {
    const report = await window.voxfaceDemo.room!.sendTransport!.getStats();
    let bytes = 0;
    report.forEach((stat: Record<string, unknown>) => {
      if (stat.type === 'transport') bytes += Number(stat.bytesSent ?? 0);
    });
    return { bytes, at: performance.now() };
  });
}

async function main(): Promise<void> {
  // A small avatar frame: the encoder phase measures the sender, not the server's renderer.
  const server = await startTestServer({ faceModelPath: FACE_MODEL_PATH, avatarWidth: 128, avatarHeight: 128 });
  const scratch = mkdtempSync(join(tmpdir(), 'voxface-bench-encoder-'));
  server.avatarStore.installFor('owner', 'coded', encoderAvatarFile(scratch));
  const browser = await launchChromium({ fakeVideoFile: clipToY4m('womanLonghair', { width: 480, fps: 30, seconds: 12 }) });
  const latencies: number[] = [];
  server.coefficients.on('frame', ({ frame, receivedAtMs }) => {
    if (!frame.keepAlive) latencies.push(receivedAtMs - frame.captureTimeMs);
  });
  try {
    const { page } = await openPage(browser, `${server.url}/?room=bench&name=streamer`);
    await page.evaluate(() => window.voxfaceDemo.join({ publish: false }));
    await page.evaluate(() => window.voxfaceDemo.setSendCoefficients(true));
    await page.waitForFunction(() => (window.voxfaceDemo.coefficients?.sender.stats().packetsSent ?? 0) > 0, undefined, { timeout: 30_000 });
    latencies.length = 0;
    progress(`bench:coefficients: streaming for ${SECONDS} s`);
    const sentBefore = await page.evaluate(() => window.voxfaceDemo.coefficients!.sender.stats());
    const wireBefore = await sendTransportBytes(page);
    await page.waitForTimeout(SECONDS * 1000);
    const sentAfter = await page.evaluate(() => window.voxfaceDemo.coefficients!.sender.stats());
    const wireAfter = await sendTransportBytes(page);
    const trackerMs = await page.evaluate(() => window.voxfaceDemo.coefficients!.tracker.stats().recentTrackerMs);
    const delegate = await page.evaluate(() => window.voxfaceDemo.coefficients!.tracker.delegate);
    const elapsed = (wireAfter.at - wireBefore.at) / 1000;
    const packetsPerSecond = (sentAfter.packetsSent - sentBefore.packetsSent) / elapsed;
    const payloadKbps = ((sentAfter.bytesSent - sentBefore.bytesSent) * 8) / 1000 / elapsed;
    const wireKbps = ((wireAfter.bytes - wireBefore.bytes) * 8) / 1000 / elapsed;
    await page.evaluate(() => window.voxfaceDemo.setSendCoefficients(false));

    progress('bench:coefficients: baseline, the same camera as VP8 video');
    const { page: videoPage } = await openPage(browser, `${server.url}/?room=bench-video&name=camera`);
    await videoPage.evaluate(() => window.voxfaceDemo.join());
    await videoPage.waitForTimeout(3000); // let the bandwidth estimate ramp up
    const videoBefore = await sendTransportBytes(videoPage);
    await videoPage.waitForTimeout(10_000);
    const videoAfter = await sendTransportBytes(videoPage);
    // The camera page also sends Opus audio (~40 kbps): report the whole uplink, as a user would pay it.
    const cameraUplinkKbps = ((videoAfter.bytes - videoBefore.bytes) * 8) / 1000 / ((videoAfter.at - videoBefore.at) / 1000);
    await videoPage.evaluate(() => window.voxfaceDemo.leave());
    await videoPage.context().close();

    progress(`bench:coefficients: an avatar with an expression encoder, code packets for ${SECONDS} s`);
    const query = new URLSearchParams({ room: 'bench-code', name: 'coded', token: server.tokens.mintCall('bench-code', 'owner'), onboardingToken: server.tokens.mintOnboarding('owner') });
    const { page: codePage } = await openPage(browser, `${server.url}/?${query}`);
    await codePage.evaluate(() => window.voxfaceDemo.join({ avatarId: 'coded' }));
    await codePage.waitForFunction(() => window.voxfaceDemo.events.some((e) => e.startsWith('encoder:')), undefined, { timeout: 60_000 });
    const encoderMode = await codePage.evaluate(() => window.voxfaceDemo.encoder?.mode);
    if (encoderMode !== 'code') throw new Error(`the encoder did not load: ${JSON.stringify(await codePage.evaluate(() => window.voxfaceDemo.encoder))}`);
    const codeBefore = await codePage.evaluate(() => window.voxfaceDemo.coefficients!.sender.stats());
    const codeStarted = Date.now();
    await codePage.waitForTimeout(SECONDS * 1000);
    const codeAfter = await codePage.evaluate(() => window.voxfaceDemo.coefficients!.sender.stats());
    const codeElapsed = (Date.now() - codeStarted) / 1000;
    const encoderMs = await codePage.evaluate(() => window.voxfaceDemo.coefficients!.tracker.stats().recentEncoderMs);
    const codeTrackerMs = await codePage.evaluate(() => window.voxfaceDemo.coefficients!.tracker.stats().recentTrackerMs);
    const codePacketBytes = CODE_PACKET_FIXED_BYTES + DEFAULT_CODE_SIZE;

    printResult({
      bench: 'coefficients',
      seconds: round(elapsed),
      packetBytes: COEFFICIENT_PACKET_BYTES,
      payloadKbps: round(payloadKbps, 2),
      wireKbps: round(wireKbps, 2),
      packetsPerSecond: round(packetsPerSecond),
      trackerDelegate: delegate,
      trackerMsP50: round(percentile(trackerMs, 50)),
      trackerMsP95: round(percentile(trackerMs, 95)),
      captureToServerMsP50: round(percentile(latencies, 50)),
      captureToServerMsP95: round(percentile(latencies, 95)),
      baselineCameraUplinkKbps: round(cameraUplinkKbps),
      wireVsCameraRatio: round(wireKbps / cameraUplinkKbps, 4),
      blendshapePacketKbpsAt30Hz: round((COEFFICIENT_PACKET_BYTES * 8 * 30) / 1000, 2),
      codePacketBytes,
      codePacketKbpsAt30Hz: round((codePacketBytes * 8 * 30) / 1000, 2),
      codePayloadKbps: round(((codeAfter.bytesSent - codeBefore.bytesSent) * 8) / 1000 / codeElapsed, 2),
      codePacketsPerSecond: round((codeAfter.codePacketsSent - codeBefore.codePacketsSent) / codeElapsed),
      encoderFrames: encoderMs.length,
      encoderMsP50: round(percentile(encoderMs, 50), 3),
      encoderMsP95: round(percentile(encoderMs, 95), 3),
      encoderTrackerMsP50: round(percentile(codeTrackerMs, 50)),
    });
  } finally {
    await browser.close();
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBench(main);
