/**
 * What a sender's page needs to run an avatar's expression encoder (issue 16): the ONNX
 * model (server/encoder/onnx/encoderOnnx.ts), its sha256 (the page verifies the bytes
 * against it and caches them under it), and the input spec (the page's pose removal runs
 * in TypeScript before the ONNX graph: shared/expression/expressionInput.ts).
 *
 * Models are built from the avatar file on first request and kept per file version
 * (path, size, mtime): a retrained avatar gets a new model and a new checksum. Building
 * one reads and checks the whole avatar file (its sha256) and writes ~62 kB of ONNX:
 * milliseconds, once per avatar version, not per frame.
 *
 * `codeSizeOf` reads only the file's JSON header (no tensor, no checksum): the server
 * asks it when an avatar session starts, to know whether code packets can drive it.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { ExpressionInputSpec } from '../../shared/expression/ExpressionTypes';
import { readAvatarFileContents } from '../engine/AvatarFile';
import { encoderOnnxModel } from './onnx/encoderOnnx';

export interface EncoderModel {
  readonly onnx: Uint8Array;
  /** Lower-case hex sha256 of `onnx`. */
  readonly sha256: string;
  readonly codeSize: number;
  readonly inputSize: number;
  readonly spec: ExpressionInputSpec;
}

/** The JSON the page gets (GET /api/onboarding/avatars/:id/encoder). */
export interface EncoderModelInfo {
  readonly sha256: string;
  readonly bytes: number;
  readonly codeSize: number;
  readonly inputSize: number;
  readonly spec: ExpressionInputSpec;
}

/** Larger headers are not ours (an avatar header is a few kB; 16 MiB bounds what a crafted file makes us read). */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** Avatar versions whose models are kept. */
const MAX_CACHED = 32;

export function encoderModelInfo(model: EncoderModel): EncoderModelInfo {
  const { sha256, codeSize, inputSize, spec } = model;
  return { sha256, bytes: model.onnx.length, codeSize, inputSize, spec };
}

/** The code length of the avatar file's encoder, null when it has none; throws when the file cannot be read. */
export function encoderCodeSizeOf(path: string): number | null {
  const fd = openSync(path, 'r');
  try {
    const fixed = Buffer.alloc(12);
    if (readSync(fd, fixed, 0, 12, 0) !== 12 || fixed.toString('latin1', 0, 4) !== 'VXAV') throw new RangeError(`${path} is not a Voxface avatar`);
    const length = fixed.readUInt32LE(8);
    if (length > MAX_HEADER_BYTES) throw new RangeError(`${path}: header of ${length} bytes`);
    const header = Buffer.alloc(length);
    if (readSync(fd, header, 0, length, 12) !== length) throw new RangeError(`${path}: truncated header`);
    const codeSize = (JSON.parse(header.toString('utf8')) as { encoder?: { codeSize?: unknown } }).encoder?.codeSize;
    return Number.isInteger(codeSize) && (codeSize as number) > 0 ? (codeSize as number) : null;
  } finally {
    closeSync(fd);
  }
}

export class EncoderModels {
  readonly #cache = new Map<string, EncoderModel | null>();

  /** The model of the avatar file at `path`, null when the avatar has no encoder. Throws when the file cannot be read. */
  get(path: string): EncoderModel | null {
    const stat = statSync(path);
    const key = `${path}\n${stat.size}\n${stat.mtimeMs}`;
    if (this.#cache.has(key)) return this.#cache.get(key)!;
    const { encoder } = readAvatarFileContents(path);
    const model = encoder && {
      onnx: encoderOnnxModel(encoder),
      codeSize: encoder.codeSize,
      inputSize: encoder.inputSize,
      spec: encoder.spec,
      sha256: '',
    };
    const built = model && { ...model, sha256: createHash('sha256').update(model.onnx).digest('hex') };
    for (const old of this.#cache.keys()) if (old.startsWith(`${path}\n`)) this.#cache.delete(old);
    if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, built);
    return built;
  }
}
