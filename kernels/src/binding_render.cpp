// N-API binding of the ray-marching and inference ops (marchRays, renderRays, densityAt,
// bakeMotion): argument checking and output allocation only; the math lives in
// march.cpp, render_rays.cpp and bake_motion.cpp.
#include "binding_args.h"

namespace vox::binding {

// marchRays(origins, dirs, R, boxMin, boxMax, occupancy, G, step, maxSamples)
//   -> { positions, deltas, rayOffsets }
Value MarchRays(const CallbackInfo& info) {
  Args a{info, "marchRays"};
  a.count(9, 9);
  size_t R = a.size(2, "R", 0), G = a.size(6, "G", 1);
  double step = a.number(7, "step");
  size_t maxSamples = a.size(8, "maxSamples", 0);
  if (!(step > 0)) a.range_error("step must be positive, got " + num(step));
  if (maxSamples > 65536) a.range_error("maxSamples must be at most 65536, got " + num(double(maxSamples)));
  const float* o = a.f32(0, "origins", a.product({R, 3}), "R*3");
  const float* d = a.f32(1, "dirs", a.product({R, 3}), "R*3");
  const float* bmin = a.f32(3, "boxMin", 3, "3");
  const float* bmax = a.f32(4, "boxMax", 3, "3");
  const uint8_t* occ = a.u8(5, "occupancy", a.product({G, G, G}), "G*G*G");
  double diag2 = 0;
  for (int k = 0; k < 3; ++k) {
    if (!(bmin[k] < bmax[k])) a.range_error("boxMin must be below boxMax on every axis");
    diag2 += double(bmax[k] - bmin[k]) * double(bmax[k] - bmin[k]);
  }
  // Empty cells are skipped one step at a time, so bound the steps a unit-speed ray
  // can take through the box.
  if (std::sqrt(diag2) / step > 16777216.0) a.range_error("step is too small for the box, got " + num(step));
  vox::MarchParams p{};
  for (int k = 0; k < 3; ++k) p.boxMin[k] = bmin[k], p.boxMax[k] = bmax[k];
  p.occupancy = occ;
  p.G = int(G);
  p.step = step;
  p.maxSamples = int(maxSamples);
  auto env = info.Env();
  auto offsets = Napi::Int32Array::New(env, R + 1);
  int32_t* off = offsets.Data();
  vox::march_count(o, d, R, p, off + 1);
  // Exclusive scan into offsets (count pass wrote count[r] at off[r+1]).
  off[0] = 0;
  double total = 0;
  for (size_t r = 1; r <= R; ++r) {
    total += off[r];
    if (total > 2147483647.0) a.range_error("too many samples for int32 offsets");
    off[r] = int32_t(total);
  }
  size_t S = size_t(total);
  auto pos = new_f32(env, S * 3), deltas = new_f32(env, S);
  vox::march_fill(o, d, R, p, off, pos.Data(), deltas.Data());
  auto r = Napi::Object::New(env);
  r.Set("positions", pos);
  r.Set("deltas", deltas);
  r.Set("rayOffsets", offsets);
  return r;
}

// The scene arguments shared by renderRays and densityAt, at positions i0 .. i0+24:
// occupancy, G, offsets, B, appearance, A, C, F, densW0, densB0, densW1, densB1,
// colorW0, colorB0, colorW1, colorB1, Hd, Hc, boxes, step, maxSamples, stepDensity,
// tEps, weightEps, background. boxes [12] = motion box min, max, appearance (=
// clipping) box min, max.
static vox::RenderRaysParams read_scene(Args& a, size_t i0) {
  auto at = [&](size_t k) { return i0 + k; };
  size_t G = a.size(at(1), "G", 1), B = a.size(at(3), "B", 1), A = a.size(at(5), "A", 1);
  size_t C = a.size(at(6), "C", 1), F = a.size(at(7), "F", 0), Hd = a.size(at(16), "Hd", 1), Hc = a.size(at(17), "Hc", 1);
  if (C > 64) a.range_error("C must be at most 64, got " + std::to_string(C));
  if (F > 16) a.range_error("F must be at most 16, got " + std::to_string(F));
  size_t maxSamples = a.size(at(20), "maxSamples", 0);
  if (maxSamples > 1u << 20) a.range_error("maxSamples must be at most 1048576, got " + std::to_string(maxSamples));
  const size_t per = 1 + 2 * F, encA = 3 * C * per, encV = 3 * per;
  vox::RenderRaysParams p{};
  p.march.occupancy = a.u8(at(0), "occupancy", a.product({G, G, G}), "G^3");
  p.offsets = a.f32(at(2), "offsets", a.product({B, B, B, 3}), "B^3*3");
  p.appearance = a.f32(at(4), "appearance", a.product({A, A, A, C}), "A^3*C");
  p.densW0 = a.f32(at(8), "densW0", a.product({Hd, encA}), "Hd*encA");
  p.densB0 = a.f32(at(9), "densB0", Hd, "Hd");
  p.densW1 = a.f32(at(10), "densW1", Hd, "Hd");
  p.densB1 = float(a.number(at(11), "densB1"));
  p.colorW0 = a.f32(at(12), "colorW0", a.product({Hc, encA + encV}), "Hc*(encA+encV)");
  p.colorB0 = a.f32(at(13), "colorB0", Hc, "Hc");
  p.colorW1 = a.f32(at(14), "colorW1", a.product({3, Hc}), "3*Hc");
  p.colorB1 = a.f32(at(15), "colorB1", 3, "3");
  const float* boxes = a.f32(at(18), "boxes", 12, "motion min, max, appearance min, max");
  for (int b = 0; b < 2; ++b)
    for (int k = 0; k < 3; ++k)
      if (!(boxes[6 * b + 3 + k] > boxes[6 * b + k])) a.range_error("boxes: max must exceed min on every axis");
  double step = a.number(at(19), "step");
  if (!(step > 0)) a.range_error("step must be positive, got " + num(step));
  double stepDensity = a.number(at(21), "stepDensity"), tEps = a.number(at(22), "tEps"), weightEps = a.number(at(23), "weightEps");
  if (!(stepDensity >= 0)) a.range_error("stepDensity must be non-negative, got " + num(stepDensity));
  const float* bg = a.f32(at(24), "background", 3, "3");
  for (int k = 0; k < 3; ++k) {
    p.motionMin[k] = boxes[k];
    p.motionMax[k] = boxes[3 + k];
    p.appMin[k] = p.march.boxMin[k] = boxes[6 + k];
    p.appMax[k] = p.march.boxMax[k] = boxes[9 + k];
    p.bg[k] = bg[k];
  }
  p.march.G = int(G);
  p.march.step = step;
  p.march.maxSamples = int(maxSamples);
  p.B = int(B);
  p.A = int(A);
  p.C = int(C);
  p.F = int(F);
  p.Hd = int(Hd);
  p.Hc = int(Hc);
  p.stepDensity = float(stepDensity);
  p.tEps = float(tEps);
  p.weightEps = float(weightEps);
  return p;
}

// renderRays(origins, dirs, R, <scene: 25 arguments, see read_scene>, color, transmittance?)
//   -> { samples, density, shaded }; color [R,3] and transmittance [R] (when given: what
//   each ray leaves to the background, so callers can composite onto any layer) are the
//   caller's output buffers.
Value RenderRays(const CallbackInfo& info) {
  Args a{info, "renderRays"};
  a.count(29, 30);
  size_t R = a.size(2, "R", 0);
  const float* origins = a.f32(0, "origins", a.product({R, 3}), "R*3");
  const float* dirs = a.f32(1, "dirs", a.product({R, 3}), "R*3");
  const vox::RenderRaysParams p = read_scene(a, 3);
  float* color = a.f32(28, "color", a.product({R, 3}), "R*3");
  float* transmittance = info.Length() > 29 && !info[29].IsUndefined() ? a.f32(29, "transmittance", R, "R") : nullptr;
  vox::RenderRaysStats st = vox::render_rays(origins, dirs, R, p, color, transmittance);
  auto r = Napi::Object::New(info.Env());
  r.Set("samples", double(st.samples));
  r.Set("density", double(st.density));
  r.Set("shaded", double(st.shaded));
  return r;
}

// densityAt(points, P, <scene: 25 arguments, see read_scene>, sigma); sigma [P] is the
// caller's output buffer.
Value DensityAt(const CallbackInfo& info) {
  Args a{info, "densityAt"};
  a.count(28, 28);
  size_t P = a.size(1, "P", 0);
  const float* points = a.f32(0, "points", a.product({P, 3}), "P*3");
  const vox::RenderRaysParams p = read_scene(a, 2);
  float* sigma = a.f32(27, "sigma", P, "P");
  vox::density_at(points, P, p, sigma);
  return info.Env().Undefined();
}

// bakeMotion(motion, M, C, m, F, W0, b0, W1, b1, H, offsets); offsets [m^3*3] is the
// caller's output buffer.
Value BakeMotion(const CallbackInfo& info) {
  Args a{info, "bakeMotion"};
  a.count(11, 11);
  size_t M = a.size(1, "M", 1), C = a.size(2, "C", 1), m = a.size(3, "m", 1), F = a.size(4, "F", 0), H = a.size(9, "H", 1);
  if (C > 64) a.range_error("C must be at most 64, got " + std::to_string(C));
  if (F > 16) a.range_error("F must be at most 16, got " + std::to_string(F));
  if (m > 1024) a.range_error("m must be at most 1024, got " + std::to_string(m));
  const size_t encM = 3 * C * (1 + 2 * F);
  vox::BakeMotionParams p{};
  p.motion = a.f32(0, "motion", a.product({M, M, M, C}), "M^3*C");
  p.W0 = a.f32(5, "W0", a.product({H, encM}), "H*3C(1+2F)");
  p.b0 = a.f32(6, "b0", H, "H");
  p.W1 = a.f32(7, "W1", a.product({3, H}), "3*H");
  p.b1 = a.f32(8, "b1", 3, "3");
  float* offsets = a.f32(10, "offsets", a.product({m, m, m, 3}), "m^3*3");
  p.M = int(M);
  p.C = int(C);
  p.m = int(m);
  p.F = int(F);
  p.H = int(H);
  vox::bake_motion(p, offsets);
  return info.Env().Undefined();
}

}  // namespace vox::binding
