// Helpers shared by the kernel tests: seeded random inputs, tolerant comparison with a
// useful failure message, and central finite differences in float64.
import assert from 'node:assert/strict';
import { seededRandom } from '../shared/coefficients/seededRandom';

/** Seeded random numbers in [0, 1): the project's one PRNG (mulberry32). */
export const rng = seededRandom;

export function uniform(n: number, lo: number, hi: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

export interface Tol {
  abs: number;
  rel: number;
}

/** |actual - expected| <= abs + rel * |expected| elementwise, and equal lengths. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const excess = Math.abs(a - e) - (tol.abs + tol.rel * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0)
    assert.fail(`${what}: at [${worst}] got ${actual[worst]}, expected ${expected[worst]} (abs ${tol.abs}, rel ${tol.rel})`);
}

/** d f / d x[i] for every i by central differences (x is restored afterwards). */
export function numericGrad(f: () => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i]!;
    x[i] = old + eps;
    const fp = f();
    x[i] = old - eps;
    const fm = f();
    x[i] = old;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** sum_i a[i] * r[i]: the scalar loss whose gradient w.r.t. a is r. */
export function dot(a: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * r[i]!;
  return s;
}

export const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
