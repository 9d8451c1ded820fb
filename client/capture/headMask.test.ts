import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headCut, JAW_LINE } from './headMask';

test('the head cut keeps the face and removes what is below the jaw', () => {
  const size = 200;
  // A synthetic upright face: forehead (10) at y 40, chin (152) at y 140, jaw from (50, 90) round to (150, 90).
  const points = new Float32Array(478 * 2).fill(100);
  points[10 * 2] = 100; points[10 * 2 + 1] = 40;
  JAW_LINE.forEach((index, i) => {
    const t = (i / (JAW_LINE.length - 1)) * Math.PI; // 0..pi round the chin
    points[index * 2] = 100 + 50 * Math.cos(t);
    points[index * 2 + 1] = 90 + 50 * Math.sin(t);
  });
  const cut = headCut(points, size, size);
  const at = (x: number, y: number) => cut[y * size + x]!;
  assert.ok(at(100, 80) > 0.99, 'face kept');
  assert.ok(at(100, 60) > 0.99, 'forehead kept');
  assert.ok(at(100, 175) < 0.01, 'neck removed');
  assert.ok(at(10, 100) > 0.5, 'hair beside the face, above chin level, kept');
  assert.ok(at(10, 190) < 0.01, 'shoulder removed');
  // The edge is soft: some value strictly between 0 and 1 just below the chin.
  const column = Array.from({ length: 30 }, (_, i) => at(100, 135 + i));
  assert.ok(column.some((value) => value > 0.05 && value < 0.95), 'feathered edge');
});
