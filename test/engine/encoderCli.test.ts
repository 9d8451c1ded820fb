/**
 * `voxface train --encoder` and `voxface export-encoder` on a real dataset (2 s of a shared
 * clip made by `voxface prepare`): the avatar file carries the encoder, the exported ONNX
 * model gives, in onnxruntime-web, the codes of the file's encoder on the dataset's own
 * landmarks, and bad input gets a clear one-line error.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-web';
import { loadDataset } from '../../server/dataset/loadDataset';
import { readAvatarFileContents } from '../../server/engine/AvatarFile';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../../server/encoder/onnx/encoderOnnx';
import { LANDMARK_COUNT } from '../../shared/dataset/format';
import { poseNormalizedLandmarks, standardize } from '../../shared/expression/expressionInput';
import { expressionCodes } from '../../shared/expression/expressionNetwork';
import { callCoefficients } from '../../server/engine/CallCoefficients';
import { runPrepare, runVoxface, scratchDir } from '../helpers/prepareCli';
import { clipPath } from '../helpers/sharedData';

const voxface = (args: string[], timeoutMs = 120_000) => runVoxface(args, timeoutMs);

describe('voxface train --encoder and export-encoder on a shared clip', () => {
  const dir = scratchDir(), data = join(dir, 'clip'), avatar = join(dir, 'clip.vxa'), onnx = join(dir, 'clip.onnx');
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    const prep = await runPrepare([clipPath('womanExpressions'), '--out', data, '--duration', '2']);
    assert.equal(prep.code, 0, `prepare failed:\n${prep.stderr}`);
  });

  test('the trained avatar carries an encoder, and its ONNX export gives the same codes on the clip\'s own landmarks', async () => {
    const trained = await voxface(['train', data, '--out', avatar, '--steps', '12', '--res', '32', '--model', 'small', '--rays', '256', '--encoder']);
    assert.equal(trained.code, 0, `train failed:\n${trained.stderr}`);
    const { encoder } = readAvatarFileContents(avatar);
    assert.ok(encoder, 'the avatar file has the encoder');
    assert.equal(encoder.codeSize, 12);
    const exported = await voxface(['export-encoder', avatar, onnx]);
    assert.equal(exported.code, 0, `export failed:\n${exported.stderr}`);
    assert.deepEqual(JSON.parse(exported.stdout.trim()), { onnx, bytes: readFileSync(onnx).length, inputSize: 218, codeSize: 12 });

    // Every frame of the dataset with a face, through the page's path: pose removal (TS) then the ONNX model.
    const ds = loadDataset(data), lm = 2 * LANDMARK_COUNT, inputs: Float32Array[] = [];
    for (let i = 0; i < ds.meta.frameCount; i++) {
      const x = poseNormalizedLandmarks(ds.landmarks.subarray(lm * i, lm * (i + 1)), encoder.spec);
      if (x) inputs.push(x);
    }
    assert.ok(inputs.length >= 0.8 * ds.meta.frameCount, `${inputs.length} of ${ds.meta.frameCount} frames have an input`);
    const n = inputs.length, D = encoder.inputSize, batch = new Float32Array(n * D);
    inputs.forEach((x, i) => batch.set(x, i * D));
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(readFileSync(onnx), { executionProviders: ['wasm'] });
    try {
      const code = (await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', batch, [n, D]) }))[ONNX_OUTPUT_NAME]!.data as Float32Array;
      const standardised = Float32Array.from(batch);
      for (let i = 0; i < n; i++) standardize(standardised.subarray(i * D, (i + 1) * D), encoder.normalization);
      const expected = expressionCodes(encoder.network, standardised, n);
      let err = 0;
      for (let i = 0; i < code.length; i++) err = Math.max(err, Math.abs(code[i]! - expected[i]!));
      // The standardised inputs of a real clip are O(1): the train frames' statistics (measured 2.17 rms over all 60 frames of this clip, the held-out end included).
      const rms = Math.sqrt(standardised.reduce((s, v) => s + v * v, 0) / standardised.length);
      process.stderr.write(`${JSON.stringify({ frames: n, onnxVsFileEncoderMaxAbs: err, standardisedInputRms: +rms.toFixed(3) })}\n`);
      assert.ok(err <= 1e-5, `max abs error ${err}`);
      assert.ok(rms > 0.3 && rms < 4, `standardised input rms ${rms}`);
    } finally {
      await session.release();
    }
  });

  test('bad input: a clear one-line error and exit status 2', async () => {
    const plain = join(dir, 'plain.vxa');
    const t = await voxface(['train', data, '--out', plain, '--steps', '1', '--res', '16', '--model', 'small', '--rays', '64']);
    assert.equal(t.code, 0, t.stderr);
    for (const [args, message] of [
      [['export-encoder', plain, onnx], /plain\.vxa has no expression encoder \(train it with: voxface train/],
      [['export-encoder', join(dir, 'missing.vxa'), onnx], /avatar file .*missing\.vxa does not exist/],
      [['export-encoder', avatar], /export-encoder needs an avatar file and an output path/],
      [['export-encoder', avatar, join(dir, 'no', 'x.onnx')], /folder of .*x\.onnx does not exist/],
      [['train', data, '--out', plain, '--resume', '--steps', '1', '--res', '16', '--encoder'], /was trained without --encoder/],
    ] as const) {
      const r = await voxface([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  test('voxface eval drives an encoder avatar by the code packet a page sends (4-bit scores, int8 code), a plain one by version 1\'s 6-bit scores', async () => {
    const { encoder } = readAvatarFileContents(avatar);
    assert.ok(encoder, 'the first test trained it');
    // A projection with weight, so the code moves the coefficients (12 steps leave it near 0).
    for (let i = 0; i < encoder.params.projection.length; i++) encoder.params.projection[i] = Math.sin(1.7 * i);
    const drive = callCoefficients(encoder), ds = loadDataset(data), lm = 2 * LANDMARK_COUNT, E = encoder.expressionCount, K = encoder.codeSize;
    assert.equal(drive.driver, 'encoder');
    let compared = 0, moved = 0;
    for (let i = 0; i < ds.meta.frameCount; i++) {
      const landmarks = ds.landmarks.slice(lm * i, lm * (i + 1)), coefficients = Float32Array.from({ length: E }, (_, e) => 0.01 * ((i + e) % 7));
      const x = poseNormalizedLandmarks(landmarks, encoder.spec);
      if (!x) continue;
      const code = expressionCodes(encoder.network, standardize(x, encoder.normalization), 1);
      const got = drive({ coefficients, landmarks });
      for (let e = 0; e < E; e++) {
        let want = Math.round(coefficients[e]! * 15) / 15;
        for (let k = 0; k < K; k++) want += encoder.params.projection[e * K + k]! * Math.round(127 * code[k]!) / 127;
        assert.ok(Math.abs(got[e]! - want) < 1e-5, `frame ${i} coefficient ${e}: ${got[e]} vs ${want}`);
        if (Math.abs(got[e]! - Math.round(coefficients[e]! * 15) / 15) > 1e-3) moved++;
      }
      compared++;
    }
    assert.ok(compared > 0 && moved > 0, `${compared} frames compared, ${moved} coefficients moved by the code`);
    // 0.2 is 12.6 steps of 63 (sent as 13/63), 3 of 15 exactly: the two packets' scores differ.
    const noFace = new Float32Array(lm).fill(Number.NaN), plainCoefficients = new Float32Array(E).fill(0.2);
    assert.deepEqual(drive({ coefficients: plainCoefficients, landmarks: noFace }), new Float32Array(E).fill(13 / 63), 'no face: version 1 packets, the blendshapes alone');
    const plain = callCoefficients(null);
    assert.equal(plain.driver, 'blendshapes');
    assert.deepEqual(plain({ coefficients: Float32Array.of(-0.5, 0.2, 1.7) }), Float32Array.of(0, 13 / 63, 1));

    for (const [file, driver] of [[avatar, 'encoder'], [join(dir, 'plain.vxa'), 'blendshapes']] as const) {
      const r = await voxface(['eval', file, data, '--res', '32']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).driver, driver, file);
    }
  });
});
