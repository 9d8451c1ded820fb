// Trilinear sampling of a channel-last grid [D][H][W][C] on its strided sub-grid
// grid[::s, ::s, ::s], PyTorch grid_sample 3D semantics (align_corners=false, zero
// padding), and its backward (grid_sample.cpp on the GPU). One thread per point in each
// entry point:
// - sample:      out[n, c] = sum over the in-range corners of w * grid[corner, c];
// - scatterGrid: dGrid[corner, c] += w * dOut[n, c], by a compare-exchange loop on the
//                float's bits (WGSL has integer atomics only; see atomicAddF32);
// - pointGrad:   dPoints[n] = (d out / d u) . dOut per axis, times du/dg = size / 2.

struct Params {
  N: u32,
  C: u32,
  // The strided view's size per axis.
  Ws: u32,
  Hs: u32,
  Ds: u32,
  // Element offsets of one strided step along x, y, z in the full grid.
  sx: u32,
  sy: u32,
  sz: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grid: array<f32>;
@group(0) @binding(2) var<storage, read> points: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> dOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> dGrid: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> dPoints: array<f32>;

struct Axis {
  i0: i32,
  // Weight of corner i0 + 1.
  f: f32,
  in0: bool,
  in1: bool,
}

// One axis: unnormalise (align_corners=false), clamp to [-2, size + 1] (a far point, or
// NaN, then reads only zero padding and floor stays in i32 range), split.
fn axis(g: f32, size: u32) -> Axis {
  var u = ((g + 1.0) * f32(size) - 1.0) * 0.5;
  u = select(-2.0, u, u > -2.0);
  u = min(u, f32(size) + 1.0);
  let fl = floor(u);
  var a: Axis;
  a.i0 = i32(fl);
  a.f = u - fl;
  a.in0 = a.i0 >= 0 && a.i0 < i32(size);
  a.in1 = a.i0 + 1 >= 0 && a.i0 + 1 < i32(size);
  return a;
}

// The in-range corners of a point, in the CPU op's order (z, then y, then x).
struct Corners {
  count: u32,
  // Element offset of channel 0 in the full grid.
  off: array<u32, 8>,
  w: array<f32, 8>,
  // d w / d u along x, y, z.
  dw: array<vec3f, 8>,
}

fn corners(n: u32) -> Corners {
  let ax = axis(points[3u * n], params.Ws);
  let ay = axis(points[3u * n + 1u], params.Hs);
  let az = axis(points[3u * n + 2u], params.Ds);
  var c: Corners;
  c.count = 0u;
  for (var dz = 0u; dz < 2u; dz++) {
    if (!select(az.in0, az.in1, dz == 1u)) {
      continue;
    }
    let wz = select(1.0 - az.f, az.f, dz == 1u);
    let sz = select(-1.0, 1.0, dz == 1u);
    for (var dy = 0u; dy < 2u; dy++) {
      if (!select(ay.in0, ay.in1, dy == 1u)) {
        continue;
      }
      let wy = select(1.0 - ay.f, ay.f, dy == 1u);
      let sy = select(-1.0, 1.0, dy == 1u);
      let wzy = wz * wy;
      for (var dx = 0u; dx < 2u; dx++) {
        if (!select(ax.in0, ax.in1, dx == 1u)) {
          continue;
        }
        let wx = select(1.0 - ax.f, ax.f, dx == 1u);
        let sx = select(-1.0, 1.0, dx == 1u);
        c.off[c.count] = u32(az.i0 + i32(dz)) * params.sz + u32(ay.i0 + i32(dy)) * params.sy + u32(ax.i0 + i32(dx)) * params.sx;
        c.w[c.count] = wzy * wx;
        c.dw[c.count] = vec3f(sx * wy * wz, sy * wx * wz, sz * wx * wy);
        c.count++;
      }
    }
  }
  return c;
}

// 2D dispatch of workgroups of 64: more than 65535 * 64 points do not fit one dimension.
fn pointIndex(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * 64u;
}

@compute @workgroup_size(64)
fn sample(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = pointIndex(id, groups);
  if (n >= params.N) {
    return;
  }
  let c = corners(n);
  let C = params.C;
  for (var ch = 0u; ch < C; ch++) {
    var acc = 0.0;
    for (var k = 0u; k < c.count; k++) {
      acc += c.w[k] * grid[c.off[k] + ch];
    }
    out[n * C + ch] = acc;
  }
}

// dGrid[i] += v as one float32 add that no other thread's add can interleave with: read
// the bits, add in float, and store only if the word still holds what was read (else
// retry with the value found). Every add lands exactly once, rounded as the CPU's; what
// varies between runs is the order of a cell's adds, so its last bits (a 33^3 x 2 grid,
// 20000 points: 11357 of 71874 values differ between two runs, by at most 2.4e-7; the
// CPU op is bit-identical, PyTorch's CUDA grid_sample backward is not either). Why not
// the alternatives: integer atomics on fixed point need a scale fixed in advance (range
// against precision, for gradients of any size); gathering per cell from points sorted
// by cell needs count, scan and fill passes and scratch buffers, and an order within a
// cell still to be fixed for determinism.
fn atomicAddF32(i: u32, v: f32) {
  var old = atomicLoad(&dGrid[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dGrid[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) {
      break;
    }
    old = r.old_value;
  }
}

@compute @workgroup_size(64)
fn scatterGrid(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = pointIndex(id, groups);
  if (n >= params.N) {
    return;
  }
  let c = corners(n);
  let C = params.C;
  for (var k = 0u; k < c.count; k++) {
    for (var ch = 0u; ch < C; ch++) {
      atomicAddF32(c.off[k] + ch, c.w[k] * dOut[n * C + ch]);
    }
  }
}

@compute @workgroup_size(64)
fn pointGrad(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = pointIndex(id, groups);
  if (n >= params.N) {
    return;
  }
  let c = corners(n);
  let C = params.C;
  var g = vec3f(0.0);
  for (var k = 0u; k < c.count; k++) {
    var dot = 0.0;
    for (var ch = 0u; ch < C; ch++) {
      dot += grid[c.off[k] + ch] * dOut[n * C + ch];
    }
    g += c.dw[k] * dot;
  }
  let half = 0.5 * vec3f(f32(params.Ws), f32(params.Hs), f32(params.Ds));
  dPoints[3u * n] = g.x * half.x;
  dPoints[3u * n + 1u] = g.y * half.y;
  dPoints[3u * n + 2u] = g.z * half.z;
}
