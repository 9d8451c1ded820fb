import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encoderArgs, STARTUP_KEYFRAME_SECONDS, STARTUP_SECONDS } from './encoderArgs';

test('a new encoder sends a keyframe every half second in its first seconds, then at its interval, even below its frame rate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'voxface-keyframes-'));
  try {
    const out = join(dir, 'out.webm');
    // The server's encoder settings, written to a file instead of RTP (the same encoder options before '-f rtp').
    const args = encoderArgs({ width: 64, height: 64, fps: 25, codec: 'VP8', bitrateKbps: 300, keyframeIntervalSeconds: 2, payloadType: 101, ssrc: 1, rtpPort: 9 });
    const rtpAt = args.indexOf('-f', args.indexOf('pipe:0'));
    const ffmpeg = spawn('ffmpeg', [...args.slice(0, rtpAt), '-y', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    // 10 frames a second for 6 s: a loaded machine's rate, below the 25 the encoder is set to.
    for (let i = 0; i < 60; i++) {
      ffmpeg.stdin.write(Buffer.alloc(64 * 64 * 4, i * 4));
      await new Promise((done) => setTimeout(done, 100));
    }
    ffmpeg.stdin.end();
    await new Promise((done) => ffmpeg.once('close', done));
    const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_frames', '-show_entries', 'frame=key_frame,pts_time', '-of', 'csv', out], { encoding: 'utf8' });
    const keyframes = probe.stdout.trim().split('\n').map((line) => line.split(',')).filter((f) => f[1] === '1').map((f) => Number(f[2]));
    const early = keyframes.filter((t) => t < STARTUP_SECONDS);
    // A loaded machine delays frames: at least one keyframe per second, most every half second.
    assert.ok(early.length >= STARTUP_SECONDS, `keyframes in the first ${STARTUP_SECONDS} s: ${early.join(', ')}`);
    for (let i = 1; i < early.length; i++) assert.ok(early[i]! - early[i - 1]! < 2 * STARTUP_KEYFRAME_SECONDS + 0.3, `keyframes at ${early.join(', ')}`);
    // After that, the interval (50 frames: 5 s at 10 fps): no more than one in the last 2 s.
    assert.ok(keyframes.filter((t) => t >= STARTUP_SECONDS).length <= 1, `keyframes after ${STARTUP_SECONDS} s: ${keyframes.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the encoder sends every frame it is given as RTP, the first one and ones 8 ms apart too, without waiting for the next', async () => {
  const socket = createSocket('udp4');
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
  const rtpPort = (socket.address() as AddressInfo).port;
  // The RTP timestamps seen, in order of arrival (RTCP, payload types 72-76, left out).
  const timestamps: number[] = [];
  socket.on('message', (packet: Buffer) => {
    const payloadType = packet[1]! & 0x7f;
    if (packet.length >= 12 && (payloadType < 72 || payloadType > 76)) timestamps.push(packet.readUInt32BE(4));
  });
  const args = encoderArgs({ width: 64, height: 64, fps: 25, codec: 'VP8', bitrateKbps: 300, keyframeIntervalSeconds: 2, payloadType: 101, ssrc: 1, rtpPort });
  const ffmpeg = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  ffmpeg.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const frames = () => new Set(timestamps).size;
  const waitForFrames = async (n: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (frames() < n && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
    return frames();
  };
  try {
    // One frame, then nothing more until it has gone out (seconds of slack for a slow
    // machine): an encoder that loses a frame, or holds it back until the next one
    // arrives, never sends it.
    for (let i = 1; i <= 3; i++) {
      if (i > 1) await new Promise((done) => setTimeout(done, 100));
      ffmpeg.stdin.write(Buffer.alloc(64 * 64 * 4, i * 60));
      assert.equal(await waitForFrames(i, 5000), i, `frame ${i} was not sent (the next is not written until it is) (ffmpeg: ${stderr.trim() || 'no output'})`);
    }
    // Three more 8 ms apart, within one 25 fps interval (a rendered frame just after a
    // repeat): each is sent with a time of its own.
    for (let i = 4; i <= 6; i++) {
      ffmpeg.stdin.write(Buffer.alloc(64 * 64 * 4, i * 30));
      await new Promise((done) => setTimeout(done, 8));
    }
    assert.equal(await waitForFrames(6, 5000), 6, `frames 8 ms apart: RTP timestamps ${[...new Set(timestamps)].join(', ')}`);
  } finally {
    ffmpeg.stdin.end();
    ffmpeg.kill();
    socket.close();
  }
});
