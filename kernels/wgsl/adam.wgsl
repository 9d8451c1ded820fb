// In-place Adam with bias correction, one thread per element, in the CPU op's order of
// operations (kernels/src/optim.cpp) with its float32 constants (the host rounds 1 - beta
// and the bias corrections from double, as the CPU op does):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr (m / bc1) / (sqrt(v / bc2) + eps)
// masked: an element whose grad is exactly 0 is left alone (param, m and v).
struct Params {
  n: u32,
  masked: u32,
  b1: f32,
  b2: f32,
  c1: f32,
  c2: f32,
  lr: f32,
  eps: f32,
  bc1: f32,
  bc2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // 2D dispatch: more than 65535 workgroups of 64 do not fit one dimension.
  let i = id.x + id.y * groups.x * 64u;
  if (i >= params.n) {
    return;
  }
  let g = grad[i];
  if (params.masked != 0u && g == 0.0) {
    return;
  }
  let mi = params.b1 * m[i] + params.c1 * g;
  let vi = params.b2 * v[i] + params.c2 * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] -= params.lr * (mi / params.bc1) / (sqrt(vi / params.bc2) + params.eps);
}
