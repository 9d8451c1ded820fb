/**
 * `npm run bench:coefficients`: a real clip as the camera, tracked by MediaPipe in
 * headless Chromium and streamed as coefficients for SECONDS (default 15).
 * Prints payload and wire kbps, packets/s, tracker ms and capture-to-server
 * latency. Baseline, measured in the same run: the same camera sent as VP8 video
 * (what the coefficients replace), and the ratio of the two.
 */
import type { Page } from 'playwright-core';
import { COEFFICIENT_PACKET_BYTES } from '../../shared/coefficients/CoefficientPacket';
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
  const server = await startTestServer({ faceModelPath: FACE_MODEL_PATH });
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
    });
  } finally {
    await browser.close();
    await server.close();
  }
}

runBench(main);
