// renderRays (follows scene.wgsl): the avatar's inference form fused per ray, one thread
// per ray. The march (slab test, samples at tNear + (k + 0.5) * step kept where the
// occupancy bit is set, at most maxSamples) runs interleaved with the heads: each kept
// sample's density, compositing with early termination, and the colour head only where
// the weight T * alpha reaches weightEps (a skipped weight goes to the next shaded
// sample, or to the background). The colour head's view-direction columns are folded
// into a per-ray bias on the ray's first shaded sample (exact; rays that shade nothing
// never pay for it).

// [G,G,G] occupancy as bits: cell i is bit i % 32 of word i / 32.
@group(0) @binding(4) var<storage, read> occupancy: array<u32>;
@group(0) @binding(5) var<storage, read> origins: array<f32>;
@group(0) @binding(6) var<storage, read> dirs: array<f32>;
// [R,3], bound at exactly R*3 floats: its length is the ray count.
@group(0) @binding(7) var<storage, read_write> color: array<f32>;
// [R] when asked for; else a one-float stand-in (ray 0 writes it, nothing reads it).
@group(0) @binding(8) var<storage, read_write> transmittance: array<f32>;
// Kept samples, density evaluations, colour evaluations, added to (the encoder clears them).
@group(0) @binding(9) var<storage, read_write> stats: array<atomic<u32>, 3>;

var<workgroup> groupStats: array<atomic<u32>, 3>;

// The march's cell test, in the reference's order of operations (float32 here, float64
// there: a sample within ~1e-6 of a cell face can land on the other side).
fn occupied(pos: vec3f) -> bool {
  let G = scene.G;
  let c = clamp(floor((pos - scene.appMin) / (scene.appMax - scene.appMin) * f32(G)), vec3f(0.0), vec3f(f32(G - 1u)));
  let i = (u32(c.z) * G + u32(c.y)) * G + u32(c.x);
  return (occupancy[i >> 5u] & (1u << (i & 31u))) != 0u;
}

// colorB0 + W[:, view columns] encode(d): the colour head's per-ray bias.
fn foldView(d: vec3f, bias: ptr<function, Hidden>) {
  for (var j = 0u; j < Hc4; j++) { (*bias)[j] = frame.colorB0[j]; }
  let columns = (1u + 2u * F) * Hc4;
  for (var a = 0u; a < 3u; a++) { addEncoded(scene.colorView + a * columns, Hc4, d[a], bias); }
}

// The colour head (relu hidden, sigmoid out) on a sample's features.
fn shade(feat: ptr<function, Features>, viewBias: ptr<function, Hidden>) -> vec3f {
  var hidden = *viewBias;
  addAppearanceColumns(scene.colorW0, Hc4, feat, &hidden);
  var o = scene.colorB1;
  let w1 = scene.colorW1;
  for (var j = 0u; j < Hc4; j++) {
    let h = max(hidden[j], vec4f(0.0));
    o += vec3f(dot(tensors[w1 + j], h), dot(tensors[w1 + Hc4 + j], h), dot(tensors[w1 + 2u * Hc4 + j], h));
  }
  // Clamped so exp stays finite (WGSL may assume no infinities); sigmoid(+-80) is 0 or 1 in float anyway.
  return 1.0 / (1.0 + exp(-clamp(o, vec3f(-80.0), vec3f(80.0))));
}

// Renders ray r into color (and transmittance); returns its samples marched (up to termination), density and colour evaluations.
fn renderRay(r: u32) -> vec3u {
  let o = vec3f(origins[3u * r], origins[3u * r + 1u], origins[3u * r + 2u]);
  let d = vec3f(dirs[3u * r], dirs[3u * r + 1u], dirs[3u * r + 2u]);
  let background = frame.background.xyz;
  // Slab test from t = 0. A zero direction would repeat one point: a miss, as in the CPU op.
  var hit = any(d != vec3f(0.0));
  var tNear = 0.0;
  var tFar = 3.0e38;
  for (var a = 0u; a < 3u; a++) {
    let mn = scene.appMin[a];
    let mx = scene.appMax[a];
    if (d[a] == 0.0) {
      hit = hit && o[a] >= mn && o[a] <= mx;
      continue;
    }
    let t0 = (mn - o[a]) / d[a];
    let t1 = (mx - o[a]) / d[a];
    tNear = max(tNear, min(t0, t1));
    tFar = min(tFar, max(t0, t1));
  }
  var T = 1.0;
  var pending = 0.0;
  var acc = vec3f(0.0);
  var counts = vec3u(0u);
  if (hit && tNear < tFar) {
    var feat: Features;
    var viewBias: Hidden;
    var folded = false;
    // The t < tFar test ends the march; this bound only guards against a runaway loop.
    let steps = u32(min(ceil((tFar - tNear) / scene.step) + 2.0, 16777216.0));
    for (var k = 0u; k < steps && counts.x < scene.maxSamples; k++) {
      let t = tNear + (f32(k) + 0.5) * scene.step;
      if (!(t < tFar)) { break; }
      let pos = o + t * d;
      if (!occupied(pos)) { continue; }
      // Terminated: the march stops with the shading (the op's `samples` are its density evaluations; the CPU's
      // are too, rounded up to its chunks of 4).
      if (T < scene.tEps) { break; }
      counts.x++;
      let sigma = sampleDensity(pos, &feat);
      counts.y++;
      // exp(-0) exactly 1 whatever the exp's accuracy: an empty sample leaves T and the background exact.
      let x = max(sigma, 0.0) * scene.stepDensity;
      let trans = select(exp(-x), 1.0, x == 0.0);
      let w = T * (1.0 - trans);
      T *= trans;
      if (w < scene.weightEps) {
        pending += w;
        continue;
      }
      if (!folded) {
        foldView(d, &viewBias);
        folded = true;
      }
      acc += (w + pending) * shade(&feat, &viewBias);
      pending = 0.0;
      counts.z++;
    }
  }
  let out = acc + (T + pending) * background;
  color[3u * r] = out.x;
  color[3u * r + 1u] = out.y;
  color[3u * r + 2u] = out.z;
  if (r < arrayLength(&transmittance)) { transmittance[r] = T + pending; }
  return counts;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  // 2D dispatch: more than 65535 workgroups of 64 do not fit one dimension.
  let r = id.x + id.y * groups.x * 64u;
  if (r < arrayLength(&color) / 3u) {
    let n = renderRay(r);
    // Counted per workgroup first: one global atomic per workgroup, not per ray.
    for (var i = 0u; i < 3u; i++) {
      if (n[i] != 0u) { atomicAdd(&groupStats[i], n[i]); }
    }
  }
  workgroupBarrier();
  if (lane < 3u) {
    let n = atomicLoad(&groupStats[lane]);
    if (n != 0u) { atomicAdd(&stats[lane], n); }
  }
}
