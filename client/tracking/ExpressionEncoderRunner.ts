/**
 * The avatar's expression encoder in the tracker's worker (issue 16): a tracked frame's
 * landmarks -> pose removal (shared/expression/expressionInput.ts, the trainer's own
 * preprocessing) -> the avatar's ONNX model on onnxruntime-web's wasm backend (one
 * thread: the page is not cross-origin isolated, and the worker already runs MediaPipe)
 * -> the code, quantised to int8 for the packet (shared/expression/codeQuantization.ts).
 *
 * onnxruntime-web is loaded at run time from the server (`ortBaseUrl`, node_modules/
 * onnxruntime-web/dist served at /ort/), never from another host, and only when an
 * avatar has an encoder: pages without one never download its ~11 MB of wasm.
 */
import { quantizeCode } from '../../shared/expression/codeQuantization';
import { type ExpressionInputSpec, FACE_LANDMARK_COUNT } from '../../shared/expression/ExpressionTypes';
import { poseNormalizedLandmarks } from '../../shared/expression/expressionInput';

/** The graph's input and output names (server/encoder/onnx/encoderOnnx.ts). */
const INPUT_NAME = 'landmarks';
const OUTPUT_NAME = 'code';

/** The part of onnxruntime-web used here (it is imported at run time, untyped). */
interface OrtModule {
  env: { wasm: { numThreads: number; wasmPaths: string } };
  InferenceSession: { create(bytes: Uint8Array, options: { executionProviders: string[] }): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
  release(): Promise<void>;
}

export class ExpressionEncoderRunner {
  readonly codeSize: number;
  readonly #ort: OrtModule;
  readonly #session: OrtSession;
  readonly #spec: ExpressionInputSpec;
  readonly #px = new Float32Array(2 * FACE_LANDMARK_COUNT);
  readonly #input: Float32Array;

  private constructor(ort: OrtModule, session: OrtSession, spec: ExpressionInputSpec, codeSize: number) {
    this.#ort = ort;
    this.#session = session;
    this.#spec = spec;
    this.codeSize = codeSize;
    this.#input = new Float32Array(2 * spec.landmarkIds.length);
  }

  /** Loads onnxruntime-web from `ortBaseUrl` and the model; checks it answers a code of `codeSize` for a neutral input. */
  static async load(ortBaseUrl: string, onnx: Uint8Array, spec: ExpressionInputSpec, codeSize: number): Promise<ExpressionEncoderRunner> {
    const base = ortBaseUrl.endsWith('/') ? ortBaseUrl : `${ortBaseUrl}/`;
    const ort = (await import(/* webpackIgnore: true */ `${base}ort.wasm.min.mjs`)) as OrtModule;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = base;
    const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
    const runner = new ExpressionEncoderRunner(ort, session, spec, codeSize);
    const out = await runner.#run();
    if (out.length !== codeSize) {
      await session.release();
      throw new Error(`the encoder model answers ${out.length} values, the server said ${codeSize}`);
    }
    return runner;
  }

  /**
   * The int8 code of one frame's landmarks (MediaPipe's normalized x, y, z triples of
   * a `width` x `height` frame), or null when the pose fit finds no face in them.
   */
  async encode(landmarks: Float32Array, width: number, height: number): Promise<Int8Array | null> {
    if (landmarks.length !== 3 * FACE_LANDMARK_COUNT) return null;
    for (let i = 0; i < FACE_LANDMARK_COUNT; i++) {
      // Image px (y down), as datasets keep them: the similarity fit takes out scale and offset.
      this.#px[2 * i] = landmarks[3 * i]! * width;
      this.#px[2 * i + 1] = landmarks[3 * i + 1]! * height;
    }
    if (!poseNormalizedLandmarks(this.#px, this.#spec, this.#input)) return null;
    return quantizeCode(await this.#run());
  }

  async close(): Promise<void> {
    await this.#session.release();
  }

  async #run(): Promise<Float32Array> {
    const feeds = { [INPUT_NAME]: new this.#ort.Tensor('float32', this.#input, [1, this.#input.length]) };
    const out = (await this.#session.run(feeds))[OUTPUT_NAME];
    if (!out) throw new Error(`the encoder model has no '${OUTPUT_NAME}' output`);
    return out.data;
  }
}
