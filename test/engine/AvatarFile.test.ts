import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AvatarPlates, decodeAvatar, decodeAvatarFile, encodeAvatar, readAvatarFile, readAvatarFileContents, writeAvatarFile } from '../../server/engine/AvatarFile';
import { framingCamera } from '../../server/engine/Framing';
import { PARAM_NAMES } from '../../server/engine/AvatarModelTypes';
import { fromHalf, toHalf } from '../../server/engine/Half';
import { TINY_CONFIG, randomModel } from './modelFixtures';

const model = randomModel(TINY_CONFIG, 9);

/** Re-seals a modified file with a valid checksum, to reach the checks behind it. */
function reseal(buf: Buffer): Buffer {
  createHash('sha256').update(buf.subarray(0, buf.length - 32)).digest().copy(buf, buf.length - 32);
  return buf;
}

describe('AvatarFile', () => {
  test('round-trips fp32 exactly and fp16 grids within half precision', () => {
    const exact = decodeAvatar(encodeAvatar(model, { halfGrids: false }));
    for (const name of PARAM_NAMES) assert.deepEqual(exact.params[name], model.params[name], name);
    const half = decodeAvatar(encodeAvatar(model));
    assert.deepEqual(half.config, model.config);
    let worst = 0;
    half.params.appearance.forEach((x, i) => { worst = Math.max(worst, Math.abs(x - model.params.appearance[i]!)); });
    assert.ok(worst > 0 && worst <= 2 ** -11 * 0.5, `fp16 error ${worst}`);
    assert.deepEqual(half.params.colorW0, model.params.colorW0, 'MLP weights stay fp32');
  });

  test('half conversion rounds to nearest even and keeps specials', () => {
    assert.equal(fromHalf(toHalf(1 + 2 ** -11)), 1, 'tie rounds to even');
    assert.equal(fromHalf(toHalf(1 + 3 * 2 ** -11)), 1 + 2 ** -9, 'tie rounds up to even');
    assert.equal(fromHalf(toHalf(65504)), 65504);
    assert.equal(fromHalf(toHalf(1e6)), Infinity);
    assert.equal(fromHalf(toHalf(2 ** -24)), 2 ** -24);
    assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
    assert.equal(fromHalf(toHalf(-0.333251953125)), -0.333251953125);
  });

  test('writes atomically and reads back from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxav-'));
    try {
      const path = join(dir, 'a.vxav');
      writeAvatarFile(path, model);
      assert.deepEqual(readdirSync(dir), ['a.vxav'], 'no temp file left behind');
      assert.deepEqual(readAvatarFile(path).params.densityW1, model.params.densityW1);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test('rejects bad magic, unknown versions, truncation, trailing bytes and checksum mismatches', () => {
    const good = encodeAvatar(model);
    const magic = Buffer.from(good); magic.write('PNG!', 0, 'latin1');
    assert.throws(() => decodeAvatar(magic), new TypeError('avatar file: bad magic (not a Voxface avatar)'));
    const version = Buffer.from(good); version.writeUInt32LE(7, 4);
    assert.throws(() => decodeAvatar(version), new RangeError('avatar file: unsupported version 7 (this build reads 1 to 2)'));
    assert.throws(() => decodeAvatar(good.subarray(0, 8)), new RangeError('avatar file: truncated (8 bytes, the fixed header needs 12)'));
    const cut = good.subarray(0, good.length - 100);
    assert.throws(() => decodeAvatar(cut), /avatar file: truncated \(\d+ bytes, header says \d+\)/);
    assert.throws(() => decodeAvatar(Buffer.concat([good, Buffer.alloc(4)])), /avatar file: trailing bytes/);
    const flipped = Buffer.from(good); flipped[good.length - 40]! ^= 1;
    assert.throws(() => decodeAvatar(flipped), new RangeError('avatar file: checksum mismatch (file is corrupt)'));
  });

  test('rejects tensor tables that disagree with the config', () => {
    const good = encodeAvatar(model), hl = good.readUInt32LE(8);
    const edit = (f: (h: { tensors: { name: string; shape: number[]; byteLength: number; dtype: string }[] }) => void) => {
      const h = JSON.parse(good.toString('utf8', 12, 12 + hl));
      f(h);
      const text = Buffer.from(JSON.stringify(h));
      // Keep the header length: pad with spaces (valid JSON whitespace).
      assert.ok(text.length <= hl, 'edited header must not grow');
      const buf = Buffer.from(good);
      buf.fill(0x20, 12, 12 + hl);
      text.copy(buf, 12);
      return reseal(buf);
    };
    assert.throws(() => decodeAvatar(edit((h) => { h.tensors[2]!.shape = [1, 2]; })),
      new RangeError('avatar file: tensor appearance has shape [1,2], config implies [6,6,6,4]'));
    assert.throws(() => decodeAvatar(edit((h) => { h.tensors[3]!.byteLength -= 4; })), /tensor deformW0 bytes .* do not fit/);
    assert.throws(() => decodeAvatar(edit((h) => { h.tensors[0]!.dtype = 'i8'; })), new RangeError('avatar file: tensor motionMean has unknown dtype i8'));
    assert.throws(() => decodeAvatar(edit((h) => { h.tensors.pop(); })), new RangeError('avatar file: tensor colorB1 missing'));
  });

  describe('version 2: plates', () => {
    const camera = framingCamera(TINY_CONFIG.camera, 32, 18);
    const plates: AvatarPlates = {
      camera,
      background: Uint8Array.from({ length: 32 * 18 * 3 }, (_, i) => (i * 7) & 255),
      body: Uint8Array.from({ length: 32 * 18 * 4 }, (_, i) => (i * 13) & 255),
    };

    test('the model and its plates come back exactly, through a file on disk', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vx-plates-'));
      try {
        const path = join(dir, 'a.vxa');
        writeAvatarFile(path, model, { plates });
        const back = readAvatarFileContents(path);
        assert.deepEqual(back.plates, plates);
        assert.deepEqual(back.model.params.appearance, decodeAvatar(encodeAvatar(model)).params.appearance);
        assert.equal(decodeAvatarFile(encodeAvatar(model)).plates, null, 'a file saved without plates has none');
      } finally {
        rmSync(dir, { recursive: true });
      }
    });

    test('a version-1 file (no plates) still loads', () => {
      // Version 1's layout is version 2's without plates: only the version field differs.
      const v1 = Buffer.from(encodeAvatar(model));
      v1.writeUInt32LE(1, 4);
      const back = decodeAvatarFile(reseal(v1));
      assert.equal(back.plates, null);
      assert.deepEqual(back.model.params.densityW1, model.params.densityW1);
    });

    test('a tampered plate fails the checksum, and plates that do not fit their camera are refused', () => {
      const good = encodeAvatar(model, { plates }), hl = good.readUInt32LE(8);
      const header = JSON.parse(good.toString('utf8', 12, 12 + hl));
      const bodyAt = ((12 + hl + 7) & ~7) + header.plates.body.offset;
      const tampered = Buffer.from(good); tampered[bodyAt + 5]! ^= 0x40;
      assert.throws(() => decodeAvatarFile(tampered), new RangeError('avatar file: checksum mismatch (file is corrupt)'));
      assert.throws(() => encodeAvatar(model, { plates: { ...plates, body: plates.body.subarray(4) } }),
        new RangeError('avatar file: plates of 32x18 need 1728 background and 2304 body bytes, got 1728 and 2300'));
    });
  });
});
