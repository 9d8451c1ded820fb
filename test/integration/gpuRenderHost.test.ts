/**
 * The GPU render host (one process, one device, every GPU avatar session) on SwiftShader,
 * driven as the server drives it (GpuRenderHostPool, one FrameRenderer per session):
 * sessions' frames equal the CPU backend's, a tick of three sessions takes the queue
 * submissions a tick of one does (counted by the host on its device's queue), a forced
 * device loss moves every session to a CPU render process with no failed frame, a
 * killed host moves only its own sessions, saying why, and sessions on the CPU go back
 * to a fresh host.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blendshapeIndex, BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { FaceState } from '../../server/avatar/DrivenFace';
import { GpuRenderHostPool, type PooledRenderer } from '../../server/avatar/GpuRenderHostPool';
import { ProcessFrameRenderer } from '../../server/avatar/ProcessFrameRenderer';
import { psnr } from '../../server/engine/Metrics';
import { openTestGpu } from '../../kernels/wgsl/testGpu';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { renderProcessPids } from '../helpers/avatarPeers';

// Sets VK_ICD_FILENAMES for this process and the processes it starts (they inherit it).
const probe = await openTestGpu();
probe?.close();

/** A small call frame (SwiftShader shades about 1 GFLOP/s) over a flat colour. */
const SIZE = { width: 96, height: 54, background: { kind: 'colour', rgb: '#2a6f97' } } as const;
const SESSIONS = 3;

/** Session `s`'s face at frame `i`: each session its own expression and head turn. */
function face(s: number, i: number): FaceState {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  const p = 1.3 * s + 0.7 * i;
  blendshapes[blendshapeIndex('jawOpen')] = 0.5 + 0.45 * Math.sin(p);
  blendshapes[blendshapeIndex('browInnerUp')] = 0.5 + 0.45 * Math.cos(p);
  const half = ((12 * Math.sin(p)) * Math.PI) / 360;
  return { status: 'live', blendshapes, rotation: [0, Math.sin(half), 0, Math.cos(half)], translationCm: [0, 0, -40], ageMs: 0, sequence: i + 1 };
}

function toFloat(rgba: Uint8Array): Float32Array {
  const out = new Float32Array((rgba.length / 4) * 3);
  for (let p = 0, o = 0; p < rgba.length; p += 4) for (let c = 0; c < 3; c++) out[o++] = rgba[p + c]! / 255;
  return out;
}

describe('the GPU render host: many avatar sessions on one device', { skip: probe ? false : 'no Vulkan adapter here' }, () => {
  let avatarPath: string;
  /** Per session, the CPU backend's frames of the same faces (a render process per session, as the CPU backend runs). */
  const cpuFrames: Uint8Array[][] = [];
  const FRAMES = 4;
  before(async () => {
    avatarPath = syntheticAvatarFile();
    await Promise.all(Array.from({ length: SESSIONS }, async (_, s) => {
      const cpu = await ProcessFrameRenderer.open(avatarPath, SIZE);
      try {
        cpuFrames[s] = [];
        for (let i = 0; i < FRAMES; i++) cpuFrames[s]!.push((await cpu.render(face(s, i))).slice());
      } finally {
        cpu.close();
      }
    }));
  });

  /** One tick: every session's next frame asked for at once, as the server's sessions do. */
  async function tick(renderers: PooledRenderer[], i: number): Promise<Uint8Array[]> {
    return (await Promise.all(renderers.map((r, s) => r.render(face(s, i))))).map((f) => f.slice());
  }

  test('three sessions share one host and device, a tick of three takes the two submissions a tick of one does, and the frames equal the CPU backend\'s', async (t) => {
    const pool = new GpuRenderHostPool({ backend: 'gpu', allowSoftwareGpu: true });
    try {
      const renderers = await Promise.all(Array.from({ length: SESSIONS }, () => pool.open(avatarPath, SIZE)));
      assert.equal(pool.hosts.length, 1, 'one host for all the sessions');
      const host = pool.hosts[0]!;
      assert.match(host.backendReason, /VOXFACE_RENDER_BACKEND=gpu: SwiftShader/);
      for (const r of renderers) {
        assert.equal(r.backend, 'gpu');
        assert.equal(r.pid, host.pid, 'the session renders in the host process');
      }
      for (let i = 0; i < 2; i++) {
        const frames = await tick(renderers, i);
        for (const [s, frame] of frames.entries()) {
          const score = psnr(toFloat(frame), toFloat(cpuFrames[s]![i]!));
          t.diagnostic(`session ${s} frame ${i}: GPU host vs CPU ${Number.isFinite(score) ? `${score.toFixed(1)} dB` : 'identical'}`);
          assert.ok(score >= 40, `session ${s} frame ${i} matches the CPU backend: ${score.toFixed(2)} dB`);
        }
        assert.notDeepEqual(frames[0], frames[1], 'the sessions draw their own faces');
      }
      // A tick of one session, for the count.
      await renderers[0]!.render(face(0, 2));
      const stats = await host.stats();
      t.diagnostic(`host stats: ${JSON.stringify(stats)}`);
      assert.equal(stats.sessions, SESSIONS);
      assert.equal(stats.frames, 2 * SESSIONS + 1);
      // Faces asked for together are drawn together (all three, unless the host read the
      // first before the others reached its pipe: then the other two share the next tick).
      assert.ok(stats.maxSessionsPerTick >= 2, `a tick drew several sessions at once: ${stats.maxSessionsPerTick}`);
      assert.equal(stats.maxSubmissionsPerTick, 2, 'two queue submissions a tick, whatever the number of sessions');
      assert.ok(stats.recentTicks.every((x) => x.submissions === 2), 'every tick, of one session or many, took two');
      assert.ok(stats.recentTicks.some((x) => x.sessions === stats.maxSessionsPerTick) && stats.recentTicks.some((x) => x.sessions === 1));
      for (const r of renderers) r.close();
    } finally {
      pool.close();
    }
  });

  test('a device lost under the host: every session renders on, on the CPU, with no fault and no failed frame; a new session gets a fresh host', async (t) => {
    // No recovery here: this test looks at the sessions while they are on the CPU (the next test brings them back).
    const pool = new GpuRenderHostPool({ backend: 'gpu', allowSoftwareGpu: true, recoverAfterMs: Infinity });
    try {
      const renderers = await Promise.all(Array.from({ length: SESSIONS }, () => pool.open(avatarPath, SIZE)));
      let faults = 0;
      for (const r of renderers) void r.fault?.then(() => { faults++; });
      const host = pool.hosts[0]!;
      await tick(renderers, 0);
      host.loseDeviceForTest();
      const ended = await host.ended;
      assert.match(ended, /the GPU device was lost \(destroyed/);
      for (let i = 1; i < FRAMES; i++) {
        const frames = await tick(renderers, i);
        for (const [s, frame] of frames.entries()) {
          const score = psnr(toFloat(frame), toFloat(cpuFrames[s]![i]!));
          t.diagnostic(`after the loss, session ${s} frame ${i} (${renderers[s]!.backend}) vs CPU: ${Number.isFinite(score) ? `${score.toFixed(1)} dB` : 'identical'}`);
          assert.ok(score >= 40, `session ${s} frame ${i} is the avatar's frame: ${score.toFixed(2)} dB`);
        }
      }
      for (const r of renderers) {
        assert.equal(r.backend, 'cpu');
        assert.match(r.backendReason, /moved to the CPU: the GPU device was lost/);
        assert.notEqual(r.pid, host.pid, 'a CPU render process of its own');
        assert.ok(renderProcessPids().includes(r.pid!), 'a render process');
      }
      assert.equal(new Set(renderers.map((r) => r.pid)).size, SESSIONS, 'one CPU process per session');
      assert.equal(faults, 0);
      assert.deepEqual(pool.hosts, [], 'the lost host left the pool');
      const fresh = await pool.open(avatarPath, SIZE);
      assert.equal(fresh.backend, 'gpu', 'a new session renders on a fresh host\'s device');
      assert.notEqual(fresh.pid, host.pid);
      assert.ok((await fresh.render(face(0, 0))).some((v) => v !== 0));
      for (const r of [...renderers, fresh]) r.close();
    } finally {
      pool.close();
    }
  });

  test('a GPU host killed: only its own sessions move (to the CPU, saying why), another host\'s and a CPU render process\'s render on', async () => {
    const pool = new GpuRenderHostPool({ backend: 'gpu', allowSoftwareGpu: true, maxSessionsPerHost: 2, recoverAfterMs: Infinity });
    const cpuSession = await ProcessFrameRenderer.open(avatarPath, SIZE);
    try {
      const renderers = await Promise.all(Array.from({ length: SESSIONS }, () => pool.open(avatarPath, SIZE)));
      assert.equal(pool.hosts.length, 2, 'two sessions per host: a second host for the third');
      const [killed, other] = pool.hosts as [typeof pool.hosts[0], typeof pool.hosts[0]];
      const onKilled = renderers.filter((r) => r.pid === killed.pid), onOther = renderers.filter((r) => r.pid === other.pid);
      assert.equal(onKilled.length + onOther.length, SESSIONS);
      await tick(renderers, 0);
      const pid = killed.pid!;
      process.kill(pid, 'SIGKILL');
      assert.equal(await killed.ended, `GPU render host ${pid} was killed by SIGKILL`);
      const frames = await tick(renderers, 1);
      for (const [s, frame] of frames.entries()) assert.ok(psnr(toFloat(frame), toFloat(cpuFrames[s]![1]!)) >= 40, `session ${s} renders its frame`);
      for (const r of onKilled) {
        assert.equal(r.backend, 'cpu');
        assert.equal(r.backendReason, `moved to the CPU: GPU render host ${pid} was killed by SIGKILL`);
      }
      for (const r of onOther) {
        assert.equal(r.backend, 'gpu');
        assert.equal(r.pid, other.pid);
      }
      assert.equal(other.endedReason, undefined);
      assert.ok((await cpuSession.render(face(0, 1))).some((v) => v !== 0), 'the CPU backend\'s render process renders on');
      for (const r of renderers) r.close();
    } finally {
      cpuSession.close();
      pool.close();
    }
  });

  test('sessions that moved to the CPU go back to a fresh GPU host: their frames stay the avatar\'s throughout, and their CPU render processes close', async (t) => {
    const pool = new GpuRenderHostPool({ backend: 'gpu', allowSoftwareGpu: true, recoverAfterMs: 200 });
    try {
      const renderers = await Promise.all(Array.from({ length: 2 }, () => pool.open(avatarPath, SIZE)));
      let faults = 0;
      for (const r of renderers) void r.fault?.then(() => { faults++; });
      await tick(renderers, 0);
      const killed = pool.hosts[0]!, killedPid = killed.pid!;
      process.kill(killedPid, 'SIGKILL');
      await killed.ended;
      await tick(renderers, 1);
      const cpuPids = renderers.map((r) => r.pid!);
      assert.ok(cpuPids.every((pid) => pid !== killedPid && renderProcessPids().includes(pid)), 'on CPU render processes after the kill');
      // Frames go on while the sessions load on the new host; each is the avatar's frame.
      const deadline = Date.now() + 90_000;
      for (let i = 2; renderers.some((r) => r.backend !== 'gpu'); i++) {
        assert.ok(Date.now() < deadline, `back on the GPU within 90 s: ${renderers.map((r) => `${r.backend} (${r.backendReason})`).join(', ')}`);
        const frames = await tick(renderers, i % FRAMES);
        for (const [s, frame] of frames.entries()) assert.ok(psnr(toFloat(frame), toFloat(cpuFrames[s]![i % FRAMES]!)) >= 40, `session ${s} frame ${i} is the avatar's frame`);
        await new Promise((done) => setTimeout(done, 100));
      }
      const fresh = pool.hosts;
      assert.equal(fresh.length, 1, 'one fresh host');
      assert.notEqual(fresh[0]!.pid, killedPid);
      for (const [s, r] of renderers.entries()) {
        assert.equal(r.pid, fresh[0]!.pid, `session ${s} renders in the fresh host`);
        assert.ok(!r.backendReason.startsWith('moved to the CPU'), r.backendReason);
        const frame = await r.render(face(s, 3));
        const score = psnr(toFloat(frame), toFloat(cpuFrames[s]![3]!));
        t.diagnostic(`back on the GPU, session ${s} vs CPU: ${Number.isFinite(score) ? `${score.toFixed(1)} dB` : 'identical'}`);
        assert.ok(score >= 40);
      }
      assert.equal(faults, 0);
      const deadlineClosed = Date.now() + 10_000;
      while (cpuPids.some((pid) => renderProcessPids().includes(pid))) {
        assert.ok(Date.now() < deadlineClosed, 'the CPU render processes close once their sessions are back');
        await new Promise((done) => setTimeout(done, 100));
      }
      for (const r of renderers) r.close();
    } finally {
      pool.close();
    }
  });

  test('auto with no hardware GPU renders in CPU render processes (the host it asked found none), and gpu without one is a clear error', async () => {
    const auto = new GpuRenderHostPool({ backend: 'auto' });
    const gpu = new GpuRenderHostPool({ backend: 'gpu' });
    const renderers: Awaited<ReturnType<GpuRenderHostPool['open']>>[] = [];
    try {
      renderers.push(await auto.open(avatarPath, SIZE), await auto.open(avatarPath, SIZE));
      for (const r of renderers) {
        assert.equal(r.backend, 'cpu');
        assert.match(r.backendReason, /^auto: no hardware GPU adapter/);
        assert.ok(renderProcessPids().includes(r.pid!), 'a CPU render process');
      }
      assert.deepEqual(auto.hosts, [], 'no host stays for a machine without a GPU');
      assert.deepEqual(await renderers[0]!.render(face(0, 0)), cpuFrames[0]![0]);
      for (const r of renderers) r.close();
      await assert.rejects(gpu.open(avatarPath, SIZE), /VOXFACE_RENDER_BACKEND=gpu, but no hardware GPU adapter was found/);
    } finally {
      // Closed even when an assertion failed: a render process left open keeps the test file running.
      for (const r of renderers) r.close();
      auto.close();
      gpu.close();
    }
  });
});
