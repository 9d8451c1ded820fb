// An avatar's scene on the GPU (GpuScene.ts) and the per-sample steps renderRays and
// densityAt share: baked offset lookup, appearance at strides 1/2/4 at the moved point,
// sin/cos encoding and the heads. Concatenated in front of renderRays.wgsl and
// densityAt.wgsl, which declare their own bindings from 4 on.
//
// Layouts (GpuScene.ts writes them; `tensors` is one buffer of vec4s):
// - appearance at tensors[0..): cell (z, y, x) of the [A,A,A] grid holds C4 = ceil(C/4)
//   vec4s (channels zero-padded), so a corner is C4 vector loads;
// - each first-layer weight matrix W [H, cols] transposed to column-major vec4 rows:
//   column k's weights for hidden units 4j..4j+3 at block + k*H4 + j (H4 = ceil(H/4),
//   zero-padded), so a thread adds one encoded value times a column as H4 vec4 FMAs
//   the moment the value is produced, and never holds an encoding;
// - output layers W1 [rows, H] as rows of H4 vec4s.

// The scene's shape comes first, from GpuScene.shapeWgsl: C (appearance channels), C4 =
// ceil(C / 4), F (frequencies), Hd4 and Hc4 (the heads' hidden widths in vec4s, at most
// 16): constants, so a GPU compiler can unroll the per-feature loops and keep a head's
// hidden layer in registers rather than in per-thread memory. On an H200 (2026-12-04)
// a ray's chain of kept samples is what renderRays waits for (docs/gpu.md). A pipeline
// per shape, shared by every avatar of that shape.
const maxHidden4 = 16u;
const Hmax4 = max(Hd4, Hc4);

struct SceneParams {
  appMin: vec3f, G: u32,
  appMax: vec3f, B: u32,
  // 2 / (max - min) per axis, as float (what the CPU op multiplies by).
  appScale: vec3f, A: u32,
  motionMin: vec3f, maxSamples: u32,
  motionScale: vec3f, densB1: f32,
  colorB1: vec3f, step: f32,
  stepDensity: f32, tEps: f32, weightEps: f32,
  // Offsets in `tensors` (vec4 units) of the weight blocks.
  densW0: u32,
  densW1: u32, colorW0: u32, colorView: u32, colorW1: u32,
}

// What changes every frame: the first-layer biases with the expression folded in, the background.
struct FrameParams {
  background: vec4f,
  densB0: array<vec4f, maxHidden4>,
  colorB0: array<vec4f, maxHidden4>,
}

@group(0) @binding(0) var<uniform> scene: SceneParams;
@group(0) @binding(1) var<uniform> frame: FrameParams;
@group(0) @binding(2) var<storage, read> tensors: array<vec4f>;
// [B,B,B,3] over the motion box (bakeMotion writes it each frame).
@group(0) @binding(3) var<storage, read> offsets: array<f32>;

alias Hidden = array<vec4f, Hmax4>;
// Stride v's C channels at [v * C4, (v + 1) * C4).
alias Features = array<vec4f, 3u * C4>;

// One axis of a trilinear lookup in a grid of S points per axis (align_corners=false,
// zero padding): the lower corner and the fraction, as the CPU op's GridView.
struct Axes {
  i0: vec3i,
  f: vec3f,
}

fn axes(g: vec3f, S: u32) -> Axes {
  let s = f32(S);
  // Clamped so the int conversion stays in range; the far corners then read only padding.
  let u = clamp((g + 1.0) * (0.5 * s) - 0.5, vec3f(-2.0), vec3f(s + 1.0));
  let fl = floor(u);
  return Axes(vec3i(fl), u - fl);
}

fn cornerWeight(a: Axes, dz: u32, dy: u32, dx: u32) -> f32 {
  let w = select(1.0 - a.f, a.f, vec3<bool>(dx == 1u, dy == 1u, dz == 1u));
  return w.z * w.y * w.x;
}

fn inside(i: i32, S: u32) -> bool {
  return i >= 0 && i < i32(S);
}

// The baked offset at canonical point p (motion box), trilinear over [B,B,B,3].
fn offsetAt(p: vec3f) -> vec3f {
  let B = scene.B;
  let a = axes((p - scene.motionMin) * scene.motionScale - 1.0, B);
  var acc = vec3f(0.0);
  for (var dz = 0u; dz < 2u; dz++) {
    let z = a.i0.z + i32(dz);
    if (!inside(z, B)) { continue; }
    for (var dy = 0u; dy < 2u; dy++) {
      let y = a.i0.y + i32(dy);
      if (!inside(y, B)) { continue; }
      for (var dx = 0u; dx < 2u; dx++) {
        let x = a.i0.x + i32(dx);
        if (!inside(x, B)) { continue; }
        let i = 3u * ((u32(z) * B + u32(y)) * B + u32(x));
        acc += cornerWeight(a, dz, dy, dx) * vec3f(offsets[i], offsets[i + 1u], offsets[i + 2u]);
      }
    }
  }
  return acc;
}

// Appearance at point q (appearance box) at strides 1, 2, 4 into feat: stride v's channels at feat[v*C4 ..].
fn appearanceAt(q: vec3f, feat: ptr<function, Features>) {
  let A = scene.A;
  let g = (q - scene.appMin) * scene.appScale - 1.0;
  for (var v = 0u; v < 3u; v++) {
    let stride = 1u << v;
    let S = (A - 1u) / stride + 1u;
    let a = axes(g, S);
    let out = v * C4;
    for (var c = 0u; c < C4; c++) { (*feat)[out + c] = vec4f(0.0); }
    for (var dz = 0u; dz < 2u; dz++) {
      let z = a.i0.z + i32(dz);
      if (!inside(z, S)) { continue; }
      for (var dy = 0u; dy < 2u; dy++) {
        let y = a.i0.y + i32(dy);
        if (!inside(y, S)) { continue; }
        for (var dx = 0u; dx < 2u; dx++) {
          let x = a.i0.x + i32(dx);
          if (!inside(x, S)) { continue; }
          let w = cornerWeight(a, dz, dy, dx);
          let cell = ((u32(z) * stride * A + u32(y) * stride) * A + u32(x) * stride) * C4;
          for (var c = 0u; c < C4; c++) { (*feat)[out + c] += w * tensors[cell + c]; }
        }
      }
    }
  }
}

// sin and cos to ~1e-7 for |x| up to ~1e4, the same on every GPU (WGSL's sin and cos
// promise only 2^-11 inside [-pi, pi]): reduction by pi/2 in two parts, Taylor
// polynomials on [-pi/4, pi/4], quadrant fix-up (as the CPU op's sincos8).
fn sinCos(x: f32) -> vec2f {
  let q = round(x * 0.636619772367581);
  let r = (x - q * 1.5707962513) - q * 7.549789948768648e-8;
  let r2 = r * r;
  let s = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
  let qi = i32(q);
  let sc = select(vec2f(s, c), vec2f(c, -s), (qi & 1) != 0);
  return select(sc, -sc, (qi & 2) != 0);
}

// acc += W[:, column at `at`] * x over H4 vec4s.
fn addColumn(at: u32, H4: u32, x: f32, acc: ptr<function, Hidden>) {
  let xv = vec4f(x);
  for (var j = 0u; j < H4; j++) { (*acc)[j] = fma(tensors[at + j], xv, (*acc)[j]); }
}

// acc += W[:, col .. col+1+2F] [x, sin x, cos x, sin 2x, cos 2x, ...] (the encoding of one
// value, model order), `at` the first of those columns. Octaves by the double-angle
// recurrence from one sin/cos, as the CPU op.
fn addEncoded(at: u32, H4: u32, x: f32, acc: ptr<function, Hidden>) {
  addColumn(at, H4, x, acc);
  var sc = sinCos(x);
  var k = at + H4;
  for (var j = 0u; j < F; j++) {
    addColumn(k, H4, sc.x, acc);
    addColumn(k + H4, H4, sc.y, acc);
    k += 2u * H4;
    sc = vec2f(2.0 * sc.x * sc.y, 1.0 - 2.0 * sc.x * sc.x);
  }
}

// acc += W[:, appearance columns] encode(feat): the first layer of a head over the 3C
// features' encodings (block: the head's transposed W0).
fn addAppearanceColumns(block: u32, H4: u32, feat: ptr<function, Features>, acc: ptr<function, Hidden>) {
  let columns = (1u + 2u * F) * H4;
  for (var v = 0u; v < 3u; v++) {
    for (var ch = 0u; ch < C; ch++) {
      let x = (*feat)[v * C4 + ch / 4u][ch % 4u];
      addEncoded(block + (v * C + ch) * columns, H4, x, acc);
    }
  }
}

// The density head's linear output at canonical point p, leaving the point's appearance
// features in feat (for the colour head).
fn sampleDensity(p: vec3f, feat: ptr<function, Features>) -> f32 {
  appearanceAt(p + offsetAt(p), feat);
  var hidden: Hidden;
  for (var j = 0u; j < Hd4; j++) { hidden[j] = frame.densB0[j]; }
  addAppearanceColumns(scene.densW0, Hd4, feat, &hidden);
  var sigma = scene.densB1;
  for (var j = 0u; j < Hd4; j++) { sigma += dot(tensors[scene.densW1 + j], max(hidden[j], vec4f(0.0))); }
  return sigma;
}
