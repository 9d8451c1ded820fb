import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fovFitProblem } from './fovFit';

const sweep = (entries: Array<[number, number]>) => new Map(entries);

test('a tie between 63° and 67°, as an Intel Xeon with AVX-512 measured it, supports 63°', () => {
  // The figures the old strict check failed on: "55°: 20.38, 59°: 12.01, 63°: 6.79, 67°: 6.79, 70°: 9.97".
  assert.equal(fovFitProblem(sweep([[55, 20.38], [59, 12.01], [63, 6.79], [67, 6.79], [70, 9.97]])), undefined);
});

test('a sweep whose minimum lies clearly elsewhere is refused with its figures', () => {
  const problem = fovFitProblem(sweep([[55, 20], [59, 12], [63, 7.2], [67, 6.5], [70, 9.97]]));
  assert.match(problem ?? '', /63° is not within 3% of the best fit: 55°: 20\.00/);
});

test('far ends that fit almost as well as 63° are refused', () => {
  assert.match(fovFitProblem(sweep([[55, 9], [59, 7.5], [63, 6.8], [67, 7], [70, 8]])) ?? '', /55° and 70° do not fit clearly worse/);
});

test('a sweep without a 63° figure is a usage error', () => {
  assert.throws(() => fovFitProblem(sweep([[55, 9], [70, 8]])), { name: 'TypeError', message: 'the sweep has no finite error at 63°' });
});
