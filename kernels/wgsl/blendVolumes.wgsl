// out[v] = mean[v] + sum_e coeff[e] * bases[e * V + v]: the frame's motion volume from
// the expression coefficients. One thread per element; the coefficients are few (E <= 64)
// and read by every thread. The backward (the trainer's) is two more entry points on
// bindings of their own: basesGrad (dMean = dOut, dBases[e] = coeff[e] * dOut, one thread
// per element) and coeffGrad (dCoeff[e] = dot(bases[e], dOut), one workgroup per e).
struct Params {
  E: u32,
  V: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> bases: array<f32>;
@group(0) @binding(3) var<storage, read> coeff: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> dOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> dMean: array<f32>;
@group(0) @binding(7) var<storage, read_write> dBases: array<f32>;
@group(0) @binding(8) var<storage, read_write> dCoeff: array<f32>;

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

@compute @workgroup_size(64)
fn basesGrad(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let v = id.x + id.y * groups.x * 64u;
  if (v >= params.V) {
    return;
  }
  let d = dOut[v];
  dMean[v] = d;
  for (var e = 0u; e < params.E; e++) {
    dBases[e * params.V + v] = coeff[e] * d;
  }
}

const REDUCE: u32 = 256u;
var<workgroup> partial: array<f32, REDUCE>;

// A fixed order (each thread's strided sum, then a tree), so dCoeff is the same from run
// to run.
@compute @workgroup_size(256)
fn coeffGrad(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) group: vec3u) {
  let e = group.x;
  let V = params.V;
  var s = 0.0;
  for (var v = t; v < V; v += REDUCE) {
    s = fma(bases[e * V + v], dOut[v], s);
  }
  partial[t] = s;
  for (var half = REDUCE / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (t < half) {
      partial[t] += partial[t + half];
    }
  }
  if (t == 0u) {
    dCoeff[e] = partial[0];
  }
}
