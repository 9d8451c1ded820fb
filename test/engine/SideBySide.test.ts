// The eval's pictures: a side-by-side mp4 through real ffmpeg (checked with ffprobe) and
// the PNG strip, both appearing only when complete.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { evenlySpaced, SideBySideVideo, writeStripPng } from '../../server/engine/SideBySide';

const solid = (w: number, h: number, rgb: [number, number, number]) => Float32Array.from({ length: w * h * 3 }, (_, i) => rgb[i % 3]!);

function probe(path: string): { width: number; height: number; nb_read_frames: string; pix_fmt: string; codec_name: string } {
  const run = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,nb_read_frames,pix_fmt,codec_name', '-of', 'json', path], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout).streams[0];
}

describe('side-by-side pictures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'voxface-sbs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('evenly spaced frames include the first and the last, without repeats', () => {
    assert.deepEqual(evenlySpaced(31, 6), [0, 6, 12, 18, 24, 30]);
    assert.deepEqual(evenlySpaced(4, 6), [0, 1, 2, 3]);
    assert.deepEqual(evenlySpaced(0, 6), []);
  });

  test('the video is an h264 yuv420p mp4 twice as wide, one frame per pair, left original and right avatar', async () => {
    // 33 px high: odd, padded to 34 for yuv420p.
    const w = 40, h = 33, video = new SideBySideVideo(join(dir, 'out', 'sbs.mp4'), w, h, 16);
    for (let i = 0; i < 7; i++) video.push(solid(w, h, [1, 0, 0]), solid(w, h, [0, 0, 1]));
    assert.equal(existsSync(join(dir, 'out', 'sbs.mp4')), false, 'nothing at the path before finish');
    assert.equal(await video.finish(), join(dir, 'out', 'sbs.mp4'));
    const s = probe(join(dir, 'out', 'sbs.mp4'));
    assert.deepEqual([s.codec_name, s.pix_fmt, s.width, s.height, Number(s.nb_read_frames)], ['h264', 'yuv420p', 2 * w, h + 1, 7]);
    const frame = spawnSync('ffmpeg', ['-v', 'error', '-i', join(dir, 'out', 'sbs.mp4'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']).stdout;
    const at = (x: number, y: number) => Array.from(frame.subarray(3 * (y * 2 * w + x), 3 * (y * 2 * w + x) + 3));
    const [left, right] = [at(w / 2, 16), at(w + w / 2, 16)];
    assert.ok(left[0]! > 200 && left[2]! < 60, `left is red: ${left}`);
    assert.ok(right[2]! > 200 && right[0]! < 60, `right is blue: ${right}`);
    assert.deepEqual(readdirSync(join(dir, 'out')), ['sbs.mp4'], 'no temporary file left');
    video.close();
    assert.throws(() => video.push(solid(w, h, [0, 0, 0]), solid(w, h, [0, 0, 0])), /InvalidStateError/);
  });

  test('closing before finish leaves nothing behind', async () => {
    const video = new SideBySideVideo(join(dir, 'aborted', 'sbs.mp4'), 16, 16, 25);
    video.push(solid(16, 16, [0, 0, 0]), solid(16, 16, [1, 1, 1]));
    video.close();
    video.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(readdirSync(join(dir, 'aborted')), []);
  });

  test('the strip puts each original over its avatar, one column per frame', () => {
    const path = join(dir, 'strip.png');
    writeStripPng(path, [[solid(8, 6, [1, 0, 0]), solid(8, 6, [0, 1, 0])], [solid(8, 6, [0, 0, 1]), solid(8, 6, [1, 1, 1])]], 8, 6);
    const png = PNG.sync.read(readFileSync(path)), px = (x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));
    assert.deepEqual([png.width, png.height], [16, 12]);
    assert.deepEqual([px(1, 1), px(1, 7), px(9, 1), px(9, 7)], [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]);
  });
});
