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

// A box {min, max} (Float32Array(3) each) with max > min on every axis.
static void read_box(const Fields& scene, const char* field, float* min, float* max) {
  Fields box = scene.object(field);
  const float* lo = box.f32("min", 3, "3");
  const float* hi = box.f32("max", 3, "3");
  for (int k = 0; k < 3; ++k) {
    if (!(hi[k] > lo[k])) scene.a.range_error(box.path + ": max must exceed min on every axis");
    min[k] = lo[k];
    max[k] = hi[k];
  }
}

// The scene renderRays and densityAt share: one object, a RenderRaysScene
// (kernels/KernelsTypes.ts), its fields read by name. A new field is one line here and
// one in vox::RenderRaysParams. The appearance box is also the clipping (march) box.
static vox::RenderRaysParams read_scene(const Args& a, size_t i) {
  const Fields s = Fields::of(a, a.info[i], "scene");
  size_t G = s.size("gridRes", 1), B = s.size("offsetRes", 1), A = s.size("appearanceRes", 1);
  size_t C = s.size("channels", 1), F = s.size("frequencies", 0);
  size_t Hd = s.size("densityHidden", 1), Hc = s.size("colorHidden", 1);
  if (C > 64) a.range_error("scene.channels must be at most 64, got " + std::to_string(C));
  if (F > 16) a.range_error("scene.frequencies must be at most 16, got " + std::to_string(F));
  size_t maxSamples = s.size("maxSamples", 0);
  if (maxSamples > 1u << 20) a.range_error("scene.maxSamples must be at most 1048576, got " + std::to_string(maxSamples));
  const size_t per = 1 + 2 * F, encA = 3 * C * per, encV = 3 * per;
  vox::RenderRaysParams p{};
  p.march.occupancy = s.u8("occupancy", a.product({G, G, G}), "gridRes^3");
  p.offsets = s.f32("offsets", a.product({B, B, B, 3}), "offsetRes^3*3");
  p.appearance = s.f32("appearance", a.product({A, A, A, C}), "appearanceRes^3*channels");
  p.densW0 = s.f32("densW0", a.product({Hd, encA}), "densityHidden*encA");
  p.densB0 = s.f32("densB0", Hd, "densityHidden");
  p.densW1 = s.f32("densW1", Hd, "densityHidden");
  p.densB1 = float(s.number("densB1"));
  p.colorW0 = s.f32("colorW0", a.product({Hc, encA + encV}), "colorHidden*(encA+encV)");
  p.colorB0 = s.f32("colorB0", Hc, "colorHidden");
  p.colorW1 = s.f32("colorW1", a.product({3, Hc}), "3*colorHidden");
  p.colorB1 = s.f32("colorB1", 3, "3");
  read_box(s, "motionBox", p.motionMin, p.motionMax);
  read_box(s, "appearanceBox", p.appMin, p.appMax);
  double step = s.number("step");
  if (!(step > 0)) a.range_error("scene.step must be positive, got " + num(step));
  double stepDensity = s.number("stepDensity"), tEps = s.number("tEps"), weightEps = s.number("weightEps");
  if (!(stepDensity >= 0)) a.range_error("scene.stepDensity must be non-negative, got " + num(stepDensity));
  const float* bg = s.f32("background", 3, "3");
  for (int k = 0; k < 3; ++k) {
    p.march.boxMin[k] = p.appMin[k];
    p.march.boxMax[k] = p.appMax[k];
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

// renderRays(origins, dirs, R, scene, color, transmittance?) -> { samples, density, shaded };
//   scene is a RenderRaysScene (read_scene); color [R,3] and transmittance [R] (when
//   given: what each ray leaves to the background, so callers can composite onto any
//   layer) are the caller's output buffers.
Value RenderRays(const CallbackInfo& info) {
  Args a{info, "renderRays"};
  a.count(5, 6);
  size_t R = a.size(2, "R", 0);
  const float* origins = a.f32(0, "origins", a.product({R, 3}), "R*3");
  const float* dirs = a.f32(1, "dirs", a.product({R, 3}), "R*3");
  const vox::RenderRaysParams p = read_scene(a, 3);
  float* color = a.f32(4, "color", a.product({R, 3}), "R*3");
  float* transmittance = info.Length() > 5 && !info[5].IsUndefined() ? a.f32(5, "transmittance", R, "R") : nullptr;
  vox::RenderRaysStats st = vox::render_rays(origins, dirs, R, p, color, transmittance);
  auto r = Napi::Object::New(info.Env());
  r.Set("samples", double(st.samples));
  r.Set("density", double(st.density));
  r.Set("shaded", double(st.shaded));
  return r;
}

// densityAt(points, P, scene, sigma); scene as renderRays'; sigma [P] is the caller's
// output buffer.
Value DensityAt(const CallbackInfo& info) {
  Args a{info, "densityAt"};
  a.count(4, 4);
  size_t P = a.size(1, "P", 0);
  const float* points = a.f32(0, "points", a.product({P, 3}), "P*3");
  const vox::RenderRaysParams p = read_scene(a, 2);
  float* sigma = a.f32(3, "sigma", P, "P");
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
