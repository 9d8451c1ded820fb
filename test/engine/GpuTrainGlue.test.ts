// The trainer's glue kernels on WGSL (columns.wgsl, encoding.wgsl) against the CPU
// functions the model uses (Columns.ts, Encoding.ts, AvatarModel.normalizeToBox). They
// live in test/ because kernels/ may not import server/, not even in a test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, rng, uniform } from '../../kernels/testUtil';
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { encodeBroadcastRays, encodeCopyCols, encodeFillCols } from '../../kernels/wgsl/columns';
import { encodePositionalEncoding, encodePositionalEncodingBackward, encodeToBox } from '../../kernels/wgsl/encoding';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { addCols, copyCols, fillCols } from '../../server/engine/Columns';
import { encode, encodeBackward, encodedWidth } from '../../server/engine/Encoding';
import { normalizeToBox } from '../../server/engine/AvatarModel';
import { DEFAULT_CONFIG } from '../../server/engine/AvatarModelTypes';

const ctx = await openTestGpu();

/** Runs `body` on a fresh encoder, submits it and reads `out` back; frees every buffer made through `up`/`empty`. */
async function run(g: GpuContext, body: (up: (a: Float32Array | Int32Array) => GPUBuffer, empty: (floats: number) => GPUBuffer, e: GPUCommandEncoder) => GPUBuffer, floats: number): Promise<Float32Array> {
  const owned: GPUBuffer[] = [];
  const up = (a: Float32Array | Int32Array) => { const b = g.upload('test glue input', a); owned.push(b); return b; };
  const empty = (n: number) => { const b = g.storage('test glue output', 4 * n); owned.push(b); return b; };
  try {
    const e = g.device.createCommandEncoder({ label: 'test glue encoder' });
    const out = body(up, empty, e);
    g.device.queue.submit([e.finish()]);
    return new Float32Array(await g.read(out, 4 * floats));
  } finally {
    for (const b of owned) b.destroy();
  }
}

describe('the trainer\'s glue kernels on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  const g = ctx!;

  test('column copies, scaled accumulations and row fills equal Columns.ts exactly', async () => {
    const rand = rng(5), rows = 37, src = uniform(rows * 11, -2, 2, rand), start = uniform(rows * 9, -1, 1, rand), v = uniform(4, -3, 3, rand);
    const want = Float32Array.from(start);
    copyCols(src, 11, 2, want, 9, 1, 5, rows);
    addCols(src, 11, 6, want, 9, 0, 3, rows);
    fillCols(v, want, 9, 5, rows);
    const got = await run(g, (up, _empty, e) => {
      const s = up(src), d = up(start), vb = up(v);
      encodeCopyCols(g, e, { buffer: s, width: 11, start: 2 }, { buffer: d, width: 9, start: 1 }, 5, rows);
      encodeCopyCols(g, e, { buffer: s, width: 11, start: 6 }, { buffer: d, width: 9, start: 0 }, 3, rows, { accumulate: true });
      encodeFillCols(g, e, vb, { buffer: d, width: 9, start: 5 }, 4, rows);
      return d;
    }, rows * 9);
    assert.deepEqual(got, want);
    // A scale of 10 (the trainer's densityScale on the march's deltas) is exact in float32.
    const deltas = uniform(50, 0, 0.1, rand);
    const scaled = await run(g, (up, empty, e) => {
      const out = empty(50);
      encodeCopyCols(g, e, { buffer: up(deltas), width: 1, start: 0 }, { buffer: out, width: 1, start: 0 }, 1, 50, { scale: 10 });
      return out;
    }, 50);
    assert.deepEqual(scaled, deltas.map((x) => x * 10));
  });

  test('each ray\'s row is repeated on its samples\' rows, rays without samples skipped, as the model fills its colour input', async () => {
    const rand = rng(6), offsets = Int32Array.of(0, 3, 3, 7, 8, 8), R = 5, S = 8, encV = 6, width = 10;
    const perRay = uniform(R * encV, -1, 1, rand), start = uniform(S * width, -1, 1, rand);
    const want = Float32Array.from(start);
    for (let r = 0; r < R; r++) {
      const n = offsets[r + 1]! - offsets[r]!;
      if (n > 0) fillCols(perRay.subarray(r * encV, (r + 1) * encV), want.subarray(offsets[r]! * width, offsets[r + 1]! * width), width, 3, n);
    }
    const got = await run(g, (up, _empty, e) => {
      const d = up(start);
      encodeBroadcastRays(g, e, { buffer: up(perRay), width: encV, start: 0 }, up(offsets), { buffer: d, width, start: 3 }, encV, R, S);
      return d;
    }, S * width);
    assert.deepEqual(got, want);
  });

  test('the positional encoding and its backward equal Encoding.ts within float32 rounding of sin and cos', async () => {
    const rand = rng(7), n = 300, c = 6, f = 4, width = encodedWidth(c, f);
    // Features are grid values and directions: within a few units.
    const x = uniform(n * c, -3, 3, rand), dOut = uniform(n * width, -1, 1, rand);
    const enc = await run(g, (up, empty, e) => {
      const out = empty(n * width);
      encodePositionalEncoding(g, e, { x: up(x), out }, n, c, f);
      return out;
    }, n * width);
    // Arguments up to 8 * 3 = 24 rad: within 2.5e-7 measured (encoding.wgsl's own sinCos; WGSL's sin was off 1.9e-4).
    assertClose(enc, encode(x, n, c, f), { abs: 3e-7, rel: 0 }, 'encoding');
    const dx = await run(g, (up, empty, e) => {
      const out = empty(n * c);
      encodePositionalEncodingBackward(g, e, { x: up(x), dOut: up(dOut), dx: out }, n, c, f);
      return out;
    }, n * c);
    // Nine terms weighted up to 8: within 1e-6 measured.
    assertClose(dx, encodeBackward(x, dOut, n, c, f), { abs: 1.5e-6, rel: 0 }, 'encoding backward');
  });

  test('points map into the box, and moved points (p + 0.1 raw) too, as normalizeToBox maps them', async () => {
    const rand = rng(8), n = 200, box = DEFAULT_CONFIG.appearanceBox;
    const pos = uniform(3 * n, -1.5, 1.5, rand), raw = uniform(3 * n, -2, 2, rand);
    const plain = await run(g, (up, empty, e) => {
      const out = empty(3 * n);
      encodeToBox(g, e, { points: up(pos), out }, n, box);
      return out;
    }, 3 * n);
    assertClose(plain, normalizeToBox(pos, box), { abs: 4e-7, rel: 0 }, 'toBox');
    const moved = await run(g, (up, empty, e) => {
      const out = empty(3 * n);
      encodeToBox(g, e, { points: up(pos), raw: up(raw), out }, n, box, 0.1);
      return out;
    }, 3 * n);
    const m = new Float32Array(3 * n);
    for (let i = 0; i < m.length; i++) m[i] = pos[i]! + 0.1 * raw[i]!;
    assertClose(moved, normalizeToBox(m, box), { abs: 6e-7, rel: 0 }, 'moved toBox');
  });

  test('blocks that overrun their matrix, or buffers too small, are refused by name', () => {
    const b = g.storage('test small', 16), e = g.device.createCommandEncoder({ label: 'test refused encoder' });
    assert.throws(() => encodeCopyCols(g, e, { buffer: b, width: 2, start: 1 }, { buffer: g.storage('test dst', 64), width: 4, start: 0 }, 2, 2), /copyCols: src columns 1..3 exceed its width 2/);
    assert.throws(() => encodeFillCols(g, e, b, { buffer: b, width: 4, start: 0 }, 4, 3), /fillCols: the dst buffer holds 16 bytes, 48 needed/);
    assert.throws(() => encodePositionalEncoding(g, e, { x: b, out: b }, 4, 1, 2), /positionalEncoding: the out buffer holds 16 bytes, 80 needed/);
    assert.throws(() => encodeToBox(g, e, { points: b, out: b }, 1, { min: [0, 0, 0], max: [1, 0, 1] }), /toBox: box max must exceed min on every axis/);
    b.destroy();
  });
});
