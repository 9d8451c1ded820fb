import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packParts, unpackParts } from './lengthPrefixedParts';

test('packed parts unpack to the same bytes', () => {
  const parts = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)];
  const unpacked = unpackParts(packParts(parts), 3);
  assert.ok('parts' in unpacked);
  assert.deepEqual(unpacked.parts.map((p) => Array.from(p)), parts.map((p) => Array.from(p)));
});

test('truncated bodies and trailing bytes are named, not thrown', () => {
  const body = packParts([new Uint8Array([1, 2, 3]), new Uint8Array([4])]);
  assert.deepEqual(unpackParts(body.subarray(0, 2), 2), { error: 'truncated: part 1 of 2 missing' });
  assert.deepEqual(unpackParts(body.subarray(0, 5), 2), { error: 'truncated inside part 1' });
  assert.deepEqual(unpackParts(body, 3), { error: 'truncated: part 3 of 3 missing' });
  assert.deepEqual(unpackParts(body, 1), { error: '5 bytes after its 1 parts' });
});
