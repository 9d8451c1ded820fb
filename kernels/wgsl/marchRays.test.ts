// marchRays on the GPU: the shared suite's marchRays section against the WGSL adapter; the
// float64 arithmetic in integers it rests on (softDouble.wgsl) against JS numbers; the
// scan's levels and int32 overflow; resident buffers; the GPU's own limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MarchBox } from '../KernelsTypes';
import { marchRaysRef } from '../reference/march';
import { rng, uniform } from '../testUtil';
import type { GpuContext } from './GpuContext';
import { encodeMarchCount, encodeMarchFill, marchRaysLimits, marchRaysOnGpu, marchScratchBytes, readMarchOffsets, type MarchRaysDims } from './marchRays';
import { encodeCountsToOffsets, scanOverflowed, scanScratchWords } from './scan';
import { f64FromWords, f64Words, softDoubleSource } from './softDouble';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu();
const box: MarchBox = { min: Float32Array.of(-1, -1, -1), max: Float32Array.of(1, 1, 1) };
const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const sameNumber = (x: number, y: number) => Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y));

// Each pair (a, b): a + b, a - b, a * b, a / b, a < b, float(a), the clamped cell floor(a)
// in [0, 999], float(a * b).
const arithmeticShader = `${softDoubleSource}
@group(0) @binding(0) var<storage, read> ins: array<vec4u>;
@group(0) @binding(1) var<storage, read_write> outs: array<u32>;
fn unpack(w: vec4u) -> F64 { return F64(w.xy, bitcast<i32>(w.z), w.w & 1u, w.w >> 1u); }
fn put(at: u32, v: F64) { outs[at] = v.m.x; outs[at + 1u] = v.m.y; outs[at + 2u] = bitcast<u32>(v.e); outs[at + 3u] = v.s | (v.k << 1u); }
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= arrayLength(&ins) / 2u) { return; }
  let a = unpack(ins[2u * i]);
  let b = unpack(ins[2u * i + 1u]);
  let o = 20u * i;
  put(o, f64Add(a, b));
  put(o + 4u, f64Sub(a, b));
  put(o + 8u, f64Mul(a, b));
  put(o + 12u, f64Div(a, b));
  outs[o + 16u] = select(0u, 1u, f64Less(a, b));
  outs[o + 17u] = f64ToF32Bits(a);
  outs[o + 18u] = bitcast<u32>(f64Cell(a, 1000u));
  outs[o + 19u] = f64ToF32Bits(f64Mul(a, b));
}`;

/** Random doubles of every kind the march meets: float32 values, doubles, specials, float32 subnormals, ties. */
function arithmeticPairs(n: number): [number, number][] {
  const rand = rng(90);
  const specials = [0, -0, Infinity, -Infinity, NaN, 1, -1, 0.5, 2 ** -149, 2 ** -126, 3.4028234663852886e38, 3.4028235677973366e38];
  const value = () => {
    const r = rand(), scale = (lo: number, hi: number) => 2 ** Math.floor(lo + rand() * (hi - lo));
    if (r < 0.05) return specials[Math.floor(rand() * specials.length)]!;
    if (r < 0.3) return Math.fround((rand() - 0.5) * scale(-20, 20));
    if (r < 0.4) return (rand() - 0.5) * scale(-300, 300);
    if (r < 0.5) return Math.fround((rand() - 0.5) * scale(-150, 150));
    if (r < 0.55) return Math.floor(rand() * 2000) / 2;
    return (rand() - 0.5) * scale(-20, 20);
  };
  return Array.from({ length: n }, () => {
    const a = value(), r = rand();
    // Near-cancellation and equal operands besides independent ones.
    return [a, r < 0.1 ? -a * (1 + (rand() - 0.5) * 2 ** -40) : r < 0.15 ? a : value()];
  });
}

async function runArithmetic(g: GpuContext, pairs: [number, number][]): Promise<Uint32Array> {
  const ins = new Uint32Array(8 * pairs.length);
  pairs.forEach((pair, i) => pair.forEach((x, j) => {
    const w = f64Words(x);
    ins.set([w.lo, w.hi, w.e >>> 0, w.sign | (w.kind << 1)], 8 * i + 4 * j);
  }));
  const input = g.upload('test arithmetic in', ins), output = g.storage('test arithmetic out', 80 * pairs.length);
  g.dispatch('test arithmetic', g.pipeline('test arithmetic', arithmeticShader), [input, output], [Math.ceil(pairs.length / 64)]);
  const out = new Uint32Array(await g.read(output, 80 * pairs.length));
  input.destroy();
  output.destroy();
  return out;
}

function randomRays(seed: number, R: number) {
  const rand = rng(seed), origins = uniform(3 * R, -3, 3, rand), dirs = new Float32Array(3 * R);
  for (let r = 0; r < R; r++) {
    const t = [0, 1, 2].map((a) => rand() - 0.5 - origins[3 * r + a]!), len = Math.hypot(t[0]!, t[1]!, t[2]!);
    for (let a = 0; a < 3; a++) dirs[3 * r + a] = t[a]! / len;
  }
  return { origins, dirs };
}

describe('marchRays on WGSL', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  after(() => ctx?.close());
  if (!ctx) return;

  test('the shader\'s float64 add, sub, mul, div, <, float32 rounding and cell floor equal JS numbers bit for bit on 20000 pairs', async () => {
    const pairs = arithmeticPairs(20000), out = await runArithmetic(ctx, pairs);
    const at = (o: number) => f64FromWords({ lo: out[o]!, hi: out[o + 1]!, e: out[o + 2]! | 0, sign: (out[o + 3]! & 1) as 0 | 1, kind: out[o + 3]! >> 1 });
    const f32 = (x: number) => (Number.isNaN(x) ? 0x7fc00000 : f32Bits(x));
    // The F64 form has no float64 subnormals or overflow (the march's values stay far inside).
    const inRange = (x: number) => !Number.isFinite(x) || x === 0 || (Math.abs(x) > 2 ** -1000 && Math.abs(x) < 2 ** 1000);
    const wrong: string[] = [];
    pairs.forEach(([a, b], i) => {
      const o = 20 * i, cell = Math.floor(a);
      const expect: [string, number, number][] = [['+', at(o), a + b], ['-', at(o + 4), a - b], ['*', at(o + 8), a * b], ['/', at(o + 12), a / b]];
      for (const [op, got, want] of expect) if (inRange(want) && !sameNumber(got, want)) wrong.push(`${a} ${op} ${b}: ${got}, expected ${want}`);
      if ((out[o + 16] === 1) !== a < b) wrong.push(`${a} < ${b}`);
      if (out[o + 17] !== f32(Math.fround(a))) wrong.push(`float(${a})`);
      if ((out[o + 18]! | 0) !== (Number.isNaN(cell) ? -1 : Math.min(999, Math.max(0, cell)))) wrong.push(`cell(${a})`);
      if (inRange(a * b) && out[o + 19] !== f32(Math.fround(a * b))) wrong.push(`float(${a} * ${b})`);
    });
    assert.deepEqual(wrong.slice(0, 10), []);
    // The pairs round: not all exact results (float32 inputs alone would mostly be exact).
    assert.ok(pairs.filter(([a, b]) => Number.isFinite(a * b) && a * b !== 0 && Math.fround(a) === a && Math.fround(b) !== b).length > 1000);
  });

  test('count, scan and fill on resident buffers in one submission with a capacity bound equal the reference; samples past capacity are not written', async () => {
    const R = 300, G = 8, { origins, dirs } = randomRays(91, R), rand = rng(92);
    const occupancy = new Uint8Array(G ** 3).map(() => (rand() < 0.4 ? 1 : 0));
    const dims: MarchRaysDims = { rays: R, box, gridRes: G, step: 0.05, maxSamples: 12 };
    const ref = marchRaysRef(origins, dirs, box, occupancy, G, dims.step, dims.maxSamples);
    const S = ref.rayOffsets[R]!, capacity = S - 7;
    const b = {
      origins: ctx.upload('test origins', origins), dirs: ctx.upload('test dirs', dirs), occupancy: ctx.upload('test occupancy', occupancy),
      rayOffsets: ctx.storage('test offsets', 4 * (R + 1)), scratch: ctx.storage('test scratch', marchScratchBytes(R)),
      positions: ctx.upload('test positions', new Float32Array(3 * S).fill(-9)), deltas: ctx.upload('test deltas', new Float32Array(S).fill(-9)),
    };
    const encoder = ctx.device.createCommandEncoder({ label: 'test march encoder' });
    encodeMarchCount(ctx, encoder, b, dims);
    encodeMarchFill(ctx, encoder, b, dims, capacity);
    ctx.device.queue.submit([encoder.finish()]);
    const [offsets, positions, deltas] = await Promise.all([readMarchOffsets(ctx, b, dims), ctx.read(b.positions, 12 * S), ctx.read(b.deltas, 4 * S)]);
    for (const x of Object.values(b)) x.destroy();
    assert.deepEqual(offsets, ref.rayOffsets);
    assert.deepEqual(new Float32Array(positions).subarray(0, 3 * capacity), ref.positions.subarray(0, 3 * capacity));
    assert.deepEqual(new Float32Array(deltas).subarray(0, capacity), ref.deltas.subarray(0, capacity));
    assert.deepEqual([...new Float32Array(deltas).subarray(capacity)], new Array(7).fill(-9), 'past capacity: untouched');
  });

  test('the scan of 70000 counts (three levels of blocks) is their prefix sum', async () => {
    const n = 70000, rand = rng(93), counts = Uint32Array.from({ length: n }, () => (rand() < 0.3 ? 0 : Math.floor(rand() * 65537)));
    assert.equal(scanScratchWords(n), 274 + 2 + 1);
    const data = ctx.upload('test counts', Uint32Array.from({ length: 5 + n + scanScratchWords(n) }, (_, i) => counts[i - 5] ?? 0xdead));
    const offsets = ctx.storage('test offsets', 4 * (n + 1));
    const encoder = ctx.device.createCommandEncoder({ label: 'test scan encoder' });
    encodeCountsToOffsets(ctx, encoder, data, 5, 5 + n, n, offsets);
    ctx.device.queue.submit([encoder.finish()]);
    const got = new Int32Array(await ctx.read(offsets, 4 * (n + 1)));
    data.destroy();
    offsets.destroy();
    const want = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) want[i + 1] = want[i]! + counts[i]!;
    assert.deepEqual(got, want);
  });

  test('the scan saturates past int32 and the op refuses it with the CPU op\'s RangeError', async () => {
    const counts = Uint32Array.of(0, 2 ** 30, 2 ** 30 - 1, 1, 5, 2 ** 31);
    const data = ctx.upload('test counts', new Uint32Array(counts.length + scanScratchWords(counts.length)).fill(0).map((_, i) => counts[i] ?? 0));
    const offsets = ctx.storage('test offsets', 4 * (counts.length + 1));
    const encoder = ctx.device.createCommandEncoder({ label: 'test scan encoder' });
    encodeCountsToOffsets(ctx, encoder, data, 0, counts.length, counts.length, offsets);
    ctx.device.queue.submit([encoder.finish()]);
    const got = new Int32Array(await ctx.read(offsets, 4 * (counts.length + 1)));
    assert.deepEqual([...got], [0, 0, 2 ** 30, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31), -(2 ** 31)]);
    assert.deepEqual([...got].map(scanOverflowed), [false, false, false, false, true, true, true]);
    // What readMarchOffsets makes of a saturated total.
    const dims: MarchRaysDims = { rays: 1, box, gridRes: 1, step: 0.5, maxSamples: 1 };
    const b = { origins: data, dirs: data, occupancy: data, rayOffsets: ctx.upload('test saturated', Int32Array.of(0, -(2 ** 31))), scratch: ctx.storage('test status', 16) };
    await assert.rejects(readMarchOffsets(ctx, b, dims), { name: 'RangeError', message: 'marchRays: too many samples for int32 offsets' });
    for (const x of [data, offsets, b.rayOffsets, b.scratch]) x.destroy();
  });

  test('a zero direction inside the box repeats its origin maxSamples times where occupied (as the CPU op) and gives none where empty (where the CPU op never returns)', async () => {
    const occupancy = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
    const origins = Float32Array.of(-0.5, -0.5, -0.5, 0.5, 0.5, 0.5), dirs = new Float32Array(6);
    const got = await marchRaysOnGpu(ctx, origins, dirs, box, occupancy, 2, 0.1, 5);
    assert.deepEqual([...got.rayOffsets], [0, 5, 5]);
    assert.deepEqual(got.positions, marchRaysRef(origins.subarray(0, 3), dirs.subarray(0, 3), box, occupancy, 2, 0.1, 5).positions);
  });

  test('a ray past stepsPerRay is refused, not cut short', async () => {
    // 0.2 steps across 2 units at unit speed: 10 steps; at speed 0.1, 100.
    const empty = new Uint8Array(1), origins = Float32Array.of(0, 0, -3), dirs = Float32Array.of(0, 0, 0.1);
    const dims: MarchRaysDims = { rays: 1, box, gridRes: 1, step: 0.2, maxSamples: 4, stepsPerRay: 50 };
    const b = {
      origins: ctx.upload('test origins', origins), dirs: ctx.upload('test dirs', dirs), occupancy: ctx.upload('test occupancy', empty),
      rayOffsets: ctx.storage('test offsets', 8), scratch: ctx.storage('test scratch', marchScratchBytes(1)),
    };
    for (const [steps, dir] of [[50, 0.1], [50, 1]] as const) {
      ctx.device.queue.writeBuffer(b.dirs, 0, Float32Array.of(0, 0, dir));
      const encoder = ctx.device.createCommandEncoder({ label: 'test steps encoder' });
      encodeMarchCount(ctx, encoder, b, { ...dims, stepsPerRay: steps });
      ctx.device.queue.submit([encoder.finish()]);
      if (dir === 1) assert.deepEqual([...(await readMarchOffsets(ctx, b, dims))], [0, 0], 'a unit-speed ray is within 50 steps');
      else await assert.rejects(readMarchOffsets(ctx, b, dims), { name: 'RangeError', message: 'marchRays: a ray takes more than 50 steps (stepsPerRay) through the box (is its direction unit length?)' });
    }
    for (const x of Object.values(b)) x.destroy();
  });

  test('sizes and arguments outside the limits are RangeErrors naming the limit (the CPU op\'s where it has one)', async () => {
    const one = new Float32Array(3), occ = new Uint8Array(1);
    const call = (o: Partial<{ box: MarchBox; G: number; step: number; maxSamples: number; occupancy: Uint8Array; dirs: Float32Array }>) =>
      marchRaysOnGpu(ctx, one, o.dirs ?? one, o.box ?? box, o.occupancy ?? occ, o.G ?? 1, o.step ?? 0.1, o.maxSamples ?? 4);
    assert.equal(marchRaysLimits.maxSamples, 65536);
    await assert.rejects(call({ maxSamples: 65537 }), { name: 'RangeError', message: 'marchRays: maxSamples must be at most 65536, got 65537' });
    await assert.rejects(call({ step: 1e-7 }), { name: 'RangeError', message: 'marchRays: step is too small for the box, got 1e-7' });
    await assert.rejects(call({ step: 0 }), { name: 'RangeError', message: 'marchRays: step must be positive, got 0' });
    await assert.rejects(call({ box: { min: Float32Array.of(0, 0, 1), max: Float32Array.of(1, 1, 1) } }), { name: 'RangeError', message: 'marchRays: boxMin must be below boxMax on every axis' });
    await assert.rejects(call({ occupancy: new Uint8Array(7), G: 2 }), { name: 'RangeError', message: 'marchRays: occupancy has length 7, expected 8 (G*G*G)' });
    await assert.rejects(call({ dirs: new Float32Array(6) }), { name: 'RangeError', message: 'marchRays: dirs has length 6, expected 3 (R*3)' });
    const limit = ctx.device.limits.maxStorageBufferBindingSize, G = Math.ceil(Math.cbrt(limit + 1));
    const small = ctx.storage('test small', 4), encoder = ctx.device.createCommandEncoder({ label: 'test limits encoder' });
    const b = { origins: small, dirs: small, occupancy: small, rayOffsets: small, scratch: small };
    assert.throws(() => encodeMarchCount(ctx, encoder, b, { rays: 0, box, gridRes: G, step: 0.1, maxSamples: 1 }),
      { name: 'RangeError', message: `marchRays: occupancy needs ${G ** 3} bytes, over the device's maxStorageBufferBindingSize (${limit})` });
    assert.throws(() => encodeMarchCount(ctx, encoder, b, { rays: 1, box, gridRes: 1, step: 0.1, maxSamples: 1 }), { name: 'RangeError', message: 'marchRays: the origins buffer holds 4 bytes, 12 needed' });
    assert.throws(() => encodeMarchCount(ctx, encoder, b, { rays: 0, box, gridRes: 1, step: 0.1, maxSamples: 1, stepsPerRay: 2 ** 25 }),
      { name: 'RangeError', message: 'marchRays: stepsPerRay must be an integer in [1, 16777218], got 33554432' });
    small.destroy();
    const none = await marchRaysOnGpu(ctx, new Float32Array(0), new Float32Array(0), box, occ, 1, 0.1, 4);
    assert.deepEqual([...none.rayOffsets], [0]);
    assert.equal(none.positions.length, 0);
  });
});
