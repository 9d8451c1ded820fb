import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BLENDSHAPE_COUNT, BLENDSHAPE_NAMES, blendshapeIndex, isBlendshapeName } from './blendshapes';

describe('blendshape names', () => {
  test('there are BLENDSHAPE_COUNT distinct names with _neutral first, as MediaPipe emits them', () => {
    assert.equal(BLENDSHAPE_NAMES.length, BLENDSHAPE_COUNT);
    assert.equal(new Set(BLENDSHAPE_NAMES).size, BLENDSHAPE_COUNT);
    assert.equal(BLENDSHAPE_NAMES[0], '_neutral');
  });

  test('after _neutral the ARKit names are in MediaPipe order, which is alphabetical', () => {
    const arkit = BLENDSHAPE_NAMES.slice(1);
    assert.deepEqual(arkit, [...arkit].sort());
  });

  test('blendshapeIndex inverts the name list and rejects unknown names', () => {
    BLENDSHAPE_NAMES.forEach((name, index) => assert.equal(blendshapeIndex(name), index));
    assert.equal(isBlendshapeName('jawOpen'), true);
    assert.equal(isBlendshapeName('tongueOut'), false);
    assert.throws(() => blendshapeIndex('tongueOut'), {
      name: 'RangeError',
      message: 'unknown blendshape name: "tongueOut"',
    });
  });
});
