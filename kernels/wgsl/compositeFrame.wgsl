// The call's frame: the head layer (premultiplied colour [sh,sw,3] and transmittance
// [sh,sw], the renderer's internal resolution) upscaled (the cubic of FastUpscale.ts) to the output size and
// composited over the session's under-layer, out = C + T * under, as RGBA8 (clamped to
// [0, 255], rounded ties to even; alpha is the under-layer's). The CPU's
// Compositing.compositeOver with FastUpscale's taps (pixel-centre aligned, edges clamped).
//
// The head layer's buffers hold only the rays' rectangle (rx0, ry0, rw x rh of the internal
// image, compacted row by row, as renderRays leaves it); outside it the head layer is
// C = 0 and T = 1. One thread per output pixel, the whole frame: where every tap misses the
// rectangle, C = 0 exactly and T is 1 within a float's rounding, far below half a grey
// level, so there the output is the under-layer bit for bit. T is not clamped where the
// cubic rings (as on the CPU: the upscale stays linear).

struct Params {
  sw: u32,
  sh: u32,
  width: u32,
  height: u32,
  rx0: u32,
  ry0: u32,
  rw: u32,
  rh: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> color: array<f32>;
@group(0) @binding(2) var<storage, read> transmittance: array<f32>;
// RGBA8 packed little-endian: R in the low byte.
@group(0) @binding(3) var<storage, read> under: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

// CUBIC_A, the cubic's parameter (Keys' kernel; -0.5 is Catmull-Rom), is declared above this
// source by compositeFrame.ts from kernels/upscaleCubic.ts, the number the CPU's upscale uses.

struct Taps {
  // The four source indices (clamped) and their cubic weights.
  i: vec4u,
  w: vec4f,
}

// FastUpscale's upscaleTaps(): u = clamp((i + 0.5) src / dst - 0.5, 0, src - 1),
// taps floor(u) - 1 .. floor(u) + 2 clamped to [0, src), t = u - floor(u). In integers,
// u = n / (2 dst) with n = (2i + 1) src - dst, so floor(u) is exact and t is one division
// of exact values (sizes are at most 8192: n < 2^27, 2 dst <= 2^14).
fn taps(i: u32, src: u32, dst: u32) -> Taps {
  let den = 2u * dst;
  let n = clamp(i32((2u * i + 1u) * src) - i32(dst), 0, i32((src - 1u) * den));
  let fl = i32(u32(n) / den);
  let t = f32(u32(n) - u32(fl) * den) / f32(den);
  let u = 1.0 - t;
  let w0 = CUBIC_A * t * u * u;
  let w3 = CUBIC_A * u * t * t;
  let w2 = ((CUBIC_A + 2.0) * u - (CUBIC_A + 3.0)) * u * u + 1.0;
  let last = i32(src) - 1;
  let idx = vec4u(clamp(vec4i(fl - 1, fl, fl + 1, fl + 2), vec4i(0), vec4i(last)));
  return Taps(idx, vec4f(w0, 1.0 - w0 - w2 - w3, w2, w3));
}

// The head layer at internal pixel (x, y): (C, T), or (0, 1) outside the rectangle.
fn head(x: u32, y: u32) -> vec4f {
  let lx = x - params.rx0;
  let ly = y - params.ry0;
  // Unsigned: a pixel left of or above the rectangle wraps to a large value.
  if (lx >= params.rw || ly >= params.rh) {
    return vec4f(0.0, 0.0, 0.0, 1.0);
  }
  let i = ly * params.rw + lx;
  return vec4f(color[3u * i], color[3u * i + 1u], color[3u * i + 2u], transmittance[i]);
}

// One source row widened at this output column, as the CPU's first pass.
fn row(tx: Taps, y: u32) -> vec4f {
  return head(tx.i.x, y) * tx.w.x + head(tx.i.y, y) * tx.w.y + head(tx.i.z, y) * tx.w.z + head(tx.i.w, y) * tx.w.w;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let x = id.x;
  let y = id.y;
  if (x >= params.width || y >= params.height) {
    return;
  }
  let tx = taps(x, params.sw, params.width);
  let ty = taps(y, params.sh, params.height);
  let ct = row(tx, ty.i.x) * ty.w.x + row(tx, ty.i.y) * ty.w.y + row(tx, ty.i.z) * ty.w.z + row(tx, ty.i.w) * ty.w.w;
  let p = y * params.width + x;
  let u = under[p];
  let behind = vec3f(vec3u(u & 0xffu, (u >> 8u) & 0xffu, (u >> 16u) & 0xffu));
  let lit = 255.0 * ct.xyz + ct.w * behind;
  // Clamped as a Uint8ClampedArray stores, NaN to 0: WGSL leaves clamp/max of a NaN to the
  // implementation (SwiftShader happens to give 0), a comparison is false on every one.
  let v = vec3u(round(min(select(vec3f(0.0), lit, lit >= vec3f(0.0)), vec3f(255.0))));
  out[p] = v.x | (v.y << 8u) | (v.z << 16u) | (u & 0xff000000u);
}
