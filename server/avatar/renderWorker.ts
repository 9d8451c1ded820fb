/**
 * The avatar render thread: loads one avatar file, then renders the faces the
 * session sends into a shared RGBA buffer, so Node's event loop never waits for a
 * frame. Messages: in { face } → out { type: 'frame', renderMs } | { type: 'error' }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readAvatarFile } from '../engine/AvatarFile';
import { LIVE, StreamingRenderer } from '../engine/Renderer';
import { FaceToModelInputs } from './faceToModelInputs';
import type { RenderWorkerInit, RenderWorkerReply, RenderWorkerRequest } from './renderWorkerTypes';

const init = workerData as RenderWorkerInit;
const port = parentPort!;
const output = new Uint8Array(init.output);

function reply(message: RenderWorkerReply): void {
  port.postMessage(message);
}

let renderer: StreamingRenderer;
let inputs: FaceToModelInputs;
try {
  const model = readAvatarFile(init.avatarPath);
  // Live calls use the fast inference form (LIVE); its quality cost is measured in test/engine and bench:render.
  renderer = new StreamingRenderer(model, { width: init.width, height: init.height, ...LIVE, ...(init.renderScale ? { renderScale: init.renderScale } : {}) });
  inputs = new FaceToModelInputs(model.config);
  reply({ type: 'ready', expressionCount: model.config.expressionCount });
} catch (error) {
  reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(0);
}

port.on('message', (request: RenderWorkerRequest) => {
  try {
    const started = performance.now();
    const { coefficients, pose } = inputs.map(request.face);
    const rgba = renderer.render(coefficients, pose);
    output.set(rgba);
    reply({ type: 'frame', renderMs: performance.now() - started });
  } catch (error) {
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
