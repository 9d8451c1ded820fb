import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLENDSHAPE_COUNT, blendshapeIndex } from '../../shared/coefficients/blendshapes';
import { DEFAULT_CONFIG } from '../engine/AvatarModelTypes';
import { ExpressionEncoder } from '../encoder/ExpressionEncoder';
import { FaceToModelInputs } from './faceToModelInputs';

const config = { ...DEFAULT_CONFIG, expressionCount: 2, expressionNames: ['jawOpen', 'browInnerUp'] };

function face(translationCm: [number, number, number], jaw = 0) {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  blendshapes[blendshapeIndex('jawOpen')] = jaw;
  return { blendshapes, rotation: [0, 0, 0, 1] as [number, number, number, number], translationCm };
}

test('the avatar\'s coefficients follow the blendshapes its file names', () => {
  const map = new FaceToModelInputs(config);
  const { coefficients } = map.map(face([0, 0, -40], 0.7), 0);
  assert.ok(Math.abs(coefficients[0]! - 0.7) < 1e-6);
  assert.equal(coefficients[1], 0);
});

test('the first frame is centred, and the reference follows the sender slowly', () => {
  const map = new FaceToModelInputs(config);
  const first = map.map(face([5, 0, -40]), 0);
  assert.ok(Array.from(first.pose.translation).every((v) => Math.abs(v) < 1e-9), `centred: ${Array.from(first.pose.translation)}`);
  // A quick 3 cm move right shows as motion (about 0.3 model units)...
  const moved = map.map(face([8, 0, -40]), 33);
  assert.ok(moved.pose.translation[0]! > 0.25, `moved ${moved.pose.translation[0]}`);
  // ...but staying there re-centres the head over a few seconds.
  let settled = moved;
  for (let t = 66; t <= 15_000; t += 33) settled = map.map(face([8, 0, -40]), t);
  assert.ok(Math.abs(settled.pose.translation[0]!) < 0.02, `re-centred ${settled.pose.translation[0]}`);
});

test('an avatar with an expression encoder adds projection . code to the blendshape coefficients; a face without a code, or with one of another length, is the blendshape avatar', () => {
  const ids = [0, 1, 2];
  const spec = { landmarkIds: ids, anchorIds: ids, anchorWeights: [1, 1, 1], anchorTargets: [0, 0, 1, 0, 0, 1] };
  const encoder = ExpressionEncoder.create(spec, { mean: new Float32Array(6), std: new Float32Array(6).fill(1) }, 2, { hidden: 4, codeSize: 3 });
  encoder.params.projection.set([0.5, 0, 0, 0, 0, -1]); // row 0 reads code 0, row 1 minus code 2
  const map = new FaceToModelInputs(config, encoder);
  const coded = map.map({ ...face([0, 0, -40], 0.2), code: [0.4, 0.9, 0.3] }, 0).coefficients;
  assert.ok(Math.abs(coded[0]! - (0.2 + 0.5 * 0.4)) < 1e-6, `${coded[0]}`);
  assert.ok(Math.abs(coded[1]! - -0.3) < 1e-6, `${coded[1]}`);
  for (const code of [undefined, null, [0.4, 0.9]]) {
    const plain = map.map({ ...face([0, 0, -40], 0.2), code }, 0).coefficients;
    assert.ok(Math.abs(plain[0]! - 0.2) < 1e-6 && plain[1] === 0, `code ${String(code)}: ${Array.from(plain)}`);
  }
});
