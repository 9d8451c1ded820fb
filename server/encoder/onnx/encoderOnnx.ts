/**
 * The expression encoder's network as an ONNX model, written by our own protobuf code
 * (field numbers from onnx/onnx.proto, IR version 8, default opset 13):
 *
 *   landmarks [batch, D] --Sub(mean)--Div(std)--Gemm(W0, b0, transB)--Relu--Gemm(W1, b1, transB)--Tanh--> code [batch, K]
 *
 * The input is the pose-normalised landmarks (shared/expression/expressionInput.ts
 * poseNormalizedLandmarks: the similarity fit is a 4x4 eigenproblem per frame, which ONNX
 * has no op for, so the page does it in TypeScript). The per-avatar standardisation is in
 * the graph as Sub and Div, not folded into W0, so the graph computes exactly what the
 * trainer does (the same float32 operations in the same order). The projection to the
 * avatar's coefficients is not in it: the code is what travels in the packet, the server
 * applies the projection.
 */
import { writeFileAtomic } from '../../atomicFile';
import { validateEncoderParts } from '../../../shared/expression/ExpressionTypes';
import type { ExpressionEncoder } from '../ExpressionEncoder';
import { ProtoMessage } from './protobufWriter';

/** onnx.proto: Version.IR_VERSION_2021_7_30, the IR of opset 13..15. */
const IR_VERSION = 8;
const OPSET = 13;
/** TensorProto.DataType.FLOAT and AttributeProto.AttributeType.INT. */
const FLOAT = 1, ATTRIBUTE_INT = 2;
export const ONNX_INPUT_NAME = 'landmarks';
export const ONNX_OUTPUT_NAME = 'code';

/** TensorProto { dims = 1, data_type = 2, name = 8, raw_data = 9 }: float32 little-endian. */
function tensor(name: string, dims: number[], values: Float32Array): ProtoMessage {
  const raw = new Uint8Array(values.length * 4), view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return new ProtoMessage().packedInts(1, dims).int(2, FLOAT).string(8, name).bytes(9, raw);
}

/** ValueInfoProto { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 | dim_param = 2 } } } } }. */
function valueInfo(name: string, dims: (number | string)[]): ProtoMessage {
  const shape = new ProtoMessage();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoMessage().int(1, d) : new ProtoMessage().string(2, d));
  const tensorType = new ProtoMessage().int(1, FLOAT).message(2, shape);
  return new ProtoMessage().string(1, name).message(2, new ProtoMessage().message(1, tensorType));
}

/** NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 { name = 1, i = 3, type = 20 } }. */
function node(op: string, inputs: string[], output: string, ints: Record<string, number> = {}): ProtoMessage {
  const n = new ProtoMessage();
  for (const i of inputs) n.string(1, i);
  n.string(2, output).string(3, `${output}_${op}`).string(4, op);
  for (const [name, value] of Object.entries(ints)) n.message(5, new ProtoMessage().string(1, name).int(3, value).int(20, ATTRIBUTE_INT));
  return n;
}

/** The serialised ModelProto of the encoder's network (see the file comment). */
export function encoderOnnxModel(encoder: ExpressionEncoder): Uint8Array {
  // Again, not only at construction: training changes the weights in place (a diverged run leaves NaNs).
  validateEncoderParts(encoder.spec, encoder.normalization, encoder.network);
  const { inputSize: D, hidden: H, codeSize: K } = encoder, { w0, b0, w1, b1 } = encoder.params, { mean, std } = encoder.normalization;
  const graph = new ProtoMessage();
  graph.message(1, node('Sub', [ONNX_INPUT_NAME, 'mean'], 'centred'));
  graph.message(1, node('Div', ['centred', 'std'], 'standardised'));
  graph.message(1, node('Gemm', ['standardised', 'w0', 'b0'], 'hidden_linear', { transB: 1 }));
  graph.message(1, node('Relu', ['hidden_linear'], 'hidden'));
  graph.message(1, node('Gemm', ['hidden', 'w1', 'b1'], 'code_linear', { transB: 1 }));
  graph.message(1, node('Tanh', ['code_linear'], ONNX_OUTPUT_NAME));
  graph.string(2, 'voxface_expression_encoder'); // GraphProto.name
  for (const [name, dims, values] of [['mean', [D], mean], ['std', [D], std], ['w0', [H, D], w0], ['b0', [H], b0], ['w1', [K, H], w1], ['b1', [K], b1]] as const)
    graph.message(5, tensor(name, [...dims], values)); // GraphProto.initializer
  graph.string(10, `Voxface expression encoder: ${D / 2} pose-normalised landmarks (x, y px at 512 px face scale, y up) -> ${K}-value code`);
  graph.message(11, valueInfo(ONNX_INPUT_NAME, ['batch', D])); // GraphProto.input
  graph.message(12, valueInfo(ONNX_OUTPUT_NAME, ['batch', K])); // GraphProto.output
  const meta = (key: string, value: string) => new ProtoMessage().string(1, key).string(2, value); // StringStringEntryProto
  return new ProtoMessage()
    .int(1, IR_VERSION) // ir_version
    .string(2, 'voxface') // producer_name
    .string(3, '1') // producer_version
    .int(5, 1) // model_version
    .message(7, graph) // graph
    .message(8, new ProtoMessage().string(1, '').int(2, OPSET)) // opset_import { domain, version }
    .message(14, meta('voxface.landmarkIds', JSON.stringify(encoder.spec.landmarkIds)))
    .message(14, meta('voxface.codeSize', String(K)))
    .finish();
}

/** Writes the encoder's ONNX model to `path` (temp file and rename: readers never see half a model). */
export function writeEncoderOnnx(path: string, encoder: ExpressionEncoder): number {
  const bytes = encoderOnnxModel(encoder);
  writeFileAtomic(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return bytes.length;
}
