// N-API binding of the ray-marching ops (marchRays, renderRays): argument checking
// and output allocation only; the math lives in march.cpp and render_rays.cpp.
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

// renderRays(origins, dirs, R, occupancy, G, offsets, B, appearance, A, C, F,
//            densW0, densB0, densW1, densB1, colorW0, colorB0, colorW1, colorB1, Hd, Hc,
//            boxes, step, maxSamples, stepDensity, tEps, weightEps, background, color)
//   -> { samples, density, shaded }; color [R,3] is the caller's output buffer.
// boxes [12] = motion box min, max, appearance (= clipping) box min, max.
Value RenderRays(const CallbackInfo& info) {
  Args a{info, "renderRays"};
  a.count(29, 29);
  size_t R = a.size(2, "R", 0), G = a.size(4, "G", 1), B = a.size(6, "B", 1), A = a.size(8, "A", 1);
  size_t C = a.size(9, "C", 1), F = a.size(10, "F", 0), Hd = a.size(19, "Hd", 1), Hc = a.size(20, "Hc", 1);
  if (C > 64) a.range_error("C must be at most 64, got " + std::to_string(C));
  if (F > 16) a.range_error("F must be at most 16, got " + std::to_string(F));
  size_t maxSamples = a.size(23, "maxSamples", 0);
  if (maxSamples > 1u << 20) a.range_error("maxSamples must be at most 1048576, got " + std::to_string(maxSamples));
  const size_t per = 1 + 2 * F, encA = 3 * C * per, encV = 3 * per;
  const float* origins = a.f32(0, "origins", a.product({R, 3}), "R*3");
  const float* dirs = a.f32(1, "dirs", a.product({R, 3}), "R*3");
  const uint8_t* occ = a.u8(3, "occupancy", a.product({G, G, G}), "G^3");
  vox::RenderRaysParams p{};
  p.offsets = a.f32(5, "offsets", a.product({B, B, B, 3}), "B^3*3");
  p.appearance = a.f32(7, "appearance", a.product({A, A, A, C}), "A^3*C");
  p.densW0 = a.f32(11, "densW0", a.product({Hd, encA}), "Hd*encA");
  p.densB0 = a.f32(12, "densB0", Hd, "Hd");
  p.densW1 = a.f32(13, "densW1", Hd, "Hd");
  p.densB1 = float(a.number(14, "densB1"));
  p.colorW0 = a.f32(15, "colorW0", a.product({Hc, encA + encV}), "Hc*(encA+encV)");
  p.colorB0 = a.f32(16, "colorB0", Hc, "Hc");
  p.colorW1 = a.f32(17, "colorW1", a.product({3, Hc}), "3*Hc");
  p.colorB1 = a.f32(18, "colorB1", 3, "3");
  const float* boxes = a.f32(21, "boxes", 12, "motion min, max, appearance min, max");
  for (int b = 0; b < 2; ++b)
    for (int k = 0; k < 3; ++k)
      if (!(boxes[6 * b + 3 + k] > boxes[6 * b + k])) a.range_error("boxes: max must exceed min on every axis");
  double step = a.number(22, "step");
  if (!(step > 0)) a.range_error("step must be positive, got " + num(step));
  double stepDensity = a.number(24, "stepDensity"), tEps = a.number(25, "tEps"), weightEps = a.number(26, "weightEps");
  if (!(stepDensity >= 0)) a.range_error("stepDensity must be non-negative, got " + num(stepDensity));
  const float* bg = a.f32(27, "background", 3, "3");
  float* color = a.f32(28, "color", a.product({R, 3}), "R*3");
  for (int k = 0; k < 3; ++k) {
    p.motionMin[k] = boxes[k];
    p.motionMax[k] = boxes[3 + k];
    p.appMin[k] = p.march.boxMin[k] = boxes[6 + k];
    p.appMax[k] = p.march.boxMax[k] = boxes[9 + k];
    p.bg[k] = bg[k];
  }
  p.march.occupancy = occ;
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
  vox::RenderRaysStats st = vox::render_rays(origins, dirs, R, p, color);
  auto r = Napi::Object::New(info.Env());
  r.Set("samples", double(st.samples));
  r.Set("density", double(st.density));
  r.Set("shaded", double(st.shaded));
  return r;
}

}  // namespace vox::binding
