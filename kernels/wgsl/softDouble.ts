// The host side of softDouble.wgsl: a JS number in the shader's unpacked float64 form
// (significand words, exponent, sign, class), for parameters such as marchRays' step.
import { readFileSync } from 'node:fs';

export const softDoubleSource = readFileSync(new URL('./softDouble.wgsl', import.meta.url), 'utf8');

const kZero = 0, kFinite = 1, kInf = 2, kNaN = 3;

export interface F64Words {
  /** Significand, low and high word (bit 63 set for finite values). */
  readonly lo: number;
  readonly hi: number;
  /** Exponent of the leading bit (value = m * 2^(e - 63)). */
  readonly e: number;
  readonly sign: 0 | 1;
  readonly kind: number;
}

/** x exactly, in the shader's form. */
export function f64Words(x: number): F64Words {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const sign = (view.getUint32(0) >>> 31) as 0 | 1;
  if (Number.isNaN(x)) return { lo: 0, hi: 0, e: 0, sign: 0, kind: kNaN };
  if (!Number.isFinite(x)) return { lo: 0, hi: 0, e: 0, sign, kind: kInf };
  if (x === 0) return { lo: 0, hi: 0, e: 0, sign, kind: kZero };
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (biased !== 0) mant |= 1n << 52n;
  // Normalise the leading bit to bit 63: value = mant * 2^(E - 52), E = biased - 1023 (or -1022 subnormal).
  const shift = 64 - mant.toString(2).length;
  const m = mant << BigInt(shift);
  const e = (biased === 0 ? -1022 : biased - 1023) + 11 - shift;
  return { lo: Number(m & 0xffffffffn), hi: Number(m >> 32n), e, sign, kind: kFinite };
}

/** The shader form back to a number (exact: the significand has at most 53 bits). */
export function f64FromWords(w: F64Words): number {
  if (w.kind === kNaN) return NaN;
  const s = w.sign ? -1 : 1;
  if (w.kind === kInf) return s * Infinity;
  if (w.kind === kZero) return s * 0;
  return s * (w.hi * 2 ** 32 + w.lo) * 2 ** (w.e - 63);
}
