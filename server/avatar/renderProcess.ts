/**
 * The avatar render process (one per avatar renderer): loads one avatar file, then
 * renders each face it reads on stdin and writes the RGBA frame to fd 3. It runs the
 * native kernels away from the server, so a fault in them (a SIGSEGV) ends this
 * process and that one avatar, never the server. It exits when its stdin closes (the
 * server closed the renderer, or the server itself is gone).
 */
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import { readAvatarFileContents } from '../engine/AvatarFile';
import { buildUnderLayer } from '../engine/AvatarPlates';
import { framingCamera } from '../engine/Framing';
import type { AvatarModel } from '../engine/AvatarModel';
import type { HeadPose } from '../engine/AvatarModelTypes';
import { GpuStreamingRenderer } from '../engine/GpuRenderer';
import { LIVE, type RendererOptions, StreamingRenderer } from '../engine/Renderer';
import { FaceToModelInputs } from './faceToModelInputs';
import { openRenderBackend } from './renderBackend';
import {
  MESSAGE_TYPE, messageHeader, type RenderBackendKind, type RenderProcessInit, type RenderProcessRequest,
} from './renderProcessProtocol';

const init = JSON.parse(process.argv[2] ?? '{}') as RenderProcessInit;
const out = new Socket({ fd: 3, readable: false, writable: true });
out.on('error', () => process.exit(0)); // the server is gone

function sendText(type: typeof MESSAGE_TYPE.ready | typeof MESSAGE_TYPE.error, text: string): void {
  const payload = Buffer.from(text, 'utf8');
  out.write(messageHeader(type, payload.length));
  out.write(payload);
}

/** The avatar's live renderer on one backend, and how to fall back to the CPU. */
class LiveRenderer {
  backend: RenderBackendKind;
  #gpu: GpuStreamingRenderer | null;
  #cpu: StreamingRenderer | null = null;
  #frames = 0;

  constructor(private readonly model: AvatarModel, private readonly options: RendererOptions, gpu: GpuStreamingRenderer | null) {
    this.#gpu = gpu;
    this.backend = gpu ? 'gpu' : 'cpu';
  }

  async render(coefficients: Float32Array, pose: HeadPose): Promise<Uint8Array> {
    const gpu = this.#gpu;
    if (gpu) {
      if (init.loseGpuAfterFrames !== undefined && this.#frames++ === init.loseGpuAfterFrames) gpu.ctx.device.destroy();
      try {
        return await gpu.render(coefficients, pose);
      } catch (error) {
        this.#fallBack(`the GPU failed (${(error as Error).message})`);
      }
    }
    this.#cpu ??= new StreamingRenderer(this.model, this.options);
    return this.#cpu.render(coefficients, pose);
  }

  /** From now on this avatar renders on the CPU; the GPU's resources are freed. */
  #fallBack(why: string): void {
    if (!this.#gpu) return;
    process.stderr.write(`voxface render process ${process.pid}: ${why}; this avatar renders on the CPU from now on\n`);
    this.#gpu.close();
    this.#gpu.ctx.close();
    this.#gpu = null;
    this.backend = 'cpu';
  }

  /** A device lost between frames is noticed here, before the next frame tries it. */
  watch(lost: Promise<GPUDeviceLostInfo>): void {
    void lost.then((info) => this.#fallBack(`the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`));
  }
}

let renderer: LiveRenderer;
let inputs: FaceToModelInputs;
try {
  const { model, plates } = readAvatarFileContents(init.avatarPath);
  // The call's framing (a webcam's view of the person), and the layers behind the head
  // built once for this session and size (Compositing.ts, AvatarPlates.ts).
  const camera = framingCamera(model.config.camera, init.width, init.height);
  // The background was checked at the signaling boundary (zod); buildUnderLayer checks the colour again.
  const under = buildUnderLayer(init.background ?? { kind: 'blur' }, plates, camera);
  // Live calls use the fast inference form (LIVE); its quality cost is measured in test/engine and bench:render.
  const options: RendererOptions = {
    width: init.width, height: init.height, camera, under, ...LIVE, ...(init.renderScale ? { renderScale: init.renderScale } : {}),
  };
  const backend = await openRenderBackend(init.backend ?? 'cpu', { allowSoftware: init.allowSoftwareGpu === true });
  inputs = new FaceToModelInputs(model.config);
  let gpu: GpuStreamingRenderer | null = null;
  if (backend.kind === 'gpu') {
    gpu = new GpuStreamingRenderer(backend.ctx, model, options);
    await gpu.warmUp(inputs.map({ blendshapes: new Float32Array(BLENDSHAPE_COUNT), rotation: [0, 0, 0, 1], translationCm: [0, 0, -40] }).pose);
  }
  renderer = new LiveRenderer(model, options, gpu);
  if (backend.kind === 'gpu') renderer.watch(backend.ctx.lost);
  sendText(MESSAGE_TYPE.ready, JSON.stringify({ expressionCount: model.config.expressionCount, backend: backend.kind, backendReason: backend.reason }));
} catch (error) {
  sendText(MESSAGE_TYPE.error, error instanceof Error ? error.message : String(error));
  out.end(() => process.exit(0));
}

// One request at a time: the server sends the next face only after this frame arrived.
createInterface({ input: process.stdin, crlfDelay: Infinity })
  .on('line', (line) => {
    if (!renderer) return;
    void (async () => {
      try {
        const { face } = JSON.parse(line) as RenderProcessRequest;
        const started = performance.now();
        const { coefficients, pose } = inputs.map({ ...face, blendshapes: Float32Array.from(face.blendshapes) });
        const rgba = await renderer.render(coefficients, pose);
        out.write(messageHeader(MESSAGE_TYPE.frame, rgba.length, performance.now() - started, renderer.backend));
        out.write(rgba);
      } catch (error) {
        sendText(MESSAGE_TYPE.error, error instanceof Error ? error.message : String(error));
      }
    })();
  })
  .on('close', () => process.exit(0));
