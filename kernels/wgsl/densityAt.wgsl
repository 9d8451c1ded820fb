// densityAt (follows scene.wgsl): the density head's linear output at canonical points
// through the same offset, appearance and encoding steps as renderRays' samples (the
// renderer's occupancy probes). One thread per point.

// [P,3].
@group(0) @binding(4) var<storage, read> points: array<f32>;
// [P], bound at exactly P floats: its length is the point count.
@group(0) @binding(5) var<storage, read_write> sigma: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * 64u;
  if (i >= arrayLength(&sigma)) {
    return;
  }
  var feat: Features;
  sigma[i] = sampleDensity(vec3f(points[3u * i], points[3u * i + 1u], points[3u * i + 2u]), &feat);
}
