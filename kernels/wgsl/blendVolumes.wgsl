// out[v] = mean[v] + sum_e coeff[e] * bases[e * V + v]: the frame's motion volume from
// the expression coefficients. One thread per element; the coefficients are few (E <= 64)
// and read by every thread.
struct Params {
  E: u32,
  V: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> bases: array<f32>;
@group(0) @binding(3) var<storage, read> coeff: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // 2D dispatch: more than 65535 workgroups of 64 do not fit one dimension.
  let v = id.x + id.y * groups.x * 64u;
  if (v >= params.V) {
    return;
  }
  var acc = mean[v];
  for (var e = 0u; e < params.E; e++) {
    acc = fma(coeff[e], bases[e * params.V + v], acc);
  }
  out[v] = acc;
}
