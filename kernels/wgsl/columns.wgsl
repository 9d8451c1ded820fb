// Column blocks of row-major [rows, width] matrices, the glue between the trainer's ops on
// the device (server/engine/Columns.ts on the CPU): the model concatenates feature blocks
// before its dense layers and splits their input gradients afterwards.
//   copyCols:      dst[r, dstStart + k] (+)= scale * src[r, srcStart + k], one thread per element;
//   fillCols:      dst[r, dstStart + k] = src[k] (one row vector into every row);
//   broadcastRays: dst[s, dstStart + k] = src[ray(s), srcStart + k] for every sample s of
//                  each ray (rayOffsets), one thread per ray (a ray's samples are few).
struct Params {
  rows: u32,
  count: u32,
  srcWidth: u32,
  srcStart: u32,
  dstWidth: u32,
  dstStart: u32,
  accumulate: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> rayOffsets: array<i32>;

fn flatIndex(id: vec3u, groups: vec3u) -> u32 {
  // 2D dispatch: more than 65535 workgroups of 64 do not fit one dimension.
  return id.x + id.y * groups.x * 64u;
}

@compute @workgroup_size(64)
fn copyCols(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(id, groups);
  if (i >= params.rows * params.count) {
    return;
  }
  let r = i / params.count;
  let k = i % params.count;
  let v = params.scale * src[r * params.srcWidth + params.srcStart + k];
  let d = r * params.dstWidth + params.dstStart + k;
  if (params.accumulate != 0u) {
    dst[d] = dst[d] + v;
  } else {
    dst[d] = v;
  }
}

@compute @workgroup_size(64)
fn fillCols(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(id, groups);
  if (i >= params.rows * params.count) {
    return;
  }
  let r = i / params.count;
  let k = i % params.count;
  dst[r * params.dstWidth + params.dstStart + k] = src[k];
}

@compute @workgroup_size(64)
fn broadcastRays(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = flatIndex(id, groups);
  if (r >= params.rows) {
    return;
  }
  let first = u32(rayOffsets[r]);
  let end = u32(rayOffsets[r + 1u]);
  let at = r * params.srcWidth + params.srcStart;
  for (var s = first; s < end; s++) {
    let to = s * params.dstWidth + params.dstStart;
    for (var k = 0u; k < params.count; k++) {
      dst[to + k] = src[at + k];
    }
  }
}
