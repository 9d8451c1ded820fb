// The GPU check's correctness part: each inference op of a backend on the shared suite's
// random inputs (same seeds and sizes as kernels/suite/*), scored against the float64
// references (kernels/reference/) with the suite's tolerances, and against the CPU
// backend when it loaded. An op that throws, or that raises a WebGPU validation or
// out-of-memory error, is reported as failed with its message; the other ops still run.
import type { DeformMlp, GridShape, InferenceKernels, RenderRaysScene } from '../../kernels/KernelsTypes';
import { bakeMotionRef } from '../../kernels/reference/bake';
import { blendVolumesRef } from '../../kernels/reference/blend';
import { densityAtRef, renderRaysRef } from '../../kernels/reference/render';
import { randomRays, randomScene } from '../../kernels/suite/render.suite';
import { rng, uniform, type Tol } from '../../kernels/testUtil';

export const OP_NAMES = ['blendVolumes', 'bakeMotion', 'renderRays', 'densityAt'] as const;
export type OpName = (typeof OP_NAMES)[number];

/** The shared suite's tolerances (kernels/suite/*.suite.ts), restated here: the suite keeps them inline. */
export const SUITE_TOLERANCES: Readonly<Record<OpName, Tol>> = {
  blendVolumes: { abs: 1e-5, rel: 1e-4 },
  bakeMotion: { abs: 1e-5, rel: 1e-4 },
  renderRays: { abs: 2e-4, rel: 0 },
  densityAt: { abs: 1e-4, rel: 1e-4 },
};

export interface Comparison {
  readonly maxAbsError: number;
  /** Largest |a - e| - (abs + rel |e|): <= 0 means within tolerance everywhere. */
  readonly worstExcess: number;
  readonly worstIndex: number;
}

/** Elementwise comparison as the suite's assertClose does it; NaN counts as an infinite error. */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol): Comparison {
  if (actual.length !== expected.length) throw new RangeError(`length ${actual.length} != ${expected.length}`);
  let maxAbsError = 0, worstExcess = -Infinity, worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!, err = Math.abs(actual[i]! - e);
    const abs = Number.isNaN(err) ? Infinity : err, excess = abs - (tol.abs + tol.rel * Math.abs(e));
    if (abs > maxAbsError) maxAbsError = abs;
    if (excess > worstExcess) {
      worstExcess = excess;
      worstIndex = i;
    }
  }
  return { maxAbsError, worstExcess: expected.length ? worstExcess : 0, worstIndex };
}

export interface CaseReport {
  readonly name: string;
  readonly ok: boolean;
  readonly ms?: number;
  readonly maxAbsError?: number;
  readonly maxAbsErrorVsCpu?: number;
  readonly withinTolerance?: boolean;
  /** Stats a case checks besides the output (renderRays' sample counts). */
  readonly notes?: string;
  readonly error?: string;
}

export interface OpReport {
  readonly ok: boolean;
  readonly tolerance: Tol;
  readonly maxAbsError: number | null;
  readonly maxAbsErrorVsCpu: number | null;
  readonly cases: readonly CaseReport[];
}

/** What one case computes: the backend's output, the float64 reference's, and the CPU backend's when given. */
interface CaseRun {
  readonly actual: ArrayLike<number>;
  readonly expected: ArrayLike<number>;
  readonly cpu?: ArrayLike<number>;
  /** A check besides the values (null when it holds), e.g. sample counts. */
  readonly extra?: string | null;
}

interface Case {
  readonly name: string;
  run(k: InferenceKernels, cpu: InferenceKernels | null): Promise<CaseRun>;
}

/** Catches WebGPU errors an op raises without throwing (validation, out of memory). */
export interface ErrorScopes {
  push(): void;
  pop(): Promise<string | null>;
}

export function deviceErrorScopes(device: GPUDevice): ErrorScopes {
  return {
    push() {
      device.pushErrorScope('validation');
      device.pushErrorScope('out-of-memory');
    },
    async pop() {
      const oom = await device.popErrorScope(), validation = await device.popErrorScope();
      const e = oom ?? validation;
      return e ? `WebGPU ${oom ? 'out-of-memory' : 'validation'} error: ${e.message}` : null;
    },
  };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function runCase(c: Case, op: OpName, k: InferenceKernels, cpu: InferenceKernels | null, scopes: ErrorScopes | null): Promise<CaseReport> {
  const t0 = performance.now();
  scopes?.push();
  let run: CaseRun | undefined, error: string | undefined;
  try {
    run = await c.run(k, cpu);
  } catch (err) {
    error = message(err);
  }
  const gpuError = scopes ? await scopes.pop().catch((err: unknown) => `popErrorScope: ${message(err)}`) : null;
  const ms = Math.round((performance.now() - t0) * 10) / 10;
  if (error !== undefined || !run) return { name: c.name, ok: false, ms, error: gpuError ? `${error}; ${gpuError}` : error };
  const tol = SUITE_TOLERANCES[op], vsRef = compare(run.actual, run.expected, tol);
  const vsCpu = run.cpu ? compare(run.actual, run.cpu, tol) : null;
  const withinTolerance = vsRef.worstExcess <= 0;
  const problems = [
    gpuError,
    run.extra ?? null,
    withinTolerance ? null : `at [${vsRef.worstIndex}] got ${run.actual[vsRef.worstIndex]}, expected ${run.expected[vsRef.worstIndex]}`,
  ].filter((p): p is string => p !== null);
  return {
    name: c.name, ok: problems.length === 0, ms, maxAbsError: vsRef.maxAbsError,
    ...(vsCpu ? { maxAbsErrorVsCpu: vsCpu.maxAbsError } : {}), withinTolerance,
    ...(problems.length ? { error: problems.join('; ') } : {}),
  };
}

function deformMlp(seed: number, C: number, F: number, H: number): DeformMlp {
  const rand = rng(seed), enc = 3 * C * (1 + 2 * F);
  return { frequencies: F, hidden: H, W0: uniform(H * enc, -0.5, 0.5, rand), b0: uniform(H, -0.3, 0.3, rand), W1: uniform(3 * H, -1, 1, rand), b1: uniform(3, -0.2, 0.2, rand) };
}

function blendCase(name: string, mean: Float32Array, bases: Float32Array, coeff: Float32Array): Case {
  return {
    name,
    async run(k, cpu) {
      const { out } = await k.blendVolumes(mean, bases, coeff);
      return { actual: out, expected: blendVolumesRef(mean, bases, coeff), ...(cpu ? { cpu: (await cpu.blendVolumes(mean, bases, coeff)).out } : {}) };
    },
  };
}

function blendCases(): Case[] {
  const rand = rng(30), E = 5, V = 10007;
  const mean = uniform(V, -1, 1, rand), bases = uniform(E * V, -1, 1, rand), coeff = uniform(E, -1, 1, rand);
  // The product's size: E = 51 bases of the 33^3 x 2 motion grid (DEFAULT_CONFIG).
  const big = rng(31), E2 = 51, V2 = 33 ** 3 * 2;
  return [
    blendCase('hand-worked', Float32Array.from([1, 2]), Float32Array.from([1, 0, 0, 1, 2, 2]), Float32Array.from([0.5, -1, 0.25])),
    blendCase(`random E=${E} V=${V}`, mean, bases, coeff),
    blendCase(`product size E=${E2} V=${V2}`, uniform(V2, -1, 1, big), uniform(E2 * V2, -1, 1, big), uniform(E2, -1, 1, big)),
  ];
}

function bakeCases(): Case[] {
  return ([[9, 2, 4, 19, 7], [5, 3, 2, 16, 11], [9, 2, 0, 33, 9]] as const).map(([M, C, F, H, m]) => ({
    name: `M=${M} C=${C} F=${F} H=${H} m=${m}`,
    async run(k, cpu) {
      const rand = rng(M * 100 + m), motion = uniform(M * M * M * C, -2, 2, rand), shape: GridShape = { d: M, h: M, w: M, c: C };
      const d = deformMlp(m, C, F, H), actual = new Float32Array(3 * m ** 3).fill(NaN), expected = new Float32Array(3 * m ** 3);
      await k.bakeMotion(motion, shape, m, d, actual);
      bakeMotionRef(motion, shape, m, d, expected);
      let onCpu: Float32Array | undefined;
      if (cpu) await cpu.bakeMotion(motion, shape, m, d, (onCpu = new Float32Array(3 * m ** 3)));
      return { actual, expected, ...(onCpu ? { cpu: onCpu } : {}) };
    },
  }));
}

function renderCases(): Case[] {
  const variants: [string, Partial<RenderRaysScene>][] = [['default', {}], ['no thresholds', { weightEps: 0, tEps: 0 }], ['early termination', { stepDensity: 3, tEps: 0.05 }]];
  const colour: Case[] = variants.map(([label, over]) => ({
    name: `colour, ${label} (300 rays)`,
    async run(k, cpu) {
      const { origins, dirs } = randomRays(300, 4), s = randomScene(2, over);
      const actual = new Float32Array(900).fill(NaN), expected = new Float32Array(900);
      const st = await k.renderRays(origins, dirs, s, actual), sr = renderRaysRef(origins, dirs, s, expected);
      let onCpu: Float32Array | undefined;
      if (cpu) await cpu.renderRays(origins, dirs, s, (onCpu = new Float32Array(900)));
      // The march stops with the shading (samples = density); float32 may cross tEps a sample from the float64 reference.
      const extra = st.samples !== st.density || Math.abs(st.density - sr.density) > 2 || Math.abs(st.shaded - sr.shaded) > 2
        ? `samples ${st.samples} (density ${st.density} vs ${sr.density}), shaded ${st.shaded} vs ${sr.shaded}` : null;
      return { actual, expected, extra, ...(onCpu ? { cpu: onCpu } : {}) };
    },
  }));
  const transmittance: Case = {
    name: 'transmittance, black background (300 rays)',
    async run(k, cpu) {
      const { origins, dirs } = randomRays(300, 9), s = { ...randomScene(2, { stepDensity: 3, tEps: 0.05 }), background: new Float32Array(3) };
      const actual = new Float32Array(300).fill(NaN), expected = new Float32Array(300);
      await k.renderRays(origins, dirs, s, new Float32Array(900), actual);
      renderRaysRef(origins, dirs, s, new Float32Array(900), expected);
      let onCpu: Float32Array | undefined;
      if (cpu) await cpu.renderRays(origins, dirs, s, new Float32Array(900), (onCpu = new Float32Array(300)));
      return { actual, expected, ...(onCpu ? { cpu: onCpu } : {}) };
    },
  };
  return [...colour, transmittance];
}

function densityCases(): Case[] {
  // Drawn in the suite's order: the points, then the second variant's tensors.
  const rand = rng(7), P = 37, points = uniform(3 * P, -1.6, 1.6, rand);
  const wide: Partial<RenderRaysScene> = {
    frequencies: 4, channels: 4, appearance: uniform(9 * 9 * 9 * 4, -1.5, 1.5, rand),
    densW0: uniform(5 * 108, -0.3, 0.3, rand), colorW0: uniform(19 * (108 + 27), -0.3, 0.3, rand),
  };
  return ([['C=3 F=2', {}], ['C=4 F=4', wide]] as const).map(([label, over]) => ({
    name: `${label} (${P} points)`,
    async run(k, cpu) {
      const s = randomScene(5, over), actual = new Float32Array(P).fill(NaN), expected = new Float32Array(P);
      await k.densityAt(points, s, actual);
      densityAtRef(points, s, expected);
      let onCpu: Float32Array | undefined;
      if (cpu) await cpu.densityAt(points, s, (onCpu = new Float32Array(P)));
      return { actual, expected, ...(onCpu ? { cpu: onCpu } : {}) };
    },
  }));
}

const CASES: Readonly<Record<OpName, () => Case[]>> = { blendVolumes: blendCases, bakeMotion: bakeCases, renderRays: renderCases, densityAt: densityCases };

const maxOf = (cases: readonly CaseReport[], key: 'maxAbsError' | 'maxAbsErrorVsCpu') => {
  const v = cases.map((c) => c[key]).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : null;
};

/** Every inference op of `k` (reported per op; an op's cases stop at its first throw). */
export async function checkOps(
  k: InferenceKernels, cpu: InferenceKernels | null, scopes: ErrorScopes | null, log: (line: string) => void = () => {},
): Promise<Record<OpName, OpReport>> {
  const report = {} as Record<OpName, OpReport>;
  for (const op of OP_NAMES) {
    const cases: CaseReport[] = [];
    for (const c of CASES[op]()) {
      const r = await runCase(c, op, k, cpu, scopes);
      cases.push(r);
      log(`${op} ${c.name}: ${r.ok ? 'ok' : 'FAILED'}${r.maxAbsError !== undefined ? ` max abs error ${r.maxAbsError.toExponential(2)}` : ''}${r.error ? ` (${r.error})` : ''}`);
      // A throw is the op missing or broken: its other cases would say the same.
      if (r.maxAbsError === undefined) break;
    }
    report[op] = { ok: cases.every((c) => c.ok), tolerance: SUITE_TOLERANCES[op], maxAbsError: maxOf(cases, 'maxAbsError'), maxAbsErrorVsCpu: maxOf(cases, 'maxAbsErrorVsCpu'), cases };
  }
  return report;
}
