import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { BackgroundImages, imageHeader } from './BackgroundImages';
import { readStoredBackground, STORED_HEIGHT, STORED_WIDTH } from './storedBackground';

/** A w x h PNG: red on the left half, blue on the right. */
function halves(w: number, h: number): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) png.data.set(x < w / 2 ? [220, 30, 30, 255] : [30, 30, 220, 255], 4 * (y * w + x));
  return PNG.sync.write(png);
}

/** The same picture as a JPEG, made by ffmpeg from the PNG. */
function asJpeg(png: Buffer): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-i', 'pipe:0', '-f', 'mjpeg', '-q:v', '3', 'pipe:1'], { input: png, maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

function pixel(rgb: Uint8Array, x: number, y: number): number[] {
  return [...rgb.subarray(3 * (y * STORED_WIDTH + x), 3 * (y * STORED_WIDTH + x) + 3)];
}

const near = (a: number[], b: number[], tol = 24) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

test('a PNG or a JPEG is stored covering 1280x720 (scaled and cropped, not stretched), for its owner only, until deleted', async () => {
  const images = new BackgroundImages(mkdtempSync(join(tmpdir(), 'voxface-bg-')));
  // 4:3: covering 16:9 keeps the full width and crops the top and bottom.
  for (const bytes of [halves(64, 48), asJpeg(halves(64, 48))]) {
    const { id, width, height } = await images.add('ada', bytes);
    assert.deepEqual([width, height], [STORED_WIDTH, STORED_HEIGHT]);
    assert.match(id, /^[0-9a-f]{16}$/);
    const rgb = readStoredBackground(images.pathOf('ada', id)!);
    assert.ok(near(pixel(rgb, 100, 360), [220, 30, 30]), `left is red: ${pixel(rgb, 100, 360)}`);
    assert.ok(near(pixel(rgb, 1180, 360), [30, 30, 220]), `right is blue: ${pixel(rgb, 1180, 360)}`);
    assert.equal(images.pathOf('bob', id), undefined, 'another user cannot use it');
  }
  assert.equal(images.list('ada').length, 2);
  assert.deepEqual(images.list('bob'), []);
  const [first] = images.list('ada');
  assert.equal(images.remove('bob', first!), false);
  assert.equal(images.remove('ada', first!), true);
  assert.equal(images.pathOf('ada', first!), undefined);
  assert.equal(images.list('ada').length, 1);
});

test('uploads that are not images, claim huge sides, are too big or too many are refused with a clear error and store nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'voxface-bg-'));
  const images = new BackgroundImages(dir, { maxBytes: 20_000, maxSide: 4096, maxPerUser: 1 });
  await assert.rejects(images.add('ada', Buffer.from('GIF89a not what we take')), { name: 'BackgroundError', code: 'not_an_image', message: /neither a PNG nor a JPEG signature/ });
  const huge = halves(8, 8);
  huge.writeUInt32BE(100_000, 16);
  assert.deepEqual(imageHeader(huge), { format: 'png', width: 100_000, height: 8 });
  await assert.rejects(images.add('ada', huge), { code: 'bad_size', message: 'the image claims 100000x8 pixels; each side must be 1 to 4096' });
  const truncated = halves(64, 48).subarray(0, 60);
  await assert.rejects(images.add('ada', truncated), { code: 'not_an_image', message: /could not be decoded/ });
  await assert.rejects(images.add('ada', Buffer.alloc(20_001, 0x89)), { code: 'too_large', status: 413 });
  assert.deepEqual(readdirSync(dir), [], 'nothing was stored');
  await images.add('ada', halves(16, 9));
  await assert.rejects(images.add('ada', halves(16, 9)), { code: 'too_many', status: 409, message: 'you keep 1 backgrounds already: delete one first' });
  assert.equal(images.list('ada').length, 1);
});
