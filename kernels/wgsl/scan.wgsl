// Prefix sums of u32 counts, saturating at 2^31 (a sum that no longer fits an int32 offset
// stays 2^31, so the host sees an overflow instead of a wrapped offset). Blocks of 256 are
// scanned in workgroup memory; the blocks' totals are scanned the same way (scan.ts
// recurses) and added back. Everything lives in one `data` buffer at word offsets, and
// writeOffsets turns level 0 into the int32 offsets [n+1] (offsets[0] = 0).
struct Params {
  n: u32,
  // Word offsets in `data` of this level's values and of its blocks' totals.
  values: u32,
  sums: u32,
}

const blockSize = 256u;
const saturated = 0x80000000u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> offsets: array<u32>;

var<workgroup> block: array<u32, blockSize>;

// a + b, or 2^31 when that is 2^31 or more (a, b <= 2^31).
fn satAdd(a: u32, b: u32) -> u32 {
  return select(a + b, saturated, b >= saturated - a);
}

fn groupIndex(wg: vec3u, groups: vec3u) -> u32 {
  return wg.x + wg.y * groups.x;
}

// Inclusive scan of each block in place; the block's total to sums[block].
@compute @workgroup_size(blockSize)
fn scanBlocks(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let g = groupIndex(wg, groups);
  let i = g * blockSize + lane;
  var v = 0u;
  if (i < params.n) {
    v = min(data[params.values + i], saturated);
  }
  block[lane] = v;
  workgroupBarrier();
  for (var step = 1u; step < blockSize; step *= 2u) {
    var left = 0u;
    if (lane >= step) {
      left = block[lane - step];
    }
    workgroupBarrier();
    v = satAdd(v, left);
    block[lane] = v;
    workgroupBarrier();
  }
  if (i < params.n) {
    data[params.values + i] = v;
  }
  // grid2d may round the workgroups up: the extra ones write no total.
  if (lane == blockSize - 1u && g * blockSize < max(params.n, 1u)) {
    data[params.sums + g] = v;
  }
}

// Adds the scanned totals of the blocks before each block (an inner level, in place).
@compute @workgroup_size(blockSize)
fn addBlockSums(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let g = groupIndex(wg, groups);
  let i = g * blockSize + lane;
  if (g == 0u || i >= params.n) {
    return;
  }
  data[params.values + i] = satAdd(data[params.values + i], data[params.sums + g - 1u]);
}

// Level 0 into the offsets: offsets[0] = 0, offsets[i + 1] = the inclusive sum up to i.
@compute @workgroup_size(blockSize)
fn writeOffsets(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let g = groupIndex(wg, groups);
  let i = g * blockSize + lane;
  if (i == 0u) {
    offsets[0] = 0u;
  }
  if (i >= params.n) {
    return;
  }
  var v = data[params.values + i];
  if (g > 0u) {
    v = satAdd(v, data[params.sums + g - 1u]);
  }
  offsets[i + 1u] = v;
}
