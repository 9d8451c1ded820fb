// Resumable training checkpoints: fp32 parameters (the avatar file's fp16 grids would
// perturb a resumed run), Adam moments, step, RNG state, epoch order, occupancy and the
// per-frame target shifts (version 2; version 1 files have none and still load), plus
// what the run was trained on (so --resume refuses another dataset or resolution), and the
// expression encoder with its Adam moments when the run trains one (header entries
// `encoder` and `encoderAdam`; absent otherwise, so older checkpoints still load).
//
//   "VXCK", u32 LE version, u32 LE header length H, H bytes JSON header, padding to 8,
//   payload (float32 LE tensors, then the occupancy bytes, then float32 LE frame shifts),
//   32-byte SHA-256 of all before.
//
// Written to a temp file and renamed: an interrupted write leaves the previous checkpoint.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomicFile';
import { AvatarModel } from './AvatarModel';
import { type AvatarConfig, type AvatarParams, PARAM_NAMES, validateConfig } from './AvatarModelTypes';
import type { TrainerState } from './TrainerTypes';
import { ENCODER_PARAM_NAMES, type EncoderParams, type ExpressionEncoder } from '../encoder/ExpressionEncoder';
import { type EncoderDescriptor, layoutEncoder, readEncoderSection, writeEncoderTensors } from '../encoder/encoderSection';

const MAGIC = 'VXCK', VERSION = 2, SHA = 32;

/** What a run was trained on; compared on resume. */
export interface CheckpointRun {
  readonly datasetSha256: string;
  readonly res: number;
  readonly elapsedMs: number;
  /** Progress lines so far, so the training curve spans resumed runs. */
  readonly history: readonly { step: number; loss: number; psnr: number; trainPsnr?: number; elapsedMs: number; lrScale?: number }[];
}

interface Header {
  config: AvatarConfig;
  run: CheckpointRun;
  step: number;
  rngState: number;
  order: number[];
  tensors: { name: string; group: 'param' | 'm' | 'v'; offset: number; length: number }[];
  occupancy: { offset: number; length: number };
  /** Version 2, when the run learns per-frame shifts. */
  frameShifts?: { offset: number; length: number };
  encoder?: EncoderDescriptor;
  encoderAdam?: { step: number; tensors: { name: string; group: 'm' | 'v'; offset: number; length: number }[] };
  payloadBytes: number;
}

export interface Checkpoint {
  readonly model: AvatarModel;
  /** The expression encoder the run trains (its Adam state is in state.encoder). */
  readonly encoder?: ExpressionEncoder;
  readonly state: TrainerState;
  readonly run: CheckpointRun;
}

export function encodeCheckpoint(model: AvatarModel, state: TrainerState, run: CheckpointRun, encoder?: ExpressionEncoder): Buffer {
  if (!encoder !== !state.encoder) throw new RangeError('checkpoint: an encoder needs its Adam state and the other way round');
  const groups = { param: model.params, m: state.adamM, v: state.adamV } as const;
  const tensors: Header['tensors'] = [];
  let offset = 0;
  for (const group of ['param', 'm', 'v'] as const)
    for (const name of PARAM_NAMES) {
      tensors.push({ name, group, offset, length: groups[group][name].length });
      offset += 4 * groups[group][name].length;
    }
  const occupancy = { offset, length: state.occupancy.length };
  offset += (state.occupancy.length + 7) & ~7;
  const frameShifts = state.frameShifts ? { offset, length: state.frameShifts.length } : undefined;
  offset += 4 * (state.frameShifts?.length ?? 0);
  let enc: EncoderDescriptor | undefined, encoderAdam: Header['encoderAdam'];
  if (encoder && state.encoder) {
    ({ descriptor: enc, end: offset } = layoutEncoder(encoder, (offset + 7) & ~7));
    encoderAdam = { step: state.encoder.step, tensors: [] };
    for (const group of ['m', 'v'] as const)
      for (const name of ENCODER_PARAM_NAMES) {
        const t = (group === 'm' ? state.encoder.adamM : state.encoder.adamV)[name];
        encoderAdam.tensors.push({ name, group, offset, length: t.length });
        offset += 4 * t.length;
      }
  }
  const header: Header = {
    config: model.config, run, step: state.step, rngState: state.rngState, order: [...state.order], tensors, occupancy,
    ...(frameShifts ? { frameShifts } : {}), ...(enc ? { encoder: enc, encoderAdam } : {}), payloadBytes: offset,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8'), start = (12 + json.length + 7) & ~7;
  const buf = Buffer.alloc(start + offset + SHA);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  for (const t of tensors) {
    const src = groups[t.group][t.name as keyof AvatarParams];
    for (let i = 0; i < src.length; i++) buf.writeFloatLE(src[i]!, start + t.offset + 4 * i);
  }
  buf.set(state.occupancy, start + occupancy.offset);
  if (frameShifts) for (let i = 0; i < frameShifts.length; i++) buf.writeFloatLE(state.frameShifts![i]!, start + frameShifts.offset + 4 * i);
  if (enc && encoder && encoderAdam && state.encoder) {
    writeEncoderTensors(buf, start, encoder, enc);
    for (const t of encoderAdam.tensors) {
      const src = (t.group === 'm' ? state.encoder.adamM : state.encoder.adamV)[t.name as keyof EncoderParams];
      for (let i = 0; i < src.length; i++) buf.writeFloatLE(src[i]!, start + t.offset + 4 * i);
    }
  }
  createHash('sha256').update(buf.subarray(0, buf.length - SHA)).digest().copy(buf, buf.length - SHA);
  return buf;
}

/** Throws RangeError with a reason for anything that is not an intact checkpoint. */
export function decodeCheckpoint(b: Buffer): Checkpoint {
  if (b.length < 12 + SHA || b.toString('latin1', 0, 4) !== MAGIC) throw new RangeError('checkpoint: not a Voxface training checkpoint (bad magic or too short)');
  if (b.readUInt32LE(4) !== 1 && b.readUInt32LE(4) !== VERSION) throw new RangeError(`checkpoint: unsupported version ${b.readUInt32LE(4)}`);
  const digest = createHash('sha256').update(b.subarray(0, b.length - SHA)).digest();
  if (!digest.equals(b.subarray(b.length - SHA))) throw new RangeError('checkpoint: checksum mismatch (file is corrupt or truncated)');
  const len = b.readUInt32LE(8), start = (12 + len + 7) & ~7;
  const h = JSON.parse(b.toString('utf8', 12, 12 + len)) as Header;
  if (start + h.payloadBytes + SHA !== b.length) throw new RangeError('checkpoint: payload size does not match the header');
  validateConfig(h.config);
  // The run's time counts towards a resumed run's budget (the learning-rate tail): it must be a time.
  if (!h.run || !(Number.isFinite(h.run.elapsedMs) && h.run.elapsedMs >= 0) || !Array.isArray(h.run.history))
    throw new RangeError(`checkpoint: bad run entry (elapsedMs ${String(h.run?.elapsedMs)})`);
  const groups = { param: {} as AvatarParams, m: {} as AvatarParams, v: {} as AvatarParams };
  for (const t of h.tensors) {
    if (!(PARAM_NAMES as readonly string[]).includes(t.name) || t.offset + 4 * t.length > h.payloadBytes) throw new RangeError(`checkpoint: bad tensor entry ${t.name}`);
    const out = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) out[i] = b.readFloatLE(start + t.offset + 4 * i);
    groups[t.group][t.name as keyof AvatarParams] = out;
  }
  const model = new AvatarModel(h.config, groups.param); // validates every parameter's size
  const occupancy = Uint8Array.from(b.subarray(start + h.occupancy.offset, start + h.occupancy.offset + h.occupancy.length));
  const fs = h.frameShifts;
  if (fs && (!Number.isInteger(fs.length) || fs.length % 2 !== 0 || fs.offset + 4 * fs.length > h.payloadBytes)) throw new RangeError('checkpoint: bad frame shifts entry');
  const frameShifts = fs ? Float32Array.from({ length: fs.length }, (_, i) => b.readFloatLE(start + fs.offset + 4 * i)) : undefined;
  let encoder: ExpressionEncoder | undefined, encoderState: TrainerState['encoder'];
  if (h.encoder !== undefined) {
    encoder = readEncoderSection(h.encoder, b, start, h.payloadBytes);
    const adam = h.encoderAdam, m = {} as EncoderParams, v = {} as EncoderParams;
    if (!adam || !Array.isArray(adam.tensors)) throw new RangeError('checkpoint: the encoder has no Adam state');
    for (const t of adam.tensors) {
      if (!(ENCODER_PARAM_NAMES as readonly string[]).includes(t.name) || !Number.isInteger(t.length) || t.offset + 4 * t.length > h.payloadBytes) throw new RangeError(`checkpoint: bad encoder tensor entry ${t.name}`);
      (t.group === 'm' ? m : v)[t.name as keyof EncoderParams] = Float32Array.from({ length: t.length }, (_, i) => b.readFloatLE(start + t.offset + 4 * i));
    }
    encoderState = { step: adam.step, adamM: m, adamV: v };
  }
  return {
    model, run: h.run, ...(encoder ? { encoder } : {}),
    state: { step: h.step, rngState: h.rngState, order: h.order, occupancy, adamM: groups.m, adamV: groups.v, ...(frameShifts ? { frameShifts } : {}), ...(encoderState ? { encoder: encoderState } : {}) },
  };
}

export function writeCheckpoint(path: string, model: AvatarModel, state: TrainerState, run: CheckpointRun, encoder?: ExpressionEncoder): void {
  writeFileAtomic(path, encodeCheckpoint(model, state, run, encoder));
}

export function readCheckpoint(path: string): Checkpoint {
  return decodeCheckpoint(readFileSync(path));
}
