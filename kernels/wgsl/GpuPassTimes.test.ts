// GpuPassTimes on SwiftShader (it has timestamp queries): every pass encoded while
// recording is timed, in order and labelled; a big pass takes longer than a tiny one; a
// full query set counts the passes it could not time; misuse is refused.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { uniform, rng } from '../testUtil';
import { encodeBlendVolumes } from './blendVolumes';
import { PASS_TIMES_CAPACITY, passTimesByOp } from './GpuPassTimes';
import { openTestGpu } from './testGpu';

const ctx = await openTestGpu({ label: 'timed', passTimes: true });

describe('GpuPassTimes', { skip: ctx ? false : 'no Vulkan adapter here' }, () => {
  const g = ctx!;
  after(() => g.close());
  const E = 8, big = 1 << 18, rand = rng(3);
  const buffers = (V: number) => ({
    mean: g.upload(`mean ${V}`, uniform(V, -1, 1, rand)), bases: g.upload(`bases ${V}`, uniform(E * V, -1, 1, rand)),
    coeff: g.upload(`coeff ${V}`, uniform(E, -1, 1, rand)), out: g.storage(`out ${V}`, 4 * V),
  });
  const small = buffers(64), large = buffers(big);

  test('times every pass encoded while recording, in encoding order, and a 4096x bigger blend takes longer', async () => {
    assert.ok(g.passTimes, 'SwiftShader offers timestamp-query');
    const encoder = g.device.createCommandEncoder({ label: 'timed encoder' });
    encodeBlendVolumes(g, encoder, small, E, 64); // not recording: untimed
    g.passTimes.start();
    encodeBlendVolumes(g, encoder, small, E, 64);
    encodeBlendVolumes(g, encoder, large, E, big);
    encodeBlendVolumes(g, encoder, small, E, 64);
    g.device.queue.submit([encoder.finish()]);
    const r = await g.passTimes.stop();
    assert.deepEqual(r.passes.map((p) => p.label), ['timed blendVolumes pass', 'timed blendVolumes pass', 'timed blendVolumes pass']);
    assert.equal(r.untimed, 0);
    const [a, b, c] = r.passes.map((p) => p.ms) as [number, number, number];
    assert.ok(b > a && b > c, `the big pass ${b} ms, the small ones ${a} and ${c} ms`);
    assert.ok(r.spanMs >= b, `span ${r.spanMs} ms holds the big pass's ${b} ms`);
    // Dawn is told not to round timestamps to 65.5 us (GpuContext): some pass ends off that grid.
    const quantum = 65536 / 1e6;
    assert.ok(r.passes.some((p) => Math.abs(p.ms / quantum - Math.round(p.ms / quantum)) > 1e-6), `unrounded times: ${r.passes.map((p) => p.ms).join(', ')}`);
    assert.deepEqual(passTimesByOp(r.passes, 'timed').map(({ op, passes }) => ({ op, passes })), [{ op: 'blendVolumes', passes: 3 }]);
  });

  test('passes past the query set\'s capacity are counted as untimed, and the next recording starts afresh', async () => {
    const encoder = g.device.createCommandEncoder({ label: 'full encoder' });
    g.passTimes!.start();
    for (let i = 0; i < PASS_TIMES_CAPACITY + 3; i++) encodeBlendVolumes(g, encoder, small, E, 64);
    g.device.queue.submit([encoder.finish()]);
    const full = await g.passTimes!.stop();
    assert.equal(full.passes.length, PASS_TIMES_CAPACITY);
    assert.equal(full.untimed, 3);
    g.passTimes!.start();
    const again = await g.passTimes!.stop();
    assert.deepEqual(again, { passes: [], untimed: 0, spanMs: 0 });
  });

  test('stop() without start() and a second start() are refused with InvalidStateError', async () => {
    await assert.rejects(g.passTimes!.stop(), { name: 'InvalidStateError', message: 'GpuPassTimes is not recording' });
    g.passTimes!.start();
    assert.throws(() => g.passTimes!.start(), { name: 'InvalidStateError', message: 'GpuPassTimes is already recording' });
    await g.passTimes!.stop();
  });

  test('a context opened without passTimes has none', async () => {
    const plain = await openTestGpu({ label: 'plain' });
    try {
      assert.equal(plain!.passTimes, null);
    } finally {
      plain!.close();
    }
  });
});
