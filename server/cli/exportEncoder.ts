/**
 * `voxface export-encoder <avatar.vxa> <out.onnx>`: the avatar's expression encoder as an
 * ONNX model (server/encoder/onnx/encoderOnnx.ts), written atomically. stdout: one JSON
 * line { onnx, bytes, inputSize, codeSize }.
 *
 * And the encoder's part of `voxface train --encoder`: a new encoder fitted on the
 * dataset's training frames, with MediaPipe's pose-fit anchors from the face model bundle.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureModelAsset, FACE_LANDMARKER_MODEL } from '../assets/ModelAsset';
import { loadConfig } from '../config';
import type { ExpressionEncoder } from '../encoder/ExpressionEncoder';
import { expressionInputSpec, fitExpressionEncoder } from '../encoder/fitEncoder';
import { writeEncoderOnnx } from '../encoder/onnx/encoderOnnx';
import type { RealDataset } from '../engine/RealDataset';
import { FaceNormalizer } from '../retrack/FaceNormalizer';
import { CliInputError, readAvatarContents } from './common';

export const EXPORT_ENCODER_USAGE = `usage: voxface export-encoder <avatar.vxa> <out.onnx>

Writes the avatar's expression encoder (trained with \`voxface train --encoder\`) as an ONNX
model: input 'landmarks' [batch, 2 x points] (pose-normalised), output 'code' [batch, K].
`;

export function exportEncoderCommand(args: string[]): void {
  if (args.includes('--help')) { process.stdout.write(EXPORT_ENCODER_USAGE); return; }
  if (args.length !== 2) throw new CliInputError(`export-encoder needs an avatar file and an output path\n\n${EXPORT_ENCODER_USAGE}`);
  const [avatarPath, out] = args as [string, string];
  const { encoder } = readAvatarContents(avatarPath);
  if (!encoder) throw new CliInputError(`${avatarPath} has no expression encoder (train it with: voxface train <dataset> --out ${avatarPath} --encoder)`);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new CliInputError(`folder of ${out} does not exist`);
  let bytes: number;
  try {
    bytes = writeEncoderOnnx(out, encoder);
  } catch (e) {
    if (e instanceof RangeError) throw new CliInputError(`${avatarPath}: ${e.message}`);
    throw e;
  }
  process.stdout.write(`${JSON.stringify({ onnx: out, bytes, inputSize: encoder.inputSize, codeSize: encoder.codeSize })}\n`);
}

/** A fresh encoder for a training run on `ds` (its train frames' landmarks), E coefficients. */
export async function encoderForDataset(ds: RealDataset, expressionCount: number, seed: number): Promise<ExpressionEncoder> {
  const config = loadConfig({ ...process.env, VOXFACE_DEV: '1' });
  let normalizer: FaceNormalizer;
  try {
    normalizer = FaceNormalizer.fromModel(await ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path: config.faceModelPath, url: config.faceModelUrl }));
  } catch (error) {
    throw new CliInputError(`--encoder needs MediaPipe's face model for its pose anchors: ${error instanceof Error ? error.message : String(error)} (set VOXFACE_FACE_MODEL to a local copy)`);
  }
  try {
    return fitExpressionEncoder(expressionInputSpec(normalizer), ds.train.map((f) => f.landmarks), expressionCount, { seed });
  } catch (e) {
    throw new CliInputError(`${ds.dir}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
