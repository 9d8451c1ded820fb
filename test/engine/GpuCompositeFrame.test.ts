// The frame's upscale and composite on the GPU (kernels/wgsl/compositeFrame) against the
// CPU's (the reference here: server/engine/Compositing.ts compositeOver with FastUpscale's
// cubic plan). It lives in test/ because kernels/ may not import server/, not even in a test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compositeOver } from '../../server/engine/Compositing';
import { upscalePlan } from '../../server/engine/FastUpscale';
import { rng } from '../../kernels/testUtil';
import { compositeFrameMaxSide, compositeFrameOnGpu, encodeCompositeFrame, type CompositeFrameDims } from '../../kernels/wgsl/compositeFrame';
import { openTestGpu } from '../../kernels/wgsl/testGpu';

const ctx = await openTestGpu();

interface Rect { x0: number; y0: number; x1: number; y1: number }

/**
 * A head layer as the renderer leaves it: rays cast in `rect` (random transmittance,
 * premultiplied colour up to 1 - T, a tenth of it brighter so the clamp is used),
 * C = 0 and T = 1 elsewhere; and a random under-layer (alpha too: it is passed through).
 */
function frameInputs(seed: number, d: CompositeFrameDims, rect: Rect) {
  const rand = rng(seed), color = new Float32Array(3 * d.sw * d.sh), trans = new Float32Array(d.sw * d.sh).fill(1);
  for (let y = rect.y0; y < rect.y1; y++)
    for (let x = rect.x0; x < rect.x1; x++) {
      const i = y * d.sw + x, t = rand(), gain = rand() < 0.1 ? 1.5 : 1;
      trans[i] = t;
      for (let ch = 0; ch < 3; ch++) color[3 * i + ch] = gain * (1 - t) * rand();
    }
  const under = new Uint8Array(4 * d.width * d.height);
  for (let i = 0; i < under.length; i++) under[i] = Math.floor(256 * rand());
  return { color, trans, under };
}

function cpuFrame(color: Float32Array, trans: Float32Array, under: Uint8Array, d: CompositeFrameDims): Uint8Array {
  const out = new Uint8Array(under.length);
  compositeOver(color, trans, d.sw, upscalePlan(d.sw, d.sh, d.width, d.height), { x0: 0, y0: 0, x1: d.sw, y1: d.sh }, under, out);
  return out;
}

describe('compositeFrame on the GPU', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());

  for (const [what, d] of [
    ['2x', { sw: 48, sh: 27, width: 96, height: 54 }],
    ['by 6.67 (96x54 to 640x360, the call\'s default output)', { sw: 96, sh: 54, width: 640, height: 360 }],
    ['by odd non-integer factors (37x23 to 100x61)', { sw: 37, sh: 23, width: 100, height: 61 }],
  ] as const) {
    test(`upscaled ${what} and composited, every byte is within 1 of the CPU's and pixels the head misses are the under-layer exactly`, async (t) => {
      const rect = { x0: Math.floor(d.sw / 4), y0: Math.floor(d.sh / 5), x1: Math.floor((3 * d.sw) / 4), y1: d.sh - 2 };
      const { color, trans, under } = frameInputs(d.width, d, rect);
      const gpu = await compositeFrameOnGpu(ctx!, color, trans, under, d), cpu = cpuFrame(color, trans, under, d);
      let maxDiff = 0, differing = 0;
      for (let i = 0; i < cpu.length; i++) {
        const e = Math.abs(gpu[i]! - cpu[i]!);
        maxDiff = Math.max(maxDiff, e);
        if (e) differing++;
      }
      t.diagnostic(`${d.sw}x${d.sh} -> ${d.width}x${d.height}: max |gpu - cpu| = ${maxDiff}, ${differing} of ${cpu.length} bytes differ`);
      assert.ok(maxDiff <= 1, `max difference ${maxDiff}`);
      // Float rounding order decides a byte only within ~1e-5 of a rounding boundary: a
      // systematic off-by-one (truncating, say) would move about half of them.
      assert.ok(differing <= cpu.length * 1e-3, `${differing} of ${cpu.length} bytes differ`);
      // Where all sixteen taps miss the rays' rectangle, C = 0 and T = 1: the under-layer, exactly.
      const plan = upscalePlan(d.sw, d.sh, d.width, d.height);
      const inside = (index: Int32Array, i: number, lo: number, hi: number) => index[4 * i + 3]! >= lo && index[4 * i]! < hi;
      let empty = 0;
      for (let y = 0; y < d.height; y++)
        for (let x = 0; x < d.width; x++) {
          if (inside(plan.x.index, x, rect.x0, rect.x1) && inside(plan.y.index, y, rect.y0, rect.y1)) continue;
          empty++;
          const o = 4 * (y * d.width + x);
          assert.deepEqual([...gpu.subarray(o, o + 4)], [...under.subarray(o, o + 4)], `pixel (${x}, ${y}) is the under-layer`);
        }
      assert.ok(empty > d.width * d.height * 0.3, `${empty} pixels miss the head`);
      // Inside, the head shows: the frame is not just the under-layer.
      assert.ok(gpu.some((v, i) => v !== under[i]));
    });
  }

  test('the head layer given as its rays\' rectangle alone (compacted, as renderRays leaves it) composites to the same bytes as the whole layer', async () => {
    const d = { sw: 37, sh: 23, width: 100, height: 61 }, rect = { x0: 5, y0: 3, x1: 29, y1: 20 };
    const { color, trans, under } = frameInputs(7, d, rect);
    const rw = rect.x1 - rect.x0, rh = rect.y1 - rect.y0, rc = new Float32Array(3 * rw * rh), rt = new Float32Array(rw * rh);
    for (let y = rect.y0; y < rect.y1; y++) {
      rc.set(color.subarray(3 * (y * d.sw + rect.x0), 3 * (y * d.sw + rect.x1)), 3 * (y - rect.y0) * rw);
      rt.set(trans.subarray(y * d.sw + rect.x0, y * d.sw + rect.x1), (y - rect.y0) * rw);
    }
    const whole = await compositeFrameOnGpu(ctx!, color, trans, under, d), compact = await compositeFrameOnGpu(ctx!, rc, rt, under, { ...d, rect });
    assert.deepEqual(compact, whole);
    const none = await compositeFrameOnGpu(ctx!, new Float32Array(0), new Float32Array(0), under, { ...d, rect: { x0: 4, y0: 4, x1: 4, y1: 4 } });
    assert.deepEqual(none, under, 'an empty rectangle draws the under-layer alone');
    await assert.rejects(compositeFrameOnGpu(ctx!, rc, rt, under, { ...d, rect: { ...rect, x1: 38 } }), /rect must be integers within the 37x23 head layer/);
  });

  test('a frame with no head at all (C = 0, T = 1 everywhere) is the under-layer bit for bit', async () => {
    const d = { sw: 40, sh: 30, width: 130, height: 97 }, rand = rng(9);
    const under = Uint8Array.from({ length: 4 * d.width * d.height }, () => Math.floor(256 * rand()));
    const gpu = await compositeFrameOnGpu(ctx!, new Float32Array(3 * d.sw * d.sh), new Float32Array(d.sw * d.sh).fill(1), under, d);
    assert.deepEqual(gpu, under);
  });

  test('NaN, infinite, negative and out-of-range head values convert as the CPU\'s clamped bytes do (NaN to 0)', async () => {
    const d = { sw: 8, sh: 1, width: 8, height: 1 }, under = Uint8Array.from({ length: 32 }, (_, i) => 5 * i + 3);
    const color = Float32Array.of(NaN, 0.5, -3, Infinity, -Infinity, 0.25, 0, 0, 0, 0.11, 0.21, 0.31, 0.125, 0.25, 0.375, -3, 0.5, 2, 0, 0, 0, 0.25, 0, 0);
    const trans = Float32Array.of(0, 0, NaN, 0.5, 0.5, 0, 2, -1);
    const gpu = await compositeFrameOnGpu(ctx!, color, trans, under, d), cpu = cpuFrame(color, trans, under, d);
    assert.deepEqual([...gpu], [...cpu]);
    // Same size in and out: each pixel's taps are itself (weight 1) and its neighbours (weight
    // 0), x - 1 .. x + 2. Pixels 0-3 reach a non-finite value through a zero-weight tap
    // (0 * Inf and 0 * NaN are NaN) and are 0, on both. Pixel 4 is 255 C + 0.5 under; 5 has
    // T = 0 and clamps; 6 has T = 2 (twice the under-layer, clamped); 7 has T = -1 (clamped to 0).
    assert.deepEqual([...gpu], [0, 0, 0, 18, 0, 0, 0, 38, 0, 0, 0, 58, 0, 0, 0, 78, 73, 108, 142, 98, 0, 128, 255, 118, 246, 255, 255, 138, 0, 0, 0, 158]);
  });

  test('sizes past the limit, wrong lengths and short buffers are RangeErrors', async () => {
    const g = ctx!, d = { sw: 4, sh: 3, width: 8, height: 6 };
    const color = new Float32Array(36), trans = new Float32Array(12), under = new Uint8Array(192);
    assert.equal(compositeFrameMaxSide, 8192);
    await assert.rejects(compositeFrameOnGpu(g, color, trans, under, { ...d, width: 8193 }),
      { name: 'RangeError', message: 'compositeFrame: width must be an integer in [1, 8192], got 8193' });
    await assert.rejects(compositeFrameOnGpu(g, color, trans, under, { ...d, sh: 0 }),
      { name: 'RangeError', message: 'compositeFrame: sh must be an integer in [1, 8192], got 0' });
    await assert.rejects(compositeFrameOnGpu(g, color, trans.subarray(1), under, d),
      { name: 'RangeError', message: 'compositeFrame: transmittance has length 11, expected 12 (rh*rw)' });
    // A 8192^2 frame is within the sides' limit but not a default binding's (128 MiB).
    const limit = g.device.limits.maxStorageBufferBindingSize;
    if (limit < 268435456) await assert.rejects(compositeFrameOnGpu(g, color, trans, under, { ...d, width: 8192, height: 8192 }),
      { name: 'RangeError', message: `compositeFrame: under needs 268435456 bytes, over the device's maxStorageBufferBindingSize (${limit})` });
    const buffers = { color: g.upload('test color', color), transmittance: g.upload('test trans', trans), under: g.upload('test under', under), out: g.storage('test out', 4 * 40) };
    const encoder = g.device.createCommandEncoder({ label: 'test short buffers encoder' });
    assert.throws(() => encodeCompositeFrame(g, encoder, buffers, d), { name: 'RangeError', message: 'compositeFrame: the out buffer holds 160 bytes, the frame needs 192' });
    Object.values(buffers).forEach((b) => b.destroy());
  });
});
