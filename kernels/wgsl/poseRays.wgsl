// The frame's rays in the avatar's canonical space, made on the device: the camera's
// rays (uploaded once per session, the internal image's, row-major) are compacted to
// this frame's rectangle, row by row, and posed by the head: o' = R^T (o - t) / s,
// d' = R^T d. Pose.raysToCanonical on the CPU does the same in float64; here it is
// float32 (a few ulp apart). Only this 96-byte block goes up each frame, not the rays.
struct PoseParams {
  // The rows of R (row-major 3x3); w unused.
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  // xyz: the translation t; w: 1 / scale.
  t: vec4f,
  // x0, y0, rw (the rectangle's width), count (its rays).
  rect: vec4u,
  // x: the internal image's width.
  image: vec4u,
}

@group(0) @binding(0) var<uniform> params: PoseParams;
@group(0) @binding(1) var<storage, read> worldOrigins: array<f32>;
@group(0) @binding(2) var<storage, read> worldDirs: array<f32>;
@group(0) @binding(3) var<storage, read_write> origins: array<f32>;
@group(0) @binding(4) var<storage, read_write> dirs: array<f32>;

fn load3(buffer: ptr<storage, array<f32>, read>, i: u32) -> vec3f {
  return vec3f((*buffer)[3u * i], (*buffer)[3u * i + 1u], (*buffer)[3u * i + 2u]);
}

// R^T v: v.x times row 0, plus v.y times row 1, plus v.z times row 2.
fn rotateBack(v: vec3f) -> vec3f {
  return v.x * params.r0.xyz + v.y * params.r1.xyz + v.z * params.r2.xyz;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * 64u;
  if (i >= params.rect.w) {
    return;
  }
  let src = (params.rect.y + i / params.rect.z) * params.image.x + params.rect.x + i % params.rect.z;
  let o = rotateBack(load3(&worldOrigins, src) - params.t.xyz) * params.t.w;
  let d = rotateBack(load3(&worldDirs, src));
  origins[3u * i] = o.x;
  origins[3u * i + 1u] = o.y;
  origins[3u * i + 2u] = o.z;
  dirs[3u * i] = d.x;
  dirs[3u * i + 1u] = d.y;
  dirs[3u * i + 2u] = d.z;
}
