// Alpha compositing per ray (NeRF quadrature) with early termination, and its backward,
// one thread per ray, in the CPU op's order of operations (kernels/src/composite.cpp):
// float32 throughout, a ray stops before a sample when T < tEps.
struct Params {
  rays: u32,
  samples: u32,
  tEps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sigma: array<f32>;
@group(0) @binding(2) var<storage, read> rgb: array<f32>;
@group(0) @binding(3) var<storage, read> delta: array<f32>;
@group(0) @binding(4) var<storage, read> rayOffsets: array<i32>;
// Forward: the background [3]. Backward: dColor [R,3].
@group(0) @binding(5) var<storage, read> perRay: array<f32>;
// Forward: color [R,3] written. Backward: the forward's color [R,3], read.
@group(0) @binding(6) var<storage, read_write> color: array<f32>;
// Forward: transmittance [R]; backward: dSigma [S].
@group(0) @binding(7) var<storage, read_write> outA: array<f32>;
// Forward: samplesUsed [R] written; backward: read.
@group(0) @binding(8) var<storage, read_write> used: array<i32>;
// Backward: dRgb [S,3].
@group(0) @binding(9) var<storage, read_write> dRgb: array<f32>;

// The ray's samples [s0, s1), clamped into [0, S] so that offsets the host did not check
// (resident buffers) cannot run a thread away.
fn raySpan(r: u32) -> vec2u {
  let s0 = u32(clamp(rayOffsets[r], 0, i32(params.samples)));
  let s1 = u32(clamp(rayOffsets[r + 1u], i32(s0), i32(params.samples)));
  return vec2u(s0, s1);
}

fn rayIndex(id: vec3u, groups: vec3u) -> u32 {
  // 2D dispatch: more than 65535 workgroups of 64 do not fit one dimension.
  return id.x + id.y * groups.x * 64u;
}

// exp(-relu(sigma) * delta), exactly 1 for an empty sample whatever the exp's accuracy.
fn transmission(i: u32) -> f32 {
  let x = max(sigma[i], 0.0) * delta[i];
  return select(exp(-x), 1.0, x == 0.0);
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = rayIndex(id, groups);
  if (r >= params.rays) {
    return;
  }
  let span = raySpan(r);
  var T = 1.0;
  var c = vec3f(0.0);
  var i = span.x;
  for (; i < span.y; i++) {
    if (T < params.tEps) {
      break;
    }
    let trans = transmission(i);
    let w = T * (1.0 - trans);
    c += w * vec3f(rgb[3u * i], rgb[3u * i + 1u], rgb[3u * i + 2u]);
    T *= trans;
  }
  let bg = vec3f(perRay[0], perRay[1], perRay[2]);
  let out = c + T * bg;
  color[3u * r] = out.x;
  color[3u * r + 1u] = out.y;
  color[3u * r + 2u] = out.z;
  outA[r] = T;
  used[r] = i32(i - span.x);
}

// With s_k = relu(sigma_k): dC/ds_k = delta_k (T_{k+1} c_k - (C - prefix_k)), prefix_k =
// sum_{i<=k} w_i c_i, dC/dc_k = w_k: the light behind a sample from the forward's colour,
// so one pass front to back. Unused samples get zero gradients.
@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = rayIndex(id, groups);
  if (r >= params.rays) {
    return;
  }
  let span = raySpan(r);
  let se = span.x + u32(clamp(used[r], 0, i32(span.y - span.x)));
  let g = vec3f(perRay[3u * r], perRay[3u * r + 1u], perRay[3u * r + 2u]);
  let gC = g.x * color[3u * r] + g.y * color[3u * r + 1u] + g.z * color[3u * r + 2u];
  var T = 1.0;
  var prefix = 0.0;
  for (var i = span.x; i < se; i++) {
    let trans = transmission(i);
    let w = T * (1.0 - trans);
    let gc = g.x * rgb[3u * i] + g.y * rgb[3u * i + 1u] + g.z * rgb[3u * i + 2u];
    prefix += w * gc;
    T *= trans;
    outA[i] = select(0.0, delta[i] * (T * gc - (gC - prefix)), sigma[i] > 0.0);
    dRgb[3u * i] = w * g.x;
    dRgb[3u * i + 1u] = w * g.y;
    dRgb[3u * i + 2u] = w * g.z;
  }
  for (var i = se; i < span.y; i++) {
    outA[i] = 0.0;
    dRgb[3u * i] = 0.0;
    dRgb[3u * i + 1u] = 0.0;
    dRgb[3u * i + 2u] = 0.0;
  }
}
