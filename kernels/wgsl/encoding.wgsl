// The model's per-point glue on the device (server/engine/Encoding.ts and AvatarModel.ts
// on the CPU):
//   encode:         NeRF positional encoding, per scalar x: [x, sin x, cos x, sin 2x,
//                   cos 2x, ..., sin 2^(F-1) x, cos 2^(F-1) x], scalar-major;
//   encodeBackward: dx = dOut[x] + sum_j 2^j (dOut[sin] cos(2^j x) - dOut[cos] sin(2^j x));
//   toBox:          q = (p + alpha * raw - min) * scale - 1, points into a grid's [-1,1]^3
//                   (alpha = 0.1 moves them by the deformation MLP's output first).
// The CPU derives the octaves from one sin/cos pair by double-angle steps in float64;
// float32 steps would double their error every octave, so each octave's sin and cos are
// evaluated directly here (2^j x is exact in float32), by sinCos below.
struct EncodeParams {
  scalars: u32,
  frequencies: u32,
}

struct BoxParams {
  points: u32,
  alpha: f32,
  pad0: u32,
  pad1: u32,
  lo: vec4f,
  scale: vec4f,
}

@group(0) @binding(0) var<uniform> encodeParams: EncodeParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> boxParams: BoxParams;
@group(0) @binding(6) var<storage, read> raw: array<f32>;

fn flatIndex(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * 64u;
}

// sin and cos to about 1 ulp (Cephes' sinf/cosf: the argument reduced by pi/2 in three
// parts, odd and even polynomials on [-pi/4, pi/4]). WGSL's builtins may be as coarse as
// 2^-11 absolute, and SwiftShader's are: its cos(2x) was off by 1.9e-4 here.
const PIO2_1: f32 = 1.5703125;
const PIO2_2: f32 = 4.837512969970703125e-4;
const PIO2_3: f32 = 7.54978995489188216e-8;
fn sinCos(a: f32) -> vec2f {
  let q = round(a * 0.63661977236758134);
  let r = ((a - q * PIO2_1) - q * PIO2_2) - q * PIO2_3;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  switch (i32(q) & 3) {
    case 0: { return vec2f(s, c); }
    case 1: { return vec2f(c, -s); }
    case 2: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

@compute @workgroup_size(64)
fn encode(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(id, groups);
  if (i >= encodeParams.scalars) {
    return;
  }
  let F = encodeParams.frequencies;
  let v = x[i];
  let base = i * (1u + 2u * F);
  y[base] = v;
  var a = v;
  for (var j = 0u; j < F; j++) {
    let sc = sinCos(a);
    y[base + 1u + 2u * j] = sc.x;
    y[base + 2u + 2u * j] = sc.y;
    a = 2.0 * a;
  }
}

@compute @workgroup_size(64)
fn encodeBackward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(id, groups);
  if (i >= encodeParams.scalars) {
    return;
  }
  let F = encodeParams.frequencies;
  let base = i * (1u + 2u * F);
  var g = dOut[base];
  var a = x[i];
  var octave = 1.0;
  for (var j = 0u; j < F; j++) {
    let sc = sinCos(a);
    g += octave * (dOut[base + 1u + 2u * j] * sc.y - dOut[base + 2u + 2u * j] * sc.x);
    a = 2.0 * a;
    octave = 2.0 * octave;
  }
  dx[i] = g;
}

@compute @workgroup_size(64)
fn toBox(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(id, groups);
  if (i >= boxParams.points * 3u) {
    return;
  }
  let k = i % 3u;
  let p = x[i] + boxParams.alpha * raw[i];
  y[i] = (p - boxParams.lo[k]) * boxParams.scale[k] - 1.0;
}
