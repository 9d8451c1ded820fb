/**
 * Server-made video in a room: RGBA frames through ffmpeg and a PlainTransport
 * into a real mediasoup worker, decoded by a real Chromium page as one of the
 * owner's tracks. The frames are a moving test pattern (the injection path does
 * not care what drew them).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { VideoInjector } from '../../server/avatar/VideoInjector';
import type { Peer } from '../../server/rooms/Peer';
import type { Room } from '../../server/rooms/Room';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import type { AvatarCodec } from '../../server/avatar/encoderArgs';
import { launchChromium, openPage } from '../helpers/browser';
import { inboundFigures, pollUntil, videoLevel } from '../helpers/pageProbes';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let browser: Browser;

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const SIZE = 256;

/** A frame whose colour follows `level` (0..255), with a bar whose position moves. */
function paint(frame: Uint8Array, level: number, t: number): void {
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const i = (y * SIZE + x) * 4;
      const bar = Math.abs(x - ((t * 4) % SIZE)) < 8;
      frame[i] = bar ? 255 : level;
      frame[i + 1] = 255 - level;
      frame[i + 2] = 128;
      frame[i + 3] = 255;
    }
  }
}

async function injectInto(room: Room, owner: Peer, codec: AvatarCodec): Promise<{ injector: VideoInjector; stop: () => void }> {
  const injector = await VideoInjector.create({ router: room.router, width: SIZE, height: SIZE, fps: 25, codec, appData: { peerId: owner.id, source: 'avatar' } });
  owner.adoptProducer(injector.producer);
  room.announceProducer(owner, injector.producer);
  injector.on('producerReplaced', ({ producer }) => {
    owner.adoptProducer(producer);
    room.announceProducer(owner, producer);
  });
  const frame = new Uint8Array(SIZE * SIZE * 4);
  let t = 0;
  const timer = setInterval(() => {
    t += 1;
    paint(frame, Math.floor(t / 25) % 2 === 0 ? 40 : 220, t);
    injector.pushFrame(frame);
  }, 40);
  return { injector, stop: () => { clearInterval(timer); injector.close(); } };
}

for (const codec of ['VP8', 'H264'] as const) {
  test(`${codec} frames injected for a peer reach another peer as that peer's video, and change`, async () => {
    const roomId = `inject-${codec.toLowerCase()}`;
    const room = await server.rooms.getOrCreate(roomId);
    const owner = room.join('avatar-owner', 'Avatar', () => undefined);
    const { injector, stop } = await injectInto(room, owner, codec);
    try {
      const { page, errors } = await openPage(browser, `${server.url}/?room=${roomId}&name=viewer`);
      await page.evaluate(() => window.voxfaceDemo.join());
      const start = Date.now();
      const figures = await pollUntil(() => inboundFigures(page), (f) => f.some((x) => x.kind === 'video' && x.framesDecoded >= 60), 10_000);
      const video = figures.find((x) => x.kind === 'video' && x.peerId === 'avatar-owner');
      assert.ok(video, `the viewer receives a video of the owner: ${JSON.stringify(figures)}`);
      const fps = video.framesDecoded / ((Date.now() - start) / 1000);
      assert.ok(video.framesDecoded >= 60, `decoded ${video.framesDecoded} frames (${fps.toFixed(1)} fps)`);

      const levels: number[] = [];
      for (let i = 0; i < 6; i++) {
        levels.push(await videoLevel(page, '.tile.remote video', 'red'));
        await page.waitForTimeout(400);
      }
      assert.ok(Math.max(...levels) - Math.min(...levels) > 60, `the picture changes: red levels ${levels.map((l) => l.toFixed(0)).join(', ')}`);

      // Kill the encoder: a new one takes over and the viewer gets the new track.
      const replaced = injector.waitFor('producerReplaced', 10_000);
      process.kill(injector.encoderPid!, 'SIGKILL');
      const { producer } = await replaced;
      const after = await pollUntil(() => inboundFigures(page), (f) => f.some((x) => x.kind === 'video' && x.framesDecoded > 10), 10_000);
      assert.ok(after.some((x) => x.kind === 'video' && x.framesDecoded > 10), `video resumes after an encoder restart: ${JSON.stringify(after)}`);
      assert.equal(owner.producers.has(producer.id), true);
      assert.equal(injector.stats().encoderRestarts, 1);
      assert.deepEqual(errors, []);
    } finally {
      stop();
      room.leave(owner);
    }
    assert.equal(owner.producers.size, 0, 'the injected producer closed with its owner');
  });
}

test('a frame pushed while the encoder still reads the one before goes out after it; only a frame replaced unsent is dropped', async () => {
  const room = await server.rooms.getOrCreate('inject-pending');
  // 640x360 RGBA is 900 KB: more than the pipe to ffmpeg holds, so the first write is still being read.
  const injector = await VideoInjector.create({ router: room.router, width: 640, height: 360, fps: 25, codec: 'VP8', appData: { peerId: 'nobody', source: 'avatar' } });
  try {
    // RTP timestamps reaching the worker (3.8's trace info has the packet's fields, newer ones nest them).
    const timestamps = new Set<number>();
    await injector.producer.enableTraceEvent(['rtp']);
    injector.producer.on('trace', (trace) => {
      const info = trace.info as { timestamp?: number; rtpPacket?: { timestamp?: number } };
      const timestamp = info.timestamp ?? info.rtpPacket?.timestamp;
      if (trace.type === 'rtp' && timestamp !== undefined) timestamps.add(timestamp);
    });
    const frame = (level: number) => new Uint8Array(640 * 360 * 4).fill(level);
    for (const level of [40, 120, 200]) assert.equal(injector.pushFrame(frame(level)), true);
    // The first is written, the second waits and is replaced by the third, which goes out once the first is read.
    const seen = await pollUntil(async () => timestamps.size, (n) => n >= 2, 10_000, 20);
    assert.equal(seen, 2, `frames that reached the worker: ${seen}`);
    assert.deepEqual(injector.stats(), { framesIn: 3, framesDropped: 1, encoderRestarts: 0 });
  } finally {
    injector.close();
  }
});
