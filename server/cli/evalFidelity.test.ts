import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enlargeRgb } from './evalFidelity';

test('enlarging keeps a flat image flat and a gradient in order, at k times the size', () => {
  const flat = enlargeRgb(new Float32Array(2 * 2 * 3).fill(0.25), 2, 2, 3);
  assert.equal(flat.length, 6 * 6 * 3);
  assert.ok(flat.every((v) => Math.abs(v - 0.25) < 1e-7));
  // One row, 0 then 1: the enlarged row rises monotonically from 0 to 1.
  const ramp = new Float32Array([0, 0, 0, 1, 1, 1]);
  const row = enlargeRgb(ramp, 2, 1, 4);
  const reds = Array.from({ length: 8 }, (_, x) => row[x * 3]!);
  assert.deepEqual([reds[0], reds[7]], [0, 1], 'the outer pixels keep the source values');
  for (let x = 1; x < 8; x++) assert.ok(reds[x]! >= reds[x - 1]!, `monotone at ${x}: ${reds.join(', ')}`);
  assert.equal(enlargeRgb(ramp, 2, 1, 1), ramp, 'k = 1 is the image itself');
});
