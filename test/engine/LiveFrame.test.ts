import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveFrame } from '../../server/engine/LiveFrame';
import { randomModel, TINY_CONFIG } from './modelFixtures';

const G = 16;
const model = randomModel({ ...TINY_CONFIG, occupancyRes: G }, 3);
const index = (x: number, y: number, z: number) => (z * G + y) * G + x;

/** Density at every probe: a 6^3 block (the person) and one cell far from it (a floater). */
function personAndFloater(): Float32Array {
  const sigma = new Float32Array(G * G * G);
  for (let z = 5; z < 11; z++) for (let y = 5; y < 11; y++) for (let x = 5; x < 11; x++) sigma[index(x, y, z)] = 1e3;
  sigma[index(14, 1, 1)] = 1e3;
  return sigma;
}

test('a frame\'s occupancy leaves out a floater and keeps the person with its one-cell margin', () => {
  const frame = new LiveFrame(model, { width: 32, height: 18 });
  frame.mergeOccupancy(personAndFloater(), 0, G * G * G);
  for (const [x, y, z] of [[14, 1, 1], [13, 2, 2], [15, 0, 0]] as const) assert.equal(frame.occ[index(x, y, z)], 0, `cell ${x},${y},${z}`);
  for (const [x, y, z] of [[4, 4, 4], [8, 8, 8], [11, 11, 11]] as const) assert.equal(frame.occ[index(x, y, z)], 1, `cell ${x},${y},${z}`);
  assert.equal(frame.occ.reduce((n, v) => n + v, 0), 8 ** 3);
});

test('floaterShare 0 draws every component, and a share outside [0, 1] is refused', () => {
  const frame = new LiveFrame(model, { width: 32, height: 18, floaterShare: 0 });
  frame.mergeOccupancy(personAndFloater(), 0, G * G * G);
  assert.equal(frame.occ[index(14, 1, 1)], 1);
  assert.equal(frame.occ.reduce((n, v) => n + v, 0), 8 ** 3 + 3 ** 3);
  assert.throws(() => new LiveFrame(model, { width: 32, height: 18, floaterShare: -0.1 }), { name: 'RangeError', message: 'renderer: floaterShare must be in [0, 1], got -0.1' });
});
