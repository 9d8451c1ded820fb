/**
 * The avatar render process (one per avatar renderer on the CPU backend; GPU avatars
 * render in the GPU render host, gpuHostProcess.ts): loads one avatar file, then
 * renders each face it reads on stdin and writes the RGBA frame to fd 3. It runs the
 * native kernels away from the server, so a fault in them (a SIGSEGV) ends this
 * process and that one avatar, never the server. It exits when its stdin closes (the
 * server closed the renderer, or the server itself is gone).
 */
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { readAvatarFileContents } from '../engine/AvatarFile';
import { buildUnderLayer } from '../engine/AvatarPlates';
import { framingCamera } from '../engine/Framing';
import { LIVE, type RendererOptions, StreamingRenderer } from '../engine/Renderer';
import { FaceToModelInputs } from './faceToModelInputs';
import { MESSAGE_TYPE, messageHeader, type RenderProcessInit, type RenderProcessRequest } from './renderProcessProtocol';

const init = JSON.parse(process.argv[2] ?? '{}') as RenderProcessInit;
const out = new Socket({ fd: 3, readable: false, writable: true });
out.on('error', () => process.exit(0)); // the server is gone

function sendText(type: typeof MESSAGE_TYPE.ready | typeof MESSAGE_TYPE.error, text: string): void {
  const payload = Buffer.from(text, 'utf8');
  out.write(messageHeader(type, payload.length));
  out.write(payload);
}

let renderer: StreamingRenderer;
let inputs: FaceToModelInputs;
try {
  const { model, plates, encoder } = readAvatarFileContents(init.avatarPath);
  // The call's framing (a webcam's view of the person), and the layers behind the head
  // built once for this session and size (Compositing.ts, AvatarPlates.ts).
  const camera = framingCamera(model.config.camera, init.width, init.height);
  // The background was checked at the signaling boundary (zod); buildUnderLayer checks the colour again.
  const under = buildUnderLayer(init.background ?? { kind: 'blur' }, plates, camera);
  // Live calls use the fast inference form (LIVE); its quality cost is measured in test/engine and bench:render.
  const options: RendererOptions = {
    width: init.width, height: init.height, camera, under, ...LIVE, ...(init.renderScale ? { renderScale: init.renderScale } : {}),
  };
  inputs = new FaceToModelInputs(model.config, encoder);
  renderer = new StreamingRenderer(model, options);
  sendText(MESSAGE_TYPE.ready, JSON.stringify({ expressionCount: model.config.expressionCount }));
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
        const { coefficients, pose } = inputs.map({ ...face, blendshapes: Float32Array.from(face.blendshapes), code: face.code ?? null });
        const rgba = renderer.render(coefficients, pose);
        out.write(messageHeader(MESSAGE_TYPE.frame, rgba.length, performance.now() - started));
        out.write(rgba);
      } catch (error) {
        sendText(MESSAGE_TYPE.error, error instanceof Error ? error.message : String(error));
      }
    })();
  })
  .on('close', () => process.exit(0));
