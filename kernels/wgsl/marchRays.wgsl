// marchRays in two passes over the rays (after softDouble.wgsl): countSamples writes each
// ray's kept samples, scan.wgsl turns them into rayOffsets, fillSamples marches again and
// writes the positions from the ray's offset on. Every step is the CPU op's float64
// arithmetic in its order of operations (kernels/src/march_ray.h), done in integers
// (softDouble.wgsl), so the counts and the float32-rounded positions are the CPU's bit for
// bit, and both passes agree. Inputs and outputs are float32 bits (u32): no float unit
// (flushing subnormals, say) touches them.
struct Params {
  boxMin: vec3u,
  G: u32,
  boxMax: vec3u,
  maxSamples: u32,
  // step, a float64, in the F64 form (softDouble.ts f64Words).
  stepM: vec2u,
  stepE: i32,
  rays: u32,
  // Samples the positions buffer holds (fill); more are not written.
  capacity: u32,
  // float32(step): every sample's delta.
  deltaBits: u32,
  // A ray taking more steps sets the status flag (the CPU op would go on).
  maxSteps: u32,
}

const overStepsFlag = 1u;
const saturated = 0x80000000u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> origins: array<u32>;
@group(0) @binding(2) var<storage, read> dirs: array<u32>;
// [G,G,G] bytes, four to a word.
@group(0) @binding(3) var<storage, read> occupancy: array<u32>;
// Count pass: the status flags at word 0, the counts at words 1..R.
@group(0) @binding(4) var<storage, read_write> scratch: array<atomic<u32>>;
// Fill pass.
@group(0) @binding(5) var<storage, read> rayOffsets: array<u32>;
@group(0) @binding(6) var<storage, read_write> positions: array<u32>;
@group(0) @binding(7) var<storage, read_write> deltas: array<u32>;

struct March {
  o: array<F64, 3>,
  d: array<F64, 3>,
  boxMin: array<F64, 3>,
  // boxMax - boxMin.
  size: array<F64, 3>,
  tNear: F64,
  tFar: F64,
  k: u32,
  // The slab test passed (tNear < tFar).
  live: bool,
  // tFar is infinite (a zero or NaN direction inside the slabs): every sample is one point.
  unbounded: bool,
  // The last kept sample.
  pos: array<F64, 3>,
}

// The slab test (a ray that misses is not live: marchNext ends at once).
fn marchBegin(r: u32) -> March {
  var m: March;
  m.tNear = f64Special(kZero, 0u);
  m.tFar = f64Special(kInf, 0u);
  m.k = 0u;
  var hit = true;
  for (var a = 0u; a < 3u; a++) {
    m.o[a] = f64FromF32Bits(origins[3u * r + a]);
    m.d[a] = f64FromF32Bits(dirs[3u * r + a]);
    m.boxMin[a] = f64FromF32Bits(params.boxMin[a]);
    let mx = f64FromF32Bits(params.boxMax[a]);
    m.size[a] = f64Sub(mx, m.boxMin[a]);
    if (m.d[a].k == kZero) {
      // Parallel to the slab: inside it or a miss.
      hit = hit && !(f64Less(m.o[a], m.boxMin[a]) || f64Less(mx, m.o[a]));
      continue;
    }
    var t0 = f64Div(f64Sub(m.boxMin[a], m.o[a]), m.d[a]);
    var t1 = f64Div(f64Sub(mx, m.o[a]), m.d[a]);
    if (f64Less(t1, t0)) {
      let swap = t0;
      t0 = t1;
      t1 = swap;
    }
    if (f64Less(m.tNear, t0)) {
      m.tNear = t0;
    }
    if (f64Less(t1, m.tFar)) {
      m.tFar = t1;
    }
  }
  m.live = hit && f64Less(m.tNear, m.tFar);
  m.unbounded = m.tFar.k == kInf;
  return m;
}

const sampleKept = 0u;
const marchEnd = 1u;
const overSteps = 2u;

// Steps on to the next kept sample (its position in m.pos): samples at t = tNear + (k + 0.5)
// * step while t < tFar, kept where the occupancy cell is non-zero.
fn marchNext(m: ptr<function, March>) -> u32 {
  let G = params.G;
  let gridRes = f64FromU32(G);
  let step = F64(params.stepM, params.stepE, 0u, kFinite);
  if (!(*m).live) {
    return marchEnd;
  }
  loop {
    if ((*m).k >= params.maxSteps) {
      return overSteps;
    }
    // k + 0.5 = (2k + 1) / 2, exactly.
    var half = f64FromU32(2u * (*m).k + 1u);
    half.e -= 1;
    (*m).k += 1u;
    let t = f64Add((*m).tNear, f64Mul(half, step));
    if (!f64Less(t, (*m).tFar)) {
      return marchEnd;
    }
    var cell = vec3u(0u);
    var noCell = false;
    for (var a = 0u; a < 3u; a++) {
      let p = f64Add((*m).o[a], f64Mul(t, (*m).d[a]));
      (*m).pos[a] = p;
      let c = f64Cell(f64Mul(f64Div(f64Sub(p, (*m).boxMin[a]), (*m).size[a]), gridRes), G);
      noCell = noCell || c < 0;
      cell[a] = u32(max(c, 0));
    }
    if (!noCell) {
      let index = (cell.z * G + cell.y) * G + cell.x;
      if (((occupancy[index >> 2u] >> ((index & 3u) * 8u)) & 0xffu) != 0u) {
        return sampleKept;
      }
    }
    // An unbounded ray's samples are all this one: the CPU op would never return.
    if ((*m).unbounded) {
      return marchEnd;
    }
  }
}

fn rayIndex(id: vec3u, groups: vec3u) -> u32 {
  // 2D dispatch: more than 65535 workgroups of 64 do not fit one dimension.
  return id.x + id.y * groups.x * 64u;
}

@compute @workgroup_size(64)
fn countSamples(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = rayIndex(id, groups);
  if (r >= params.rays) {
    return;
  }
  var m = marchBegin(r);
  var count = 0u;
  while (count < params.maxSamples) {
    let status = marchNext(&m);
    if (status == overSteps) {
      atomicOr(&scratch[0], overStepsFlag);
    }
    if (status != sampleKept) {
      break;
    }
    count++;
  }
  atomicStore(&scratch[1u + r], count);
}

@compute @workgroup_size(64)
fn fillSamples(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = rayIndex(id, groups);
  if (r >= params.rays) {
    return;
  }
  let base = rayOffsets[r];
  // A saturated offset: the samples do not fit int32 offsets, and the host refuses them.
  if (rayOffsets[r + 1u] >= saturated) {
    return;
  }
  var m = marchBegin(r);
  var count = 0u;
  while (count < params.maxSamples && marchNext(&m) == sampleKept) {
    let s = base + count;
    if (s < params.capacity) {
      for (var a = 0u; a < 3u; a++) {
        positions[3u * s + a] = f64ToF32Bits(m.pos[a]);
      }
      deltas[s] = params.deltaBits;
    }
    count++;
  }
}
