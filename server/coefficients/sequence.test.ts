import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isNewerSequence, sequenceDelta } from './sequence';

const TOP = 2 ** 32 - 1;

describe('u32 serial-number arithmetic', () => {
  test('distances are signed and wrap across 2^32', () => {
    assert.equal(sequenceDelta(5, 8), 3);
    assert.equal(sequenceDelta(8, 5), -3);
    assert.equal(sequenceDelta(TOP, 0), 1);
    assert.equal(sequenceDelta(0, TOP), -1);
    assert.equal(sequenceDelta(TOP - 1, 3), 5);
  });

  test('a packet half the sequence space away is never taken as newer, in either direction', () => {
    assert.equal(isNewerSequence(2 ** 31, 0), false);
    assert.equal(isNewerSequence(0, 2 ** 31), false);
    assert.equal(isNewerSequence(2 ** 31 - 1, 0), true);
    assert.equal(isNewerSequence(2 ** 31 + 1, 0), false);
  });

  test('equal sequence numbers are not newer', () => {
    assert.equal(isNewerSequence(42, 42), false);
    assert.equal(isNewerSequence(TOP, TOP), false);
  });
});
