// IEEE float64 arithmetic in 32-bit integers, for shaders that must equal a float64 CPU
// computation bit for bit (marchRays' sample positions and cells: WGSL has no f64).
// add, mul, div (correctly rounded to nearest, ties to even), comparisons and the
// conversions the march needs; NaN, infinities and signed zeros as IEEE. The exponent is
// an unbounded i32, so there are no float64 subnormals or overflow: exact for values
// within 2^+-1000 (the march's stay within 2^+-400: float32 inputs, one division, products).
// Integer arithmetic only: the same bits on every GPU and in every pass that recomputes them.

const kZero = 0u;
const kFinite = 1u;
const kInf = 2u;
const kNaN = 3u;

struct F64 {
  // The significand, x the low word: bit 63 set for finite values, bits 0-10 zero (53 bits).
  m: vec2u,
  // value = m * 2^(e - 63): e is the exponent of the leading bit.
  e: i32,
  s: u32,
  // kZero, kFinite, kInf or kNaN (order matters: f64MagLess).
  k: u32,
}

fn f64Special(k: u32, s: u32) -> F64 {
  return F64(vec2u(0u), 0, s, k);
}

fn f64Neg(a: F64) -> F64 {
  return F64(a.m, a.e, a.s ^ 1u, a.k);
}

// ---- 64-bit unsigned integers as vec2u (x low word, y high word).
fn u64Add(a: vec2u, b: vec2u) -> vec2u {
  let lo = a.x + b.x;
  return vec2u(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn u64Sub(a: vec2u, b: vec2u) -> vec2u {
  return vec2u(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn u64Less(a: vec2u, b: vec2u) -> bool {
  return a.y < b.y || (a.y == b.y && a.x < b.x);
}

fn u64IsZero(a: vec2u) -> bool {
  return (a.x | a.y) == 0u;
}

// a >> n for n < 64 (WGSL masks shift counts to 5 bits, so 0 and 32+ are cases of their own).
fn u64Shr(a: vec2u, n: u32) -> vec2u {
  if (n == 0u) {
    return a;
  }
  if (n < 32u) {
    return vec2u((a.x >> n) | (a.y << (32u - n)), a.y >> n);
  }
  return vec2u(a.y >> (n - 32u), 0u);
}

fn u64Shl(a: vec2u, n: u32) -> vec2u {
  if (n == 0u) {
    return a;
  }
  if (n < 32u) {
    return vec2u(a.x << n, (a.y << n) | (a.x >> (32u - n)));
  }
  return vec2u(0u, a.x << (n - 32u));
}

// a >> n, any n, with the shifted-out bits ORed into bit 0 (the sticky bit of rounding).
fn u64ShrJam(a: vec2u, n: u32) -> vec2u {
  if (n == 0u) {
    return a;
  }
  if (n >= 64u) {
    return vec2u(select(0u, 1u, !u64IsZero(a)), 0u);
  }
  var lost: u32;
  if (n < 32u) {
    lost = a.x & ((1u << n) - 1u);
  } else {
    lost = a.x | (a.y & ((1u << (n - 32u)) - 1u));
  }
  let r = u64Shr(a, n);
  return vec2u(r.x | select(0u, 1u, lost != 0u), r.y);
}

fn u64Clz(a: vec2u) -> u32 {
  if (a.y != 0u) {
    return countLeadingZeros(a.y);
  }
  return 32u + countLeadingZeros(a.x);
}

// a * b as 64 bits (x low, y high), from 16-bit halves.
fn u32MulWide(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = p01 + p10;
  let midCarry = select(0u, 0x10000u, mid < p01);
  let lo = p00 + (mid << 16u);
  let loCarry = select(0u, 1u, lo < p00);
  return vec2u(lo, p11 + (mid >> 16u) + midCarry + loCarry);
}

// ---- float64.
// Rounds a significand with bit 63 set (and anything below bit 0 already ORed into bit 0)
// to 53 bits, to nearest, ties to even.
fn f64Round(s: u32, e: i32, m: vec2u) -> F64 {
  let half = (m.x >> 10u) & 1u;
  let rest = m.x & 0x3ffu;
  let lsb = (m.x >> 11u) & 1u;
  var r = vec2u(m.x & ~0x7ffu, m.y);
  var ex = e;
  if (half == 1u && (rest != 0u || lsb == 1u)) {
    r = u64Add(r, vec2u(0x800u, 0u));
    if (r.y < 0x80000000u) {
      // Carried out of bit 63 (the significand was all ones): 2^64 -> 2^63, one exponent up.
      r = vec2u(0u, 0x80000000u);
      ex += 1;
    }
  }
  return F64(r, ex, s, kFinite);
}

// A float32 (given as its bits), exactly.
fn f64FromF32Bits(b: u32) -> F64 {
  let s = b >> 31u;
  let ex = (b >> 23u) & 0xffu;
  let fr = b & 0x7fffffu;
  if (ex == 255u) {
    return f64Special(select(kInf, kNaN, fr != 0u), s);
  }
  if (ex == 0u) {
    if (fr == 0u) {
      return f64Special(kZero, s);
    }
    // Subnormal: fr * 2^-149.
    let lz = countLeadingZeros(fr);
    return F64(vec2u(0u, fr << lz), i32(31u - lz) - 149, s, kFinite);
  }
  return F64(vec2u(0u, (fr | 0x800000u) << 8u), i32(ex) - 127, s, kFinite);
}

fn f64FromU32(n: u32) -> F64 {
  if (n == 0u) {
    return f64Special(kZero, 0u);
  }
  let lz = countLeadingZeros(n);
  return F64(vec2u(0u, n << lz), i32(31u - lz), 0u, kFinite);
}

fn f64Add(a: F64, b: F64) -> F64 {
  if (a.k == kNaN || b.k == kNaN) {
    return f64Special(kNaN, 0u);
  }
  if (a.k == kInf) {
    if (b.k == kInf && a.s != b.s) {
      return f64Special(kNaN, 0u);
    }
    return a;
  }
  if (b.k == kInf) {
    return b;
  }
  if (a.k == kZero) {
    if (b.k == kZero) {
      return f64Special(kZero, a.s & b.s);
    }
    return b;
  }
  if (b.k == kZero) {
    return a;
  }
  // x the larger magnitude. One bit of headroom for the carry (exact: bits 0-10 are zero);
  // y aligned with its shifted-out bits jammed into bit 0, which stays below the round bit:
  // a jam needs an exponent gap of 11 or more, and then at most 2 bits cancel.
  var x = a;
  var y = b;
  if (y.e > x.e || (y.e == x.e && u64Less(x.m, y.m))) {
    x = b;
    y = a;
  }
  let xm = u64Shr(x.m, 1u);
  let ym = u64ShrJam(y.m, u32(x.e - y.e) + 1u);
  var r: vec2u;
  if (x.s == y.s) {
    r = u64Add(xm, ym);
  } else {
    r = u64Sub(xm, ym);
  }
  if (u64IsZero(r)) {
    // x - x is +0 when rounding to nearest.
    return f64Special(kZero, 0u);
  }
  let lz = u64Clz(r);
  return f64Round(x.s, x.e + 1 - i32(lz), u64Shl(r, lz));
}

fn f64Sub(a: F64, b: F64) -> F64 {
  return f64Add(a, f64Neg(b));
}

fn f64Mul(a: F64, b: F64) -> F64 {
  let s = a.s ^ b.s;
  if (a.k == kNaN || b.k == kNaN) {
    return f64Special(kNaN, 0u);
  }
  if (a.k == kInf || b.k == kInf) {
    if (a.k == kZero || b.k == kZero) {
      return f64Special(kNaN, 0u);
    }
    return f64Special(kInf, s);
  }
  if (a.k == kZero || b.k == kZero) {
    return f64Special(kZero, s);
  }
  // The 128-bit product in words w0 (low) .. w3.
  let p00 = u32MulWide(a.m.x, b.m.x);
  let p01 = u32MulWide(a.m.x, b.m.y);
  let p10 = u32MulWide(a.m.y, b.m.x);
  let p11 = u32MulWide(a.m.y, b.m.y);
  let w0 = p00.x;
  var t = u64Add(vec2u(p00.y, 0u), vec2u(p01.x, 0u));
  t = u64Add(t, vec2u(p10.x, 0u));
  let w1 = t.x;
  t = u64Add(vec2u(t.y, 0u), vec2u(p01.y, 0u));
  t = u64Add(t, vec2u(p10.y, 0u));
  t = u64Add(t, vec2u(p11.x, 0u));
  let w2 = t.x;
  let w3 = p11.y + t.y;
  // The leading bit is bit 127 or 126 of the product.
  var hi = vec2u(w2, w3);
  var sticky = (w1 | w0) != 0u;
  var e = a.e + b.e + 1;
  if ((w3 & 0x80000000u) == 0u) {
    hi = vec2u((w2 << 1u) | (w1 >> 31u), (w3 << 1u) | (w2 >> 31u));
    sticky = ((w1 << 1u) | w0) != 0u;
    e = a.e + b.e;
  }
  hi.x |= select(0u, 1u, sticky);
  return f64Round(s, e, hi);
}

fn f64Div(a: F64, b: F64) -> F64 {
  let s = a.s ^ b.s;
  if (a.k == kNaN || b.k == kNaN) {
    return f64Special(kNaN, 0u);
  }
  if (a.k == kInf) {
    if (b.k == kInf) {
      return f64Special(kNaN, 0u);
    }
    return f64Special(kInf, s);
  }
  if (b.k == kInf) {
    return f64Special(kZero, s);
  }
  if (b.k == kZero) {
    if (a.k == kZero) {
      return f64Special(kNaN, 0u);
    }
    return f64Special(kInf, s);
  }
  if (a.k == kZero) {
    return f64Special(kZero, s);
  }
  // Restoring division of the 53-bit significands: 55 quotient bits (53, a round bit and
  // one more), the remainder as the sticky bit.
  var num = u64Shr(a.m, 11u);
  let den = u64Shr(b.m, 11u);
  var e = a.e - b.e;
  if (u64Less(num, den)) {
    num = u64Shl(num, 1u);
    e -= 1;
  }
  var q = vec2u(0u);
  var rem = num;
  for (var i = 0u; i < 55u; i++) {
    q = u64Shl(q, 1u);
    if (!u64Less(rem, den)) {
      rem = u64Sub(rem, den);
      q.x |= 1u;
    }
    rem = u64Shl(rem, 1u);
  }
  q = u64Shl(q, 9u);
  q.x |= select(0u, 1u, !u64IsZero(rem));
  return f64Round(s, e, q);
}

// |a| < |b| for a and b not NaN.
fn f64MagLess(a: F64, b: F64) -> bool {
  if (a.k != b.k) {
    return a.k < b.k;
  }
  if (a.k != kFinite) {
    return false;
  }
  return a.e < b.e || (a.e == b.e && u64Less(a.m, b.m));
}

// a < b as IEEE: false with a NaN, -0 == +0.
fn f64Less(a: F64, b: F64) -> bool {
  if (a.k == kNaN || b.k == kNaN || (a.k == kZero && b.k == kZero)) {
    return false;
  }
  if (a.s != b.s) {
    return a.s == 1u;
  }
  if (a.s == 1u) {
    return f64MagLess(b, a);
  }
  return f64MagLess(a, b);
}

// The float32 nearest a (ties to even), as bits: what float(x) does on the CPU.
fn f64ToF32Bits(a: F64) -> u32 {
  let sign = a.s << 31u;
  if (a.k == kNaN) {
    return 0x7fc00000u;
  }
  if (a.k == kInf || (a.k == kFinite && a.e > 127)) {
    return sign | 0x7f800000u;
  }
  if (a.k == kZero) {
    return sign;
  }
  // 24 bits (fewer for a float32 subnormal), then a round bit and a sticky bit.
  var shift = 38u;
  var biased = a.e + 127;
  if (a.e < -126) {
    shift = 38u + u32(-126 - a.e);
    biased = 0;
  }
  let t = u64ShrJam(a.m, shift).x;
  var mant = t >> 2u;
  if (((t >> 1u) & 1u) == 1u && ((t & 1u) == 1u || (mant & 1u) == 1u)) {
    mant += 1u;
  }
  // A carry into 2^24 bumps the exponent (up to infinity); a subnormal rounded up to 2^23
  // is the smallest normal: both by the addition.
  if (biased == 0) {
    return sign | mant;
  }
  return sign | ((u32(biased - 1) << 23u) + mant);
}

// floor(v) clamped to [0, G - 1] (the march's cell index on one axis); -1 for NaN (no cell).
fn f64Cell(v: F64, G: u32) -> i32 {
  if (v.k == kNaN) {
    return -1;
  }
  if (v.k == kZero || v.s == 1u || (v.k == kFinite && v.e < 0)) {
    return 0;
  }
  if (v.k == kInf || v.e >= 31) {
    return i32(G - 1u);
  }
  return i32(min(v.m.y >> u32(31 - v.e), G - 1u));
}
