/**
 * The GPU render host: ONE process holding one GPU device for every GPU avatar session
 * of the server (GpuRenderHost is its server side; the wire is gpuHostProtocol.ts). Each
 * session is a GpuStreamingRenderer on the shared device; the faces that arrived since
 * the last tick are drawn together by a GpuFrameBatch (two queue submissions a tick,
 * whatever the number of sessions), and the next tick starts while this one's frames
 * come back. Frames go to the server as they land, each from its session's reused buffer.
 *
 * A device lost or a GPU failure ends the host's GPU: it says so ('lost'), and exits;
 * the server moves each session to a CPU render process of its own (GpuHostFrameRenderer).
 * With no GPU adapter under 'auto', it says ready with backend 'cpu' and exits. It exits
 * when its stdin closes (the server closed it, or the server is gone).
 */
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { readAvatarFileContents } from '../engine/AvatarFile';
import { buildUnderLayer } from '../engine/AvatarPlates';
import type { HeadPose } from '../engine/AvatarModelTypes';
import { framingCamera } from '../engine/Framing';
import { GpuFrameBatch } from '../engine/GpuFrameBatch';
import { GpuStreamingRenderer } from '../engine/GpuRenderer';
import { LIVE, type RendererOptions } from '../engine/Renderer';
import { FaceToModelInputs } from './faceToModelInputs';
import { HOST_MESSAGE, hostMessageHeader, hostRequest, type GpuHostInit, type GpuHostRequest, type GpuHostStats } from './gpuHostProtocol';
import { openRenderBackend } from './renderBackend';

const init = JSON.parse(process.argv[2] ?? '{}') as GpuHostInit;
const out = new Socket({ fd: 3, readable: false, writable: true });
out.on('error', () => process.exit(0)); // the server is gone

function sendText(type: (typeof HOST_MESSAGE)[Exclude<keyof typeof HOST_MESSAGE, 'frame'>], session: number, text: string): void {
  const payload = Buffer.from(text, 'utf8');
  out.write(hostMessageHeader(type, session, payload.length));
  out.write(payload);
}

interface Session {
  readonly id: number;
  readonly renderer: GpuStreamingRenderer;
  readonly inputs: FaceToModelInputs;
  /** Until its warm-up frame lands, the session is not open to the server. */
  warm: boolean;
}

/** A session's next frame: its face as the model's inputs, and when the request came. */
interface Job {
  readonly session: Session;
  readonly coefficients: Float32Array;
  readonly pose: HeadPose;
  readonly receivedAt: number;
}

const backend = await openRenderBackend(init.backend, { allowSoftware: init.allowSoftwareGpu === true }).catch((error: unknown) => {
  sendText(HOST_MESSAGE.error, 0, error instanceof Error ? error.message : String(error));
  out.end(() => process.exit(0));
  return null;
});
if (backend?.kind === 'cpu') {
  // No GPU (auto): the server renders on the CPU, as it would have without a host.
  sendText(HOST_MESSAGE.ready, 0, JSON.stringify({ backend: 'cpu', backendReason: backend.reason }));
  out.end(() => process.exit(0));
}

if (backend?.kind === 'gpu') {
  const ctx: GpuContext = backend.ctx;
  // Every submission the device's queue takes, whoever makes it: what the stats report per tick.
  const queue = ctx.device.queue, submit = queue.submit;
  let submissions = 0;
  queue.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
    submissions++;
    return submit.call(this, buffers);
  };
  const batch = new GpuFrameBatch(ctx, `${ctx.label} host`);
  const sessions = new Map<number, Session>();
  const pending = new Map<number, Job>();
  const stats: GpuHostStats = { sessions: 0, ticks: 0, frames: 0, submissions: 0, maxSubmissionsPerTick: 0, maxSessionsPerTick: 0, recentTicks: [] };
  let ticking = false, failed = false;

  const fail = (why: string) => {
    if (failed) return;
    failed = true;
    process.stderr.write(`voxface GPU render host ${process.pid}: ${why}; its ${sessions.size} session(s) move to the CPU\n`);
    sendText(HOST_MESSAGE.lost, 0, why);
    out.end(() => process.exit(0));
  };
  void ctx.lost.then((info) => fail(`the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`));

  const schedule = () => {
    if (ticking || failed || pending.size === 0) return;
    ticking = true;
    // Faces that arrive in the same turn of the event loop join this tick.
    setImmediate(() => void tick());
  };

  const tick = async () => {
    const jobs = [...pending.values()].filter((j) => !j.session.renderer.inFlight && !j.session.renderer.isClosed);
    for (const j of jobs) pending.delete(j.session.id);
    const before = submissions;
    let frames: Promise<Uint8Array[]>;
    try {
      frames = (await batch.submit(jobs.map((j) => ({ renderer: j.session.renderer, coefficients: j.coefficients, pose: j.pose })))).frames;
    } catch (error) {
      fail(`the GPU failed (${(error as Error).message})`);
      return;
    }
    const counted = submissions - before;
    stats.ticks++;
    stats.maxSubmissionsPerTick = Math.max(stats.maxSubmissionsPerTick, counted);
    stats.maxSessionsPerTick = Math.max(stats.maxSessionsPerTick, jobs.length);
    stats.recentTicks.push({ sessions: jobs.length, submissions: counted });
    if (stats.recentTicks.length > 32) stats.recentTicks.shift();
    // The next tick's phases may run while this tick's frames come back.
    ticking = false;
    schedule();
    let rgba: Uint8Array[];
    try {
      rgba = await frames;
    } catch (error) {
      fail(`the GPU failed (${(error as Error).message})`);
      return;
    }
    if (failed) return;
    const now = performance.now();
    for (const [i, job] of jobs.entries()) {
      const session = job.session;
      if (sessions.get(session.id) !== session) continue;
      if (!session.warm) {
        session.warm = true;
        session.renderer.restart();
        sendText(HOST_MESSAGE.opened, session.id, JSON.stringify({ expressionCount: session.renderer.model.config.expressionCount }));
        continue;
      }
      stats.frames++;
      const frame = rgba[i]!;
      // The session's own buffer, rewritten only by its next frame, which the server asks
      // for once this one has arrived: no copy for the socket.
      out.write(hostMessageHeader(HOST_MESSAGE.frame, session.id, frame.length, now - job.receivedAt));
      out.write(frame);
    }
  };

  const open = (request: Extract<GpuHostRequest, { type: 'open' }>) => {
    if (sessions.has(request.session)) throw new Error(`session ${request.session} is open already`);
    const { model, plates, encoder } = readAvatarFileContents(request.avatarPath);
    // As renderProcess.ts: the call's framing and the session's under-layer, the LIVE preset.
    const camera = framingCamera(model.config.camera, request.width, request.height);
    const under = buildUnderLayer(request.background ?? { kind: 'blur' }, plates, camera);
    const options: RendererOptions = {
      width: request.width, height: request.height, camera, under, ...LIVE, ...(request.renderScale ? { renderScale: request.renderScale } : {}),
    };
    const session: Session = { id: request.session, renderer: new GpuStreamingRenderer(ctx, model, options), inputs: new FaceToModelInputs(model.config, encoder), warm: false };
    sessions.set(session.id, session);
    stats.sessions = sessions.size;
    // Its warm-up frame (pipelines compile on a shape's first use) goes in the next tick.
    const { pose } = session.inputs.map({ blendshapes: new Float32Array(BLENDSHAPE_COUNT), rotation: [0, 0, 0, 1], translationCm: [0, 0, -40] });
    pending.set(session.id, { session, coefficients: new Float32Array(model.config.expressionCount), pose, receivedAt: performance.now() });
    schedule();
  };

  const handle = (request: GpuHostRequest) => {
    switch (request.type) {
      case 'open':
        try {
          open(request);
        } catch (error) {
          sendText(HOST_MESSAGE.error, request.session, error instanceof Error ? error.message : String(error));
        }
        return;
      case 'render': {
        const session = sessions.get(request.session);
        if (!session?.warm) return;
        const { coefficients, pose } = session.inputs.map({ ...request.face, blendshapes: Float32Array.from(request.face.blendshapes), code: request.face.code ?? null });
        pending.set(session.id, { session, coefficients, pose, receivedAt: performance.now() });
        schedule();
        return;
      }
      case 'close': {
        const session = sessions.get(request.session);
        sessions.delete(request.session);
        pending.delete(request.session);
        stats.sessions = sessions.size;
        session?.renderer.close(); // a frame in flight lands first
        return;
      }
      case 'stats':
        sendText(HOST_MESSAGE.stats, 0, JSON.stringify({ ...stats, submissions }));
        return;
      case 'loseDevice':
        ctx.device.destroy();
        return;
    }
  };

  createInterface({ input: process.stdin, crlfDelay: Infinity })
    .on('line', (line) => {
      let request: GpuHostRequest;
      try {
        request = hostRequest.parse(JSON.parse(line));
      } catch (error) {
        sendText(HOST_MESSAGE.error, 0, `bad request: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      handle(request);
    })
    .on('close', () => process.exit(0));
  sendText(HOST_MESSAGE.ready, 0, JSON.stringify({ backend: 'gpu', backendReason: backend.reason }));
}
