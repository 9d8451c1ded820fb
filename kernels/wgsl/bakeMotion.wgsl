// The frame's deformation offsets on a bake grid of m^3 points (bake_motion.cpp on the
// GPU): at each point (align_corners=false centres of the motion box, x fastest) the
// motion volume [M,M,M,C] at strides 1/2/4, the sin/cos encoding of each of those 3C
// values, hidden = leaky_relu(W0 enc + b0), offsets = 0.1 (W1 hidden + b1).
//
// One thread per bake point. The hidden units are the thread's accumulators: each
// feature value is sampled, encoded term by term and added into all of them at once, so
// neither the 3C features nor the 3C(1+2F) encoding is ever stored. The TypeScript side
// prepends `const HIDDEN: u32 = <H>u;` (one pipeline per hidden width): a constant trip
// count lets the driver keep the accumulators in registers instead of indexed memory.
// Every thread reads the same weight at the same time (uniform, broadcast loads).

struct Params {
  M: u32,
  C: u32,
  m: u32,
  F: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> motion: array<f32>;
@group(0) @binding(2) var<storage, read> W0: array<f32>;
@group(0) @binding(3) var<storage, read> b0: array<f32>;
@group(0) @binding(4) var<storage, read> W1: array<f32>;
@group(0) @binding(5) var<storage, read> b1: array<f32>;
@group(0) @binding(6) var<storage, read_write> offsets: array<f32>;

// The 8 corners of a trilinear lookup: element offsets (of channel 0) and weights.
// Out-of-range corners get weight 0 and a valid address (infer_math.h `corners`).
struct Corners {
  off: array<u32, 8>,
  w: array<f32, 8>,
}

// grid_sample3d (align_corners=false, zero padding) of the volume viewed at `stride`.
fn corners(stride: u32, g: vec3f) -> Corners {
  let M = params.M;
  let S = i32((M - 1u) / stride + 1u);
  let half = 0.5 * f32(S);
  let hi = f32(S) + 1.0;
  let step = vec3u(stride * params.C, stride * params.C * M, stride * params.C * M * M);
  var base: array<vec2u, 3>;
  var wt: array<vec2f, 3>;
  for (var a = 0u; a < 3u; a++) {
    var u = (g[a] + 1.0) * half - 0.5;
    // Clamped so the int conversion stays in range; written so NaN maps to -2.
    u = select(-2.0, u, u > -2.0);
    u = select(hi, u, u < hi);
    let fl = floor(u);
    let i0 = i32(fl);
    let f = u - fl;
    let in0 = i0 >= 0 && i0 < S;
    let in1 = i0 + 1 >= 0 && i0 + 1 < S;
    base[a] = vec2u(select(0u, u32(i0), in0) * step[a], select(0u, u32(i0 + 1), in1) * step[a]);
    wt[a] = vec2f(select(0.0, 1.0 - f, in0), select(0.0, f, in1));
  }
  var c: Corners;
  var k = 0u;
  for (var dz = 0u; dz < 2u; dz++) {
    for (var dy = 0u; dy < 2u; dy++) {
      for (var dx = 0u; dx < 2u; dx++) {
        c.off[k] = base[2][dz] + base[1][dy] + base[0][dx];
        c.w[k] = wt[2][dz] * wt[1][dy] * wt[0][dx];
        k++;
      }
    }
  }
  return c;
}

// sin and cos of x as the CPU op computes them (infer_math.h sincos8): quadrant reduction
// by pi/2 with a two-part constant, Taylor polynomials on [-pi/4, pi/4], quadrant fix-up.
// Not WGSL's sin/cos: their required accuracy is 2^-11 absolute on [-pi, pi] only.
fn sincos(x: f32) -> vec2f {
  let q = round(x * 0.636619772367581);
  let r = (x - q * 1.5707962513) - q * 7.549789948768648e-8;
  let r2 = r * r;
  let sp = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
  let cp = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
  let qi = i32(q);
  let odd = (qi & 1) != 0;
  let neg = (qi & 2) != 0;
  let s0 = select(sp, cp, odd);
  let c0 = select(cp, -sp, odd);
  return vec2f(select(s0, -s0, neg), select(c0, -c0, neg));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // 2D dispatch: a bake grid of more than 65535 * 64 points does not fit one dimension.
  let i = id.x + id.y * groups.x * 64u;
  let m = params.m;
  if (i >= m * m * m) {
    return;
  }
  let C = params.C;
  let F = params.F;
  let per = 1u + 2u * F;
  let encM = 3u * C * per;
  let g = vec3f(vec3u(i % m, i / m % m, i / (m * m)) * 2u + 1u) / f32(m) - 1.0;

  var acc: array<f32, HIDDEN>;
  for (var h = 0u; h < HIDDEN; h++) {
    acc[h] = b0[h];
  }
  for (var s = 0u; s < 3u; s++) {
    let c = corners(1u << s, g);
    for (var ch = 0u; ch < C; ch++) {
      var v = 0.0;
      for (var k = 0u; k < 8u; k++) {
        v += c.w[k] * motion[c.off[k] + ch];
      }
      // Column of this value's first term in W0's value-major encoding [v, sin v, cos v, sin 2v, ...].
      let col = (s * C + ch) * per;
      for (var h = 0u; h < HIDDEN; h++) {
        acc[h] = fma(W0[h * encM + col], v, acc[h]);
      }
      // Octaves by the double-angle recurrence, as the CPU op (one sin/cos per value).
      var sc = sincos(v);
      for (var j = 0u; j < F; j++) {
        let t = col + 1u + 2u * j;
        for (var h = 0u; h < HIDDEN; h++) {
          acc[h] = fma(W0[h * encM + t + 1u], sc.y, fma(W0[h * encM + t], sc.x, acc[h]));
        }
        sc = vec2f(2.0 * sc.x * sc.y, 1.0 - 2.0 * sc.x * sc.x);
      }
    }
  }
  for (var h = 0u; h < HIDDEN; h++) {
    let a = acc[h];
    acc[h] = select(a * 0.01, a, a > 0.0);
  }
  for (var o = 0u; o < 3u; o++) {
    var out = 0.0;
    for (var h = 0u; h < HIDDEN; h++) {
      out = fma(W1[o * HIDDEN + h], acc[h], out);
    }
    offsets[3u * i + o] = 0.1 * (b1[o] + out);
  }
}
