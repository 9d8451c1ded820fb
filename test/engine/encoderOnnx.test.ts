/**
 * The expression encoder's ONNX export (server/encoder/onnx), loaded back by
 * onnxruntime-web's wasm backend in Node and in headless Chromium, against the trainer's
 * kernel forward and the browser's TypeScript forward on 100 random inputs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { cpuKernels } from '../../kernels/index';
import { protobufFields } from '../../server/dataset/canonicalMesh';
import { ExpressionEncoder } from '../../server/encoder/ExpressionEncoder';
import { expressionInputSpec, fitExpressionEncoder } from '../../server/encoder/fitEncoder';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, encoderOnnxModel, writeEncoderOnnx } from '../../server/encoder/onnx/encoderOnnx';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { poseNormalizedLandmarks, standardize } from '../../shared/expression/expressionInput';
import { expressionCodes } from '../../shared/expression/expressionNetwork';
import { launchChromium } from '../helpers/browser';
import { normalizer, randomImagePose, syntheticLandmarks } from './encoderFixtures';

const N = 100;
/** float32 tolerance: outputs are tanh in [-1, 1] after ~230-term float32 sums. */
const TOLERANCE = 1e-5;

/** A fitted encoder with trained-looking (random) weights, and N random pose-normalised inputs around its dataset's mean. */
function fixture(): { encoder: ExpressionEncoder; inputs: Float32Array } {
  const rand = seededRandom(21), spec = expressionInputSpec(normalizer);
  const encoder = fitExpressionEncoder(spec, Array.from({ length: 30 }, () => syntheticLandmarks(rand(), rand(), randomImagePose(rand))), 51, { seed: 4 });
  for (const t of [encoder.params.w0, encoder.params.w1]) for (let i = 0; i < t.length; i++) t[i]! *= 2; // codes away from 0
  const D = encoder.inputSize, { mean, std } = encoder.normalization;
  const inputs = Float32Array.from({ length: N * D }, (_, i) => mean[i % D]! + 2 * std[i % D]! * (rand() + rand() + rand() - 1.5));
  return { encoder, inputs };
}

/** The trainer's forward: standardisation, then the kernels' dense layers and tanh. */
function trainerCodes(encoder: ExpressionEncoder, inputs: Float32Array): Float32Array {
  const D = encoder.inputSize, x = Float32Array.from(inputs);
  for (let r = 0; r < N; r++) standardize(x.subarray(r * D, (r + 1) * D), encoder.normalization);
  return encoder.forward(cpuKernels, x, N).code;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('expression encoder ONNX export', () => {
  const { encoder, inputs } = fixture();
  const dir = mkdtempSync(join(tmpdir(), 'voxface-encoder-onnx-'));
  const path = join(dir, 'encoder.onnx');
  let session: ort.InferenceSession;
  before(async () => {
    writeEncoderOnnx(path, encoder);
    ort.env.wasm.numThreads = 1;
    session = await ort.InferenceSession.create(readFileSync(path), { executionProviders: ['wasm'] });
  });
  after(async () => {
    await session?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  test("onnxruntime-web (wasm, Node) gives the trainer's codes on 100 random inputs within float32 tolerance", async () => {
    assert.deepEqual(readdirSync(dir), ['encoder.onnx'], 'written atomically (no temporary file left)');
    assert.deepEqual([session.inputNames, session.outputNames], [[ONNX_INPUT_NAME], [ONNX_OUTPUT_NAME]]);
    const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', inputs, [N, encoder.inputSize]) });
    const code = out[ONNX_OUTPUT_NAME]!;
    assert.deepEqual(code.dims, [N, encoder.codeSize]);
    const onnx = code.data as Float32Array, trainer = trainerCodes(encoder, inputs);
    const x = Float32Array.from(inputs);
    for (let r = 0; r < N; r++) standardize(x.subarray(r * encoder.inputSize, (r + 1) * encoder.inputSize), encoder.normalization);
    const plain = expressionCodes(encoder.network, x, N);
    const vsTrainer = maxAbsDiff(onnx, trainer), vsPlain = maxAbsDiff(onnx, plain);
    const spread = Math.max(...trainer) - Math.min(...trainer);
    process.stderr.write(`${JSON.stringify({ onnxVsTrainerMaxAbs: vsTrainer, onnxVsTypeScriptMaxAbs: vsPlain, codeRange: spread, onnxBytes: readFileSync(path).length })}\n`);
    assert.ok(spread > 0.5, `the codes span ${spread}: a comparison of near-constant outputs would prove little`);
    assert.ok(vsTrainer <= TOLERANCE, `ONNX vs trainer: max abs error ${vsTrainer}`);
    assert.ok(vsPlain <= TOLERANCE, `ONNX vs the TypeScript forward: max abs error ${vsPlain}`);
  });

  test('the model names its producer, its IR and opset, and says which landmarks it reads (read back by an independent protobuf reader)', () => {
    const bytes = readFileSync(path), top = [...protobufFields(bytes)], text = (b?: Uint8Array) => new TextDecoder().decode(b);
    const field = (n: number) => top.filter((f) => f.number === n);
    assert.equal(field(1)[0]!.value, 8, 'ir_version');
    assert.equal(text(field(2)[0]!.bytes), 'voxface', 'producer_name');
    const opset = [...protobufFields(field(8)[0]!.bytes!)];
    assert.equal(opset.find((f) => f.number === 2)!.value, 13, 'opset_import.version');
    const meta = Object.fromEntries(field(14).map((f) => { const kv = [...protobufFields(f.bytes!)]; return [text(kv[0]!.bytes), text(kv[1]!.bytes)]; }));
    assert.deepEqual(meta, { 'voxface.landmarkIds': JSON.stringify(encoder.spec.landmarkIds), 'voxface.codeSize': '12' });
    const ops = [...protobufFields(field(7)[0]!.bytes!)].filter((f) => f.number === 1)
      .map((n) => text([...protobufFields(n.bytes!)].find((f) => f.number === 4)!.bytes));
    assert.deepEqual(ops, ['Sub', 'Div', 'Gemm', 'Relu', 'Gemm', 'Tanh']);
  });

  test('one frame (pose removal and the network) costs well under the 3 ms budget through onnxruntime-web wasm', async () => {
    const one = new ort.Tensor('float32', inputs.slice(0, encoder.inputSize), [1, encoder.inputSize]);
    const landmarks = syntheticLandmarks(0.4, 0.6, { angle: 0.1, scale: 0.9, cx: 250, cy: 270 });
    const tp = performance.now();
    for (let i = 0; i < 200; i++) poseNormalizedLandmarks(landmarks, encoder.spec);
    const poseMs = (performance.now() - tp) / 200;
    for (let i = 0; i < 20; i++) await session.run({ [ONNX_INPUT_NAME]: one });
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await session.run({ [ONNX_INPUT_NAME]: one });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[100]!, p95 = times[190]!;
    process.stderr.write(`${JSON.stringify({ poseRemovalMsPerFrame: +poseMs.toFixed(4), onnxMsPerFrameMedian: +median.toFixed(4), onnxMsPerFrameP95: +p95.toFixed(4) })}\n`);
    // The budget is 3 ms; a shared, loaded machine may stretch single runs, so only the median is held to it.
    assert.ok(poseMs + median < 3, `pose removal ${poseMs} ms + network median ${median} ms a frame`);
  });

  test('a malformed input is refused with an error naming the expected shape, a malformed encoder is never exported', async () => {
    const wrong = new ort.Tensor('float32', new Float32Array(10), [1, 10]);
    await assert.rejects(session.run({ [ONNX_INPUT_NAME]: wrong }), (e: Error) => /landmarks/.test(e.message) && /Expected: 218|index: 1 Got: 10/.test(e.message));
    const broken = ExpressionEncoder.create(encoder.spec, encoder.normalization, 51, { seed: 1 });
    broken.params.w1[3] = Number.NaN;
    assert.throws(() => new ExpressionEncoder(broken.spec, broken.normalization, 51, broken.hidden, broken.codeSize, broken.params),
      new RangeError('expression encoder: w1 has a non-finite value'));
    // A run that diverged after the encoder was built (NaN weights) is caught at export, not in the browser.
    const diverged = ExpressionEncoder.create(encoder.spec, encoder.normalization, 51, { seed: 2 });
    diverged.params.b0[0] = Number.POSITIVE_INFINITY;
    assert.throws(() => encoderOnnxModel(diverged), new RangeError('expression encoder: b0 has a non-finite value'));
  });
});

/** Serves the ort wasm build (node_modules/onnxruntime-web/dist) under /ort/, the model and a blank page. */
function serveOrt(model: Uint8Array): Promise<Server> {
  const dist = resolve('node_modules/onnxruntime-web/dist');
  const types: Record<string, string> = { mjs: 'text/javascript', wasm: 'application/wasm' };
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') { res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>ort</title>'); return; }
    if (url === '/model.onnx') { res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(model); return; }
    const m = /^\/ort\/([\w.-]+\.(mjs|wasm))$/.exec(url);
    if (!m) { res.writeHead(404).end(); return; }
    try {
      res.writeHead(200, { 'content-type': types[m[2]!]! }).end(readFileSync(join(dist, m[1]!)));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

describe('expression encoder ONNX export in headless Chromium', () => {
  test("onnxruntime-web's wasm backend in Chromium gives the trainer's codes on 100 random inputs within float32 tolerance", async () => {
    const { encoder, inputs } = fixture();
    const server = await serveOrt(encoderOnnxModel(encoder));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const result = await page.evaluate(async ({ data, n, d, input, output }) => {
        const ort: any = await import('/ort/ort.wasm.min.mjs' as string);
        ort.env.wasm.numThreads = 1; // no cross-origin isolation on this page, and the tracker worker runs one thread
        ort.env.wasm.wasmPaths = '/ort/';
        const bytes = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
        const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
        const out = await session.run({ [input]: new ort.Tensor('float32', Float32Array.from(data), [n, d]) });
        const one = new ort.Tensor('float32', Float32Array.from(data.slice(0, d)), [1, d]);
        for (let i = 0; i < 20; i++) await session.run({ [input]: one });
        const t0 = performance.now();
        for (let i = 0; i < 100; i++) await session.run({ [input]: one });
        return { code: Array.from(out[output].data as Float32Array), dims: out[output].dims, msPerFrame: (performance.now() - t0) / 100 };
      }, { data: Array.from(inputs), n: N, d: encoder.inputSize, input: ONNX_INPUT_NAME, output: ONNX_OUTPUT_NAME });
      assert.deepEqual(errors, []);
      assert.deepEqual(result.dims, [N, encoder.codeSize]);
      const err = maxAbsDiff(result.code, trainerCodes(encoder, inputs));
      process.stderr.write(`${JSON.stringify({ chromiumOnnxVsTrainerMaxAbs: err, chromiumMsPerFrame: +result.msPerFrame.toFixed(4) })}\n`);
      assert.ok(err <= TOLERANCE, `Chromium ONNX vs trainer: max abs error ${err}`);
    } finally {
      await browser.close();
      server.close();
    }
  });
});
