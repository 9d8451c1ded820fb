// The call's frame: the head layer (premultiplied colour [sh,sw,3] and transmittance
// [sh,sw], the renderer's internal resolution) upscaled bilinearly to the output size and
// composited over the session's under-layer, out = C + T * under, as RGBA8 (clamped to
// [0, 255], rounded ties to even; alpha is the under-layer's). The CPU's
// Compositing.compositeOver with FastUpscale's taps (pixel-centre aligned, edges clamped).
//
// The head layer's buffers hold only the rays' rectangle (rx0, ry0, rw x rh of the internal
// image, compacted row by row, as renderRays leaves it); outside it the head layer is
// C = 0 and T = 1. One thread per output pixel, the whole frame: and each bilinear blend below is written a + (b - a) f, which
// is exactly a when a == b, so there the output is the under-layer bit for bit.

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

struct Tap {
  i0: u32,
  i1: u32,
  f: f32,
}

// FastUpscale's taps(): u = clamp((i + 0.5) src / dst - 0.5, 0, src - 1), i0 = floor(u),
// i1 = min(i0 + 1, src - 1), f = u - i0. In integers, u = n / (2 dst) with
// n = (2i + 1) src - dst, so i0 is exact and f is one division of exact values (sizes
// are at most 8192: n < 2^27, 2 dst <= 2^14).
fn tap(i: u32, src: u32, dst: u32) -> Tap {
  let den = 2u * dst;
  let n = clamp(i32((2u * i + 1u) * src) - i32(dst), 0, i32((src - 1u) * den));
  let i0 = u32(n) / den;
  return Tap(i0, min(i0 + 1u, src - 1u), f32(u32(n) - i0 * den) / f32(den));
}

fn lerp(a: f32, b: f32, f: f32) -> f32 {
  return a + (b - a) * f;
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

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let x = id.x;
  let y = id.y;
  if (x >= params.width || y >= params.height) {
    return;
  }
  let tx = tap(x, params.sw, params.width);
  let ty = tap(y, params.sh, params.height);
  let a = head(tx.i0, ty.i0);
  let b = head(tx.i1, ty.i0);
  let c = head(tx.i0, ty.i1);
  let d = head(tx.i1, ty.i1);
  let t = lerp(lerp(a.w, b.w, tx.f), lerp(c.w, d.w, tx.f), ty.f);
  let top = a.xyz + (b.xyz - a.xyz) * tx.f;
  let bottom = c.xyz + (d.xyz - c.xyz) * tx.f;
  let mixed = top + (bottom - top) * ty.f;
  let p = y * params.width + x;
  let u = under[p];
  let behind = vec3f(vec3u(u & 0xffu, (u >> 8u) & 0xffu, (u >> 16u) & 0xffu));
  let lit = 255.0 * mixed + t * behind;
  // Clamped as a Uint8ClampedArray stores, NaN to 0: WGSL leaves clamp/max of a NaN to the
  // implementation (SwiftShader happens to give 0), a comparison is false on every one.
  let v = vec3u(round(min(select(vec3f(0.0), lit, lit >= vec3f(0.0)), vec3f(255.0))));
  out[p] = v.x | (v.y << 8u) | (v.z << 16u) | (u & 0xff000000u);
}
