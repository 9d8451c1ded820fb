// l1Loss, meanSquare and their backward. The CPU op sums in double; WGSL has no f64, so
// the sums are compensated float32 pairs (hi, lo) whose hi + lo carries about 44 bits:
// every term is split exactly into float32 parts (TwoSum for a - b; x * x from x's top 12
// and low 12 significand bits, whose products are exact), each thread adds its terms into
// a pair, and the pairs meet in a tree (workgroup, then one workgroup over the partials).
// Measured on SwiftShader: see losses.test.ts. Only integer masks, exact products and
// TwoSum's additions: a compiler that fuses a multiply into an add still gets the same
// values (the products are exact), though one that reassociates additions would lose the
// compensation (WGSL does not allow that).
struct Params {
  n: u32,
  partials: u32,
  scale: f32,
}

const groupSize = 256u;
// Elements per workgroup in the first pass: 16 per thread.
const chunk = 4096u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> total: array<vec2f>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

var<workgroup> tree: array<vec2f, groupSize>;

// x + y = s + e exactly (Knuth's TwoSum).
fn twoSum(x: f32, y: f32) -> vec2f {
  let s = x + y;
  let yy = s - x;
  return vec2f(s, (x - (s - yy)) + (y - yy));
}

// (hi, lo) + (hi, lo), renormalised: same-sign sums (these are) keep ~2^-44 relative.
fn pairAdd(p: vec2f, q: vec2f) -> vec2f {
  let s = twoSum(p.x, q.x);
  let lo = s.y + p.y + q.y;
  let hi = s.x + lo;
  return vec2f(hi, lo - (hi - s.x));
}

fn pairAddScalar(p: vec2f, x: f32) -> vec2f {
  return pairAdd(p, vec2f(x, 0.0));
}

fn workgroupIndex(wg: vec3u, groups: vec3u) -> u32 {
  return wg.x + wg.y * groups.x;
}

// Sums tree[0..groupSize) into tree[0] (every thread calls it).
fn reduceTree(lane: u32, value: vec2f) -> vec2f {
  tree[lane] = value;
  workgroupBarrier();
  for (var stride = groupSize / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      tree[lane] = pairAdd(tree[lane], tree[lane + stride]);
    }
    workgroupBarrier();
  }
  return tree[0];
}

@compute @workgroup_size(groupSize)
fn l1Partials(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let g = workgroupIndex(wg, groups);
  var acc = vec2f(0.0);
  for (var j = 0u; j < chunk / groupSize; j++) {
    let i = g * chunk + j * groupSize + lane;
    if (i < params.n) {
      let d = twoSum(a[i], -b[i]);
      acc = pairAdd(acc, select(d, -d, d.x < 0.0));
    }
  }
  let sum = reduceTree(lane, acc);
  // grid2d may round the workgroups up: the extra ones write nothing.
  if (lane == 0u && g < params.partials) {
    partials[g] = sum;
  }
}

@compute @workgroup_size(groupSize)
fn squarePartials(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let g = workgroupIndex(wg, groups);
  var acc = vec2f(0.0);
  for (var j = 0u; j < chunk / groupSize; j++) {
    let i = g * chunk + j * groupSize + lane;
    if (i < params.n) {
      // x = hi + lo with 12 significand bits each: hi^2, 2 hi lo and lo^2 are exact.
      let x = a[i];
      let hi = bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
      let lo = x - hi;
      acc = pairAddScalar(acc, hi * hi);
      acc = pairAddScalar(acc, 2.0 * hi * lo);
      acc = pairAddScalar(acc, lo * lo);
    }
  }
  let sum = reduceTree(lane, acc);
  // grid2d may round the workgroups up: the extra ones write nothing.
  if (lane == 0u && g < params.partials) {
    partials[g] = sum;
  }
}

// One workgroup: total[0] = the sum of partials[0..params.partials).
@compute @workgroup_size(groupSize)
fn sumPartials(@builtin(local_invocation_index) lane: u32) {
  var acc = vec2f(0.0);
  for (var j = lane; j < params.partials; j += groupSize) {
    acc = pairAdd(acc, partials[j]);
  }
  let sum = reduceTree(lane, acc);
  if (lane == 0u) {
    total[0] = sum;
  }
}

// dA = scale * sign(a - b), 0 at exact ties; scale = dLoss / N rounded from double.
@compute @workgroup_size(64)
fn l1Backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * 64u;
  if (i >= params.n) {
    return;
  }
  let x = a[i];
  let y = b[i];
  grad[i] = select(select(0.0, -params.scale, x < y), params.scale, x > y);
}

// dX = scale * x; scale = 2 dValue / N rounded from double.
@compute @workgroup_size(64)
fn squareBackward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * 64u;
  if (i >= params.n) {
    return;
  }
  grad[i] = params.scale * a[i];
}
