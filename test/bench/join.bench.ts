/**
 * `npm run bench:join`: join time and time to first remote frame for N peers
 * (default 8) joining one room one after another, each a headless Chromium page
 * with a fake camera and microphone. Baseline, measured in the same run: the join
 * time of the first peer, into an empty room.
 */
import { launchChromium, openPage } from '../helpers/browser';
import { startTestServer } from '../helpers/testServer';
import { percentile, printResult, progress, round, runBench } from './benchUtil';

const peers = Number(process.env.PEERS ?? 8);

async function main(): Promise<void> {
  const server = await startTestServer({ numWorkers: Number(process.env.VOXFACE_WORKERS ?? 2) });
  const browser = await launchChromium();
  const joinMs: number[] = [];
  const firstFrameMs: number[] = [];
  try {
    const pages = [];
    for (let i = 0; i < peers; i++) {
      const { page } = await openPage(browser, `${server.url}/?room=bench&name=peer${i}`);
      await page.evaluate(() => window.voxfaceDemo.join());
      const timings = await page.evaluate(() => window.voxfaceDemo.timings);
      joinMs.push(timings.joinedAt! - timings.joinStartedAt!);
      pages.push(page);
      if (i > 0) {
        // Peers after the first find video waiting for them: time to its first frame.
        await page.waitForFunction(() => window.voxfaceDemo.timings.firstRemoteFrameAt !== undefined, undefined, { timeout: 20_000 });
        const t = await page.evaluate(() => window.voxfaceDemo.timings);
        firstFrameMs.push(t.firstRemoteFrameAt! - t.joinStartedAt!);
      }
      progress(`bench:join: peer ${i + 1}/${peers} joined in ${round(joinMs[i]!)} ms`);
    }
    const baseline = joinMs[0]!;
    const p50 = percentile(joinMs, 50);
    printResult({
      bench: 'join',
      peers,
      workers: server.pool.workers.length,
      joinMsP50: round(p50),
      joinMsP95: round(percentile(joinMs, 95)),
      firstRemoteFrameMsP50: round(percentile(firstFrameMs, 50)),
      firstRemoteFrameMsP95: round(percentile(firstFrameMs, 95)),
      baselineEmptyRoomJoinMs: round(baseline),
      joinP50VsBaseline: round(p50 / baseline, 2),
    });
  } finally {
    await browser.close();
    await server.close();
  }
}

runBench(main);
