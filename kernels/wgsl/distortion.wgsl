// The distortion loss's gradient into sigma (Mip-NeRF 360; server/engine/DistortionLoss.ts,
// the CPU's version and this kernel's reference), one thread per ray, added into dSigma
// after compositeBackward wrote it. Per ray, over the samples composited before
// termination, with w_i = T_i (1 - exp(-a_i)), a_i = relu(sigma_i) delta_i, t_i the
// sample's distance along the ray in march steps and dt_i = 1:
//   g_i = 2 sum_j w_j |t_i - t_j| + 2/3 w_i,   dL/da_k = T_{k+1} g_k - sum_{i>k} w_i g_i.
// A thread keeps no per-sample arrays (rays hold up to maxSamples): three passes over the
// ray recompute w (the exps are cheap beside the heads): the sums of w and w t, then
// sum_i w_i g_i, then each sample's gradient with the tail sum as that total minus the
// prefix.
struct Params {
  rays: u32,
  samples: u32,
  // weight / R: the loss is the mean over the batch's rays.
  scale: f32,
  invStep: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sigma: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<f32>;
@group(0) @binding(4) var<storage, read> dirs: array<f32>;
@group(0) @binding(5) var<storage, read> rayOffsets: array<i32>;
@group(0) @binding(6) var<storage, read> used: array<i32>;
@group(0) @binding(7) var<storage, read_write> dSigma: array<f32>;

fn rayIndex(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * 64u;
}

fn weightFactor(i: u32) -> f32 {
  let x = max(sigma[i], 0.0) * delta[i];
  return select(exp(-x), 1.0, x == 0.0);
}

// Sample i's distance from p0 along the ray, `along` being the direction over its squared
// length and the step: samples lie on the ray, so the projection orders and spaces them.
fn alongRay(i: u32, p0: vec3f, along: vec3f) -> f32 {
  return dot(vec3f(positions[3u * i], positions[3u * i + 1u], positions[3u * i + 2u]) - p0, along);
}

@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = rayIndex(id, groups);
  if (r >= params.rays) {
    return;
  }
  // The ray's composited samples, clamped into [0, S] (resident offsets are not checked on the host).
  let s0 = u32(clamp(rayOffsets[r], 0, i32(params.samples)));
  let s1 = u32(clamp(rayOffsets[r + 1u], i32(s0), i32(params.samples)));
  let se = s0 + u32(clamp(used[r], 0, i32(s1 - s0)));
  if (se == s0) {
    return;
  }
  let v = vec3f(dirs[3u * r], dirs[3u * r + 1u], dirs[3u * r + 2u]);
  let along = v * (params.invStep / dot(v, v));
  let p0 = vec3f(positions[3u * s0], positions[3u * s0 + 1u], positions[3u * s0 + 2u]);

  var T = 1.0;
  var wAll = 0.0;
  var wtAll = 0.0;
  for (var i = s0; i < se; i++) {
    let e = weightFactor(i);
    let w = T * (1.0 - e);
    let t = alongRay(i, p0, along);
    wAll += w;
    wtAll += w * t;
    T *= e;
  }

  // g_i from the sums before and after i; round 0 totals w_i g_i, round 1 writes the gradient.
  var total = 0.0;
  for (var round = 0u; round < 2u; round++) {
    T = 1.0;
    var wBefore = 0.0;
    var wtBefore = 0.0;
    var prefix = 0.0;
    for (var i = s0; i < se; i++) {
      let e = weightFactor(i);
      let w = T * (1.0 - e);
      let t = alongRay(i, p0, along);
      let spread = t * wBefore - wtBefore + (wtAll - wtBefore - w * t) - t * (wAll - wBefore - w);
      let g = 2.0 * spread + (2.0 / 3.0) * w;
      T *= e;
      prefix += w * g;
      if (round == 1u && sigma[i] > 0.0) {
        dSigma[i] += params.scale * delta[i] * (T * g - (total - prefix));
      }
      wBefore += w;
      wtBefore += w * t;
    }
    total = prefix;
  }
}
