// The dense layer y = act(x W^T + b) and its backward (dense.cpp on the GPU), with
// dz = dY * act'(y) computed where it is read (no [N,Out] scratch buffer):
// - forward:   y[N,Out]  = act(x[N,In] W^T + b)
// - inputGrad: dX[N,In]  = dz[N,Out] W[Out,In]
// - weightGrad dW[Out,In] = dz^T[Out,N] x[N,In]
// - biasGrad:  dB[Out]   = column sums of dz
// The three products are 16x16 output tiles per workgroup of 16x16 threads, one output
// per thread, with 16-deep slices of both operands staged in workgroup memory; each
// output is summed in k order (fma), as the CPU's GEMM does. The bias sums are one
// workgroup per column, a fixed tree: every result is the same from run to run.

struct Params {
  N: u32,
  inF: u32,
  outF: u32,
  // 0 none, 1 relu, 2 leakyRelu, 3 sigmoid.
  act: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> y: array<f32>;
@group(0) @binding(5) var<storage, read> dY: array<f32>;
// y (forward), dX, dW or dB.
@group(0) @binding(6) var<storage, read_write> result: array<f32>;

const TILE: u32 = 16u;
// tileA[i][k]: rows of the left operand; tileB[k][j]: columns of the right one.
var<workgroup> tileA: array<array<f32, TILE>, TILE>;
var<workgroup> tileB: array<array<f32, TILE>, TILE>;

fn activate(z: f32) -> f32 {
  switch params.act {
    case 1u: {
      return select(0.0, z, z > 0.0);
    }
    case 2u: {
      return select(0.01 * z, z, z > 0.0);
    }
    case 3u: {
      return 1.0 / (1.0 + exp(-z));
    }
    default: {
      return z;
    }
  }
}

// d act / d z from the forward output y (what backward receives).
fn activateGrad(v: f32) -> f32 {
  switch params.act {
    case 1u: {
      return select(0.0, 1.0, v > 0.0);
    }
    case 2u: {
      return select(0.01, 1.0, v > 0.0);
    }
    case 3u: {
      return v * (1.0 - v);
    }
    default: {
      return 1.0;
    }
  }
}

fn dz(row: u32, o: u32) -> f32 {
  let i = row * params.outF + o;
  return dY[i] * activateGrad(y[i]);
}

// The output tile's first row: more than 65535 row tiles go on as z (up to 65535 per y).
fn rowBase(group: vec3u, groups: vec3u) -> u32 {
  return (group.y + group.z * groups.y) * TILE;
}

// One 16-deep step of a thread's dot product over the staged tiles.
fn tileDot(l: vec3u, acc: f32) -> f32 {
  var a = acc;
  for (var kk = 0u; kk < TILE; kk++) {
    a = fma(tileA[l.y][kk], tileB[kk][l.x], a);
  }
  return a;
}

@compute @workgroup_size(16, 16)
fn forward(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r0 = rowBase(group, groups);
  let c0 = group.x * TILE;
  let N = params.N;
  let I = params.inF;
  let O = params.outF;
  var acc = 0.0;
  for (var k0 = 0u; k0 < I; k0 += TILE) {
    // x[r][k] along l.x; W[o][k] along l.x too (transposed into tileB[k][o]): both read rows.
    var a = 0.0;
    if (r0 + l.y < N && k0 + l.x < I) {
      a = x[(r0 + l.y) * I + k0 + l.x];
    }
    tileA[l.y][l.x] = a;
    var bw = 0.0;
    if (c0 + l.y < O && k0 + l.x < I) {
      bw = w[(c0 + l.y) * I + k0 + l.x];
    }
    tileB[l.x][l.y] = bw;
    workgroupBarrier();
    acc = tileDot(l, acc);
    workgroupBarrier();
  }
  let r = r0 + l.y;
  let o = c0 + l.x;
  if (r < N && o < O) {
    result[r * O + o] = activate(acc + b[o]);
  }
}

@compute @workgroup_size(16, 16)
fn inputGrad(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r0 = rowBase(group, groups);
  let c0 = group.x * TILE;
  let N = params.N;
  let I = params.inF;
  let O = params.outF;
  var acc = 0.0;
  for (var k0 = 0u; k0 < O; k0 += TILE) {
    var a = 0.0;
    if (r0 + l.y < N && k0 + l.x < O) {
      a = dz(r0 + l.y, k0 + l.x);
    }
    tileA[l.y][l.x] = a;
    var bw = 0.0;
    if (k0 + l.y < O && c0 + l.x < I) {
      bw = w[(k0 + l.y) * I + c0 + l.x];
    }
    tileB[l.y][l.x] = bw;
    workgroupBarrier();
    acc = tileDot(l, acc);
    workgroupBarrier();
  }
  let r = r0 + l.y;
  let i = c0 + l.x;
  if (r < N && i < I) {
    result[r * I + i] = acc;
  }
}

@compute @workgroup_size(16, 16)
fn weightGrad(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o0 = rowBase(group, groups);
  let c0 = group.x * TILE;
  let N = params.N;
  let I = params.inF;
  let O = params.outF;
  var acc = 0.0;
  for (var k0 = 0u; k0 < N; k0 += TILE) {
    // dz[n][o] along l.x is a row of dz (transposed into tileA[o][n]).
    var a = 0.0;
    if (k0 + l.y < N && o0 + l.x < O) {
      a = dz(k0 + l.y, o0 + l.x);
    }
    tileA[l.x][l.y] = a;
    var bx = 0.0;
    if (k0 + l.y < N && c0 + l.x < I) {
      bx = x[(k0 + l.y) * I + c0 + l.x];
    }
    tileB[l.y][l.x] = bx;
    workgroupBarrier();
    acc = tileDot(l, acc);
    workgroupBarrier();
  }
  let o = o0 + l.y;
  let i = c0 + l.x;
  if (o < O && i < I) {
    result[o * I + i] = acc;
  }
}

const REDUCE: u32 = 256u;
var<workgroup> partial: array<f32, REDUCE>;

@compute @workgroup_size(256)
fn biasGrad(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // 2D dispatch: one workgroup per output column.
  let o = group.x + group.y * groups.x;
  let inRange = o < params.outF;
  var s = 0.0;
  if (inRange) {
    for (var r = t; r < params.N; r += REDUCE) {
      s += dz(r, o);
    }
  }
  partial[t] = s;
  for (var half = REDUCE / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (t < half) {
      partial[t] += partial[t + half];
    }
  }
  if (t == 0u && inRange) {
    result[o] = partial[0];
  }
}
