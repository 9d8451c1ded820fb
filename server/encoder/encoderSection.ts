/**
 * The expression encoder as a section of a binary container (the avatar file and the
 * training checkpoint): a JSON descriptor in the container's header (input spec and
 * sizes, and where each float32 tensor lies in its payload) plus the tensors. Decoding
 * validates everything (ExpressionEncoder's constructor) and throws RangeError with the
 * reason, so a damaged section never yields an encoder.
 */
import { ENCODER_PARAM_NAMES, ExpressionEncoder } from './ExpressionEncoder';

/** Tensor names in section order: the standardisation, then the trained parameters. */
export const ENCODER_TENSOR_NAMES = ['mean', 'std', ...ENCODER_PARAM_NAMES] as const;
export type EncoderTensorName = (typeof ENCODER_TENSOR_NAMES)[number];

export interface EncoderTensorEntry {
  readonly name: EncoderTensorName;
  /** Bytes from the payload's start; float32 LE, byteLength = 4 x values. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface EncoderDescriptor {
  readonly landmarkIds: number[];
  readonly anchorIds: number[];
  readonly anchorWeights: number[];
  readonly anchorTargets: number[];
  readonly expressionCount: number;
  readonly hidden: number;
  readonly codeSize: number;
  readonly tensors: EncoderTensorEntry[];
}

export function encoderTensors(encoder: ExpressionEncoder): [EncoderTensorName, Float32Array][] {
  return [['mean', encoder.normalization.mean], ['std', encoder.normalization.std], ...ENCODER_PARAM_NAMES.map((n) => [n, encoder.params[n]] as [EncoderTensorName, Float32Array])];
}

/** The descriptor with tensors laid out from `offset` (8-byte aligned); returns it and the offset after the last. */
export function layoutEncoder(encoder: ExpressionEncoder, offset: number): { descriptor: EncoderDescriptor; end: number } {
  const tensors: EncoderTensorEntry[] = [];
  for (const [name, t] of encoderTensors(encoder)) {
    tensors.push({ name, offset, byteLength: 4 * t.length });
    offset += (4 * t.length + 7) & ~7;
  }
  const s = encoder.spec;
  return {
    descriptor: {
      landmarkIds: [...s.landmarkIds], anchorIds: [...s.anchorIds], anchorWeights: [...s.anchorWeights], anchorTargets: [...s.anchorTargets],
      expressionCount: encoder.expressionCount, hidden: encoder.hidden, codeSize: encoder.codeSize, tensors,
    },
    end: offset,
  };
}

/** Writes the encoder's tensors at their descriptor offsets (payloadStart: the payload's byte offset in buf). */
export function writeEncoderTensors(buf: Buffer, payloadStart: number, encoder: ExpressionEncoder, descriptor: EncoderDescriptor): void {
  const byName = new Map(encoderTensors(encoder));
  for (const e of descriptor.tensors) {
    const t = byName.get(e.name)!;
    for (let i = 0; i < t.length; i++) buf.writeFloatLE(t[i]!, payloadStart + e.offset + 4 * i);
  }
}

/** The encoder a descriptor and its payload describe; RangeError naming what is wrong. */
export function readEncoderSection(descriptor: unknown, buf: Buffer, payloadStart: number, payloadBytes: number): ExpressionEncoder {
  if (typeof descriptor !== 'object' || descriptor === null || !Array.isArray((descriptor as EncoderDescriptor).tensors))
    throw new RangeError('expression encoder: the section lacks its tensors');
  const d = descriptor as EncoderDescriptor, tensors = {} as Record<EncoderTensorName, Float32Array>;
  for (const name of ENCODER_TENSOR_NAMES) {
    const e = d.tensors.find((t) => t?.name === name);
    if (!e) throw new RangeError(`expression encoder: tensor ${name} missing`);
    if (!Number.isInteger(e.offset) || !Number.isInteger(e.byteLength) || e.offset < 0 || e.byteLength < 0 || e.byteLength % 4 !== 0 || e.offset + e.byteLength > payloadBytes)
      throw new RangeError(`expression encoder: tensor ${name} bytes [${String(e.offset)}, +${String(e.byteLength)}) are not whole floats inside the payload`);
    const out = new Float32Array(e.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(payloadStart + e.offset + 4 * i);
    tensors[name] = out;
  }
  const { mean, std, ...params } = tensors;
  const spec = { landmarkIds: d.landmarkIds, anchorIds: d.anchorIds, anchorWeights: d.anchorWeights, anchorTargets: d.anchorTargets };
  return new ExpressionEncoder(spec, { mean, std }, d.expressionCount, d.hidden, d.codeSize, params);
}
