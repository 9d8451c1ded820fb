import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../shared/coefficients/seededRandom';
import { FloaterFilter } from './Floaters';

const index = (G: number, x: number, y: number, z: number) => (z * G + y) * G + x;

/** The reference: each cell's 26-connected component size by a plain flood fill over cells. */
function componentSizes(raw: Uint8Array, G: number): Int32Array {
  const label = new Int32Array(raw.length).fill(-1), sizes: number[] = [];
  for (let seed = 0; seed < raw.length; seed++) {
    if (!raw[seed] || label[seed]! >= 0) continue;
    const id = sizes.length, stack = [seed];
    label[seed] = id;
    let n = 0;
    while (stack.length) {
      const i = stack.pop()!, x = i % G, y = Math.floor(i / G) % G, z = Math.floor(i / (G * G));
      n++;
      for (let dz = -1; dz <= 1; dz++)
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const X = x + dx, Y = y + dy, Z = z + dz;
            if (X < 0 || Y < 0 || Z < 0 || X >= G || Y >= G || Z >= G) continue;
            const j = index(G, X, Y, Z);
            if (raw[j] && label[j]! < 0) {
              label[j] = id;
              stack.push(j);
            }
          }
    }
    sizes.push(n);
  }
  return Int32Array.from(label, (l) => (l < 0 ? 0 : sizes[l]!));
}

function shellWithSpecks(G: number): { raw: Uint8Array; shell: number; specks: number[] } {
  const raw = new Uint8Array(G * G * G), c = G / 2;
  let shell = 0;
  for (let z = 0; z < G; z++)
    for (let y = 0; y < G; y++)
      for (let x = 0; x < G; x++) {
        const r = Math.hypot(x - c, y - c, z - c);
        if (r < 0.35 * G && r > 0.25 * G) { raw[index(G, x, y, z)] = 1; shell++; }
      }
  const specks = [index(G, 0, 0, 0), index(G, G - 1, 1, 2), index(G, 2, G - 1, G - 1)];
  for (const s of specks) raw[s] = 1;
  raw[index(G, 1, 0, 0)] = 1; // a two-cell speck
  return { raw, shell, specks };
}

test('specks far from the person are cleared and every cell of the person is kept', () => {
  const G = 24, { raw, shell, specks } = shellWithSpecks(G), before = raw.slice();
  const cleared = new FloaterFilter(G).filter(raw);
  assert.equal(cleared, specks.length + 1);
  for (const s of specks) assert.equal(raw[s], 0);
  assert.equal(raw.reduce((n, v) => n + v, 0), shell);
  for (let i = 0; i < raw.length; i++) if (raw[i]) assert.equal(before[i], 1);
});

test('cells that touch only diagonally are one component (26-connected, like the dilation)', () => {
  const G = 16, raw = new Uint8Array(G * G * G);
  for (let z = 8; z < 16; z++) for (let y = 8; y < 16; y++) for (let x = 8; x < 16; x++) raw[index(G, x, y, z)] = 1; // 512 cells
  // Two strands of 7 cells: one reaches the block through corners only (each cell touches
  // the next by a corner), the other lies apart. With a 10-cell minimum (10/512 of the
  // block) only the one that reaches the block survives.
  for (let i = 1; i <= 7; i++) raw[index(G, 8 - i, 8 - i, 8 - i)] = 1;
  for (let i = 0; i < 7; i++) raw[index(G, i, 15, 0)] = 1;
  const cleared = new FloaterFilter(G, 10 / 512).filter(raw);
  assert.equal(cleared, 7);
  for (let i = 1; i <= 7; i++) assert.equal(raw[index(G, 8 - i, 8 - i, 8 - i)], 1);
  for (let i = 0; i < 7; i++) assert.equal(raw[index(G, i, 15, 0)], 0);
});

test('it keeps exactly the components the reference flood fill finds at or above the share', () => {
  const rand = seededRandom(7);
  for (const [G, p, share] of [[12, 0.12, 0.05], [12, 0.25, 0.3], [9, 0.3, 0.5], [17, 0.08, 0.02], [5, 0.5, 1]] as const) {
    const raw = Uint8Array.from({ length: G * G * G }, () => (rand() < p ? 1 : 0));
    const sizes = componentSizes(raw, G);
    const largest = Math.max(...sizes);
    const expected = Uint8Array.from(raw, (v, i) => (v && sizes[i]! >= share * largest ? 1 : 0));
    const cleared = new FloaterFilter(G, share).filter(raw);
    assert.deepEqual(raw, expected, `G ${G}, p ${p}, share ${share}`);
    assert.equal(cleared, sizes.filter((s) => s > 0 && s < share * largest).length);
  }
});

test('a share of 0 keeps every component, and an empty or one-component map is left as it is', () => {
  const G = 24, { raw } = shellWithSpecks(G), before = raw.slice();
  assert.equal(new FloaterFilter(G, 0).filter(raw), 0);
  assert.deepEqual(raw, before);
  const empty = new Uint8Array(G * G * G);
  assert.equal(new FloaterFilter(G).filter(empty), 0);
});

test('bad sizes and shares are refused with their values', () => {
  assert.throws(() => new FloaterFilter(0), { name: 'RangeError', message: 'FloaterFilter: G must be a positive integer, got 0' });
  assert.throws(() => new FloaterFilter(8, 1.5), { name: 'RangeError', message: 'FloaterFilter: minShare must be in [0, 1], got 1.5' });
  assert.throws(() => new FloaterFilter(8).filter(new Uint8Array(10)), { name: 'RangeError', message: 'FloaterFilter: expected 512 cells, got 10' });
});
