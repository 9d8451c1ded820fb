// N-API binding: argument checking and output allocation only; the math lives in the
// raw-pointer kernels (kernels.h). Every argument is validated before any kernel runs
// so bad input from JS raises TypeError (wrong kind of value) or RangeError (wrong
// size/value) with the exact messages tested in kernels/binding.test.ts, never a crash.
#include <napi.h>

#include <cmath>
#include <sstream>
#include <string>

#include "kernels.h"
#include "pool.h"

namespace {

using Napi::CallbackInfo;
using Napi::Value;

// Largest element count we accept for any tensor (2^32 - 1: also the typed array limit).
constexpr double kMaxElems = 4294967295.0;

// Formats a number the way JS prints it for the values we report (NaN, Infinity, 2.5).
std::string num(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  std::ostringstream s;
  s << d;
  return s.str();
}

struct Args {
  const CallbackInfo& info;
  const char* op;

  [[noreturn]] void type_error(const std::string& msg) const {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + msg);
  }
  [[noreturn]] void range_error(const std::string& msg) const {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": " + msg);
  }
  void count(size_t min, size_t max) const {
    size_t n = info.Length();
    if (n < min || n > max)
      type_error("expected " + (min == max ? std::to_string(min) : std::to_string(min) + "-" + std::to_string(max)) +
                 " arguments, got " + std::to_string(n));
  }
  template <typename T, napi_typedarray_type Kind>
  T* typed(size_t i, const char* name, const char* kind, size_t expected, const char* formula) const {
    Value v = info[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Kind)
      type_error(std::string(name) + " must be a " + kind);
    auto a = v.As<Napi::TypedArrayOf<T>>();
    if (a.ElementLength() != expected)
      range_error(std::string(name) + " has length " + std::to_string(a.ElementLength()) + ", expected " +
                  std::to_string(expected) + " (" + formula + ")");
    return a.Data();
  }
  float* f32(size_t i, const char* name, size_t expected, const char* formula) const {
    return typed<float, napi_float32_array>(i, name, "Float32Array", expected, formula);
  }
  // A Float32Array of any length (elementwise ops); returns its length via n.
  float* f32_any(size_t i, const char* name, size_t& n) const {
    Value v = info[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      type_error(std::string(name) + " must be a Float32Array");
    auto a = v.As<Napi::Float32Array>();
    n = a.ElementLength();
    return a.Data();
  }
  int32_t* i32(size_t i, const char* name, size_t expected, const char* formula) const {
    return typed<int32_t, napi_int32_array>(i, name, "Int32Array", expected, formula);
  }
  uint8_t* u8(size_t i, const char* name, size_t expected, const char* formula) const {
    return typed<uint8_t, napi_uint8_array>(i, name, "Uint8Array", expected, formula);
  }
  double number(size_t i, const char* name) const {
    Value v = info[i];
    if (!v.IsNumber()) type_error(std::string(name) + " must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) range_error(std::string(name) + " must be finite, got " + num(d));
    return d;
  }
  // Integer size >= min (0 or 1).
  size_t size(size_t i, const char* name, int min) const {
    double d = number(i, name);
    if (d != std::floor(d)) range_error(std::string(name) + " must be an integer, got " + num(d));
    if (d < min)
      range_error(std::string(name) + " must be " + (min == 0 ? "a non-negative" : "a positive") +
                  " integer, got " + num(d));
    if (d > kMaxElems) range_error(std::string(name) + " is too large, got " + num(d));
    return size_t(d);
  }
  // Product of sizes, rejecting anything beyond kMaxElems (no silent overflow).
  size_t product(std::initializer_list<size_t> dims) const {
    double p = 1.0;
    size_t q = 1;
    for (size_t d : dims) {
      p *= double(d);
      q *= d;
    }
    if (p > kMaxElems) range_error("tensor of " + num(p) + " elements is too large");
    return q;
  }
};

int check_stride(const Args& a, size_t i) {
  double s = a.number(i, "stride");
  if (s != 1 && s != 2 && s != 4) a.range_error("stride must be 1, 2 or 4, got " + num(s));
  return int(s);
}

vox::Act check_act(const Args& a, size_t i) {
  Value v = a.info[i];
  if (!v.IsString()) a.type_error("activation must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "none") return vox::Act::None;
  if (s == "relu") return vox::Act::Relu;
  if (s == "leakyRelu") return vox::Act::LeakyRelu;
  if (s == "sigmoid") return vox::Act::Sigmoid;
  a.range_error("activation must be one of none, relu, leakyRelu, sigmoid, got '" + s + "'");
}

Napi::Float32Array new_f32(Napi::Env env, size_t n) { return Napi::Float32Array::New(env, n); }

// rayOffsets must start at 0, be non-decreasing and end at S (else kernels would read
// out of bounds).
void check_offsets(const Args& a, const int32_t* off, size_t R, size_t S) {
  if (off[0] != 0) a.range_error("rayOffsets[0] must be 0, got " + std::to_string(off[0]));
  for (size_t r = 0; r < R; ++r)
    if (off[r + 1] < off[r]) a.range_error("rayOffsets must be non-decreasing (at index " + std::to_string(r + 1) + ")");
  if (size_t(off[R]) != S)
    a.range_error("rayOffsets[R] must equal S = " + std::to_string(S) + ", got " + std::to_string(off[R]));
}

// gridSample3d(grid, D, H, W, C, points, N, stride) -> { out }
Value GridSample3d(const CallbackInfo& info) {
  Args a{info, "gridSample3d"};
  a.count(8, 8);
  size_t D = a.size(1, "D", 1), H = a.size(2, "H", 1), W = a.size(3, "W", 1), C = a.size(4, "C", 1);
  size_t N = a.size(6, "N", 0);
  int s = check_stride(a, 7);
  const float* grid = a.f32(0, "grid", a.product({D, H, W, C}), "D*H*W*C");
  const float* pts = a.f32(5, "points", a.product({N, 3}), "N*3");
  auto out = new_f32(info.Env(), a.product({N, C}));
  vox::grid_sample3d(grid, int(D), int(H), int(W), int(C), pts, N, s, out.Data());
  auto r = Napi::Object::New(info.Env());
  r.Set("out", out);
  return r;
}

// gridSample3dBackward(grid, D, H, W, C, points, N, stride, dOut, dGrid?) -> { dGrid, dPoints }
// dGrid, when given, is accumulated into (several strides share one grid).
Value GridSample3dBackward(const CallbackInfo& info) {
  Args a{info, "gridSample3dBackward"};
  a.count(9, 10);
  size_t D = a.size(1, "D", 1), H = a.size(2, "H", 1), W = a.size(3, "W", 1), C = a.size(4, "C", 1);
  size_t N = a.size(6, "N", 0);
  int s = check_stride(a, 7);
  size_t G = a.product({D, H, W, C});
  const float* grid = a.f32(0, "grid", G, "D*H*W*C");
  const float* pts = a.f32(5, "points", a.product({N, 3}), "N*3");
  const float* dOut = a.f32(8, "dOut", a.product({N, C}), "N*C");
  Napi::Float32Array dGrid;
  if (info.Length() > 9 && !info[9].IsUndefined()) {
    a.f32(9, "dGrid", G, "D*H*W*C");
    dGrid = info[9].As<Napi::Float32Array>();
  } else {
    dGrid = new_f32(info.Env(), G);
  }
  auto dPoints = new_f32(info.Env(), N * 3);
  vox::grid_sample3d_backward(grid, int(D), int(H), int(W), int(C), pts, N, s, dOut, dGrid.Data(),
                              dPoints.Data());
  auto r = Napi::Object::New(info.Env());
  r.Set("dGrid", dGrid);
  r.Set("dPoints", dPoints);
  return r;
}

// dense(x, W, b, N, In, Out, activation) -> { y }
Value Dense(const CallbackInfo& info) {
  Args a{info, "dense"};
  a.count(7, 7);
  size_t N = a.size(3, "N", 0), In = a.size(4, "In", 1), Out = a.size(5, "Out", 1);
  vox::Act act = check_act(a, 6);
  const float* x = a.f32(0, "x", a.product({N, In}), "N*In");
  const float* W = a.f32(1, "W", a.product({Out, In}), "Out*In");
  const float* b = a.f32(2, "b", Out, "Out");
  auto y = new_f32(info.Env(), a.product({N, Out}));
  vox::dense(x, W, b, N, int(In), int(Out), act, y.Data());
  auto r = Napi::Object::New(info.Env());
  r.Set("y", y);
  return r;
}

// denseBackward(x, W, y, dY, N, In, Out, activation, needDX) -> { dX | null, dW, dB }
Value DenseBackward(const CallbackInfo& info) {
  Args a{info, "denseBackward"};
  a.count(9, 9);
  size_t N = a.size(4, "N", 0), In = a.size(5, "In", 1), Out = a.size(6, "Out", 1);
  vox::Act act = check_act(a, 7);
  if (!info[8].IsBoolean()) a.type_error("needDX must be a boolean");
  bool needDX = info[8].As<Napi::Boolean>().Value();
  const float* x = a.f32(0, "x", a.product({N, In}), "N*In");
  const float* W = a.f32(1, "W", a.product({Out, In}), "Out*In");
  const float* y = a.f32(2, "y", a.product({N, Out}), "N*Out");
  const float* dY = a.f32(3, "dY", N * Out, "N*Out");
  auto env = info.Env();
  auto dW = new_f32(env, Out * In), dB = new_f32(env, Out);
  Napi::Value dXv = env.Null();
  float* dX = nullptr;
  if (needDX) {
    auto t = new_f32(env, N * In);
    dX = t.Data();
    dXv = t;
  }
  vox::dense_backward(x, W, y, dY, N, int(In), int(Out), act, dX, dW.Data(), dB.Data());
  auto r = Napi::Object::New(env);
  r.Set("dX", dXv);
  r.Set("dW", dW);
  r.Set("dB", dB);
  return r;
}

// composite(sigma, rgb, delta, rayOffsets, background, R, S, tEps)
//   -> { color, transmittance, samplesUsed }
Value Composite(const CallbackInfo& info) {
  Args a{info, "composite"};
  a.count(8, 8);
  size_t R = a.size(5, "R", 0), S = a.size(6, "S", 0);
  double tEps = a.number(7, "tEps");
  if (tEps < 0 || tEps > 1) a.range_error("tEps must be in [0, 1], got " + num(tEps));
  if (S > 2147483647.0) a.range_error("S must fit in int32, got " + num(double(S)));
  const float* sigma = a.f32(0, "sigma", S, "S");
  const float* rgb = a.f32(1, "rgb", a.product({S, 3}), "S*3");
  const float* delta = a.f32(2, "delta", S, "S");
  const int32_t* off = a.i32(3, "rayOffsets", a.product({R + 1}), "R+1");
  const float* bg = a.f32(4, "background", 3, "3");
  check_offsets(a, off, R, S);
  auto env = info.Env();
  auto color = new_f32(env, R * 3), T = new_f32(env, R);
  auto used = Napi::Int32Array::New(env, R);
  vox::composite(sigma, rgb, delta, off, R, bg, float(tEps), color.Data(), T.Data(), used.Data());
  auto r = Napi::Object::New(env);
  r.Set("color", color);
  r.Set("transmittance", T);
  r.Set("samplesUsed", used);
  return r;
}

// compositeBackward(sigma, rgb, delta, rayOffsets, color, samplesUsed, dColor, R, S)
//   -> { dSigma, dRgb }
Value CompositeBackward(const CallbackInfo& info) {
  Args a{info, "compositeBackward"};
  a.count(9, 9);
  size_t R = a.size(7, "R", 0), S = a.size(8, "S", 0);
  if (S > 2147483647.0) a.range_error("S must fit in int32, got " + num(double(S)));
  const float* sigma = a.f32(0, "sigma", S, "S");
  const float* rgb = a.f32(1, "rgb", a.product({S, 3}), "S*3");
  const float* delta = a.f32(2, "delta", S, "S");
  const int32_t* off = a.i32(3, "rayOffsets", a.product({R + 1}), "R+1");
  const float* color = a.f32(4, "color", R * 3, "R*3");
  const int32_t* used = a.i32(5, "samplesUsed", R, "R");
  const float* dColor = a.f32(6, "dColor", R * 3, "R*3");
  check_offsets(a, off, R, S);
  for (size_t r = 0; r < R; ++r)
    if (used[r] < 0 || used[r] > off[r + 1] - off[r])
      a.range_error("samplesUsed[" + std::to_string(r) + "] = " + std::to_string(used[r]) +
                    " is outside [0, samples of the ray]");
  auto env = info.Env();
  auto dSigma = new_f32(env, S), dRgb = new_f32(env, S * 3);
  vox::composite_backward(sigma, rgb, delta, off, R, color, used, dColor, dSigma.Data(), dRgb.Data());
  auto r = Napi::Object::New(env);
  r.Set("dSigma", dSigma);
  r.Set("dRgb", dRgb);
  return r;
}

// blendVolumes(mean, bases, coeff, E, V) -> { out }
Value BlendVolumes(const CallbackInfo& info) {
  Args a{info, "blendVolumes"};
  a.count(5, 5);
  size_t E = a.size(3, "E", 0), V = a.size(4, "V", 0);
  const float* mean = a.f32(0, "mean", V, "V");
  const float* bases = a.f32(1, "bases", a.product({E, V}), "E*V");
  const float* coeff = a.f32(2, "coeff", E, "E");
  auto out = new_f32(info.Env(), V);
  vox::blend_volumes(mean, bases, coeff, int(E), V, out.Data());
  auto r = Napi::Object::New(info.Env());
  r.Set("out", out);
  return r;
}

// blendVolumesBackward(bases, coeff, dOut, E, V) -> { dMean, dBases, dCoeff }
Value BlendVolumesBackward(const CallbackInfo& info) {
  Args a{info, "blendVolumesBackward"};
  a.count(5, 5);
  size_t E = a.size(3, "E", 0), V = a.size(4, "V", 0);
  const float* bases = a.f32(0, "bases", a.product({E, V}), "E*V");
  const float* coeff = a.f32(1, "coeff", E, "E");
  const float* dOut = a.f32(2, "dOut", V, "V");
  auto env = info.Env();
  auto dMean = new_f32(env, V), dBases = new_f32(env, E * V), dCoeff = new_f32(env, E);
  vox::blend_volumes_backward(bases, coeff, dOut, int(E), V, dMean.Data(), dBases.Data(), dCoeff.Data());
  auto r = Napi::Object::New(env);
  r.Set("dMean", dMean);
  r.Set("dBases", dBases);
  r.Set("dCoeff", dCoeff);
  return r;
}

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

// l1Loss(a, b) -> number (mean |a-b|)
Value L1Loss(const CallbackInfo& info) {
  Args a{info, "l1Loss"};
  a.count(2, 2);
  size_t n = 0;
  const float* x = a.f32_any(0, "a", n);
  const float* y = a.f32(1, "b", n, "length of a");
  return Napi::Number::New(info.Env(), vox::l1_loss(x, y, n));
}

// l1LossBackward(a, b, dLoss) -> dA
Value L1LossBackward(const CallbackInfo& info) {
  Args a{info, "l1LossBackward"};
  a.count(3, 3);
  size_t n = 0;
  const float* x = a.f32_any(0, "a", n);
  const float* y = a.f32(1, "b", n, "length of a");
  double g = a.number(2, "dLoss");
  auto dA = new_f32(info.Env(), n);
  vox::l1_loss_backward(x, y, n, float(g), dA.Data());
  return dA;
}

// meanSquare(x) -> number (mean x^2)
Value MeanSquare(const CallbackInfo& info) {
  Args a{info, "meanSquare"};
  a.count(1, 1);
  size_t n = 0;
  const float* x = a.f32_any(0, "x", n);
  return Napi::Number::New(info.Env(), vox::mean_square(x, n));
}

// meanSquareBackward(x, dValue) -> dX
Value MeanSquareBackward(const CallbackInfo& info) {
  Args a{info, "meanSquareBackward"};
  a.count(2, 2);
  size_t n = 0;
  const float* x = a.f32_any(0, "x", n);
  double g = a.number(1, "dValue");
  auto dX = new_f32(info.Env(), n);
  vox::mean_square_backward(x, n, float(g), dX.Data());
  return dX;
}

// adamStep(param, grad, m, v, lr, beta1, beta2, eps, t, masked) -> undefined (in place)
Value AdamStep(const CallbackInfo& info) {
  Args a{info, "adamStep"};
  a.count(10, 10);
  size_t n = 0;
  float* param = a.f32_any(0, "param", n);
  const float* grad = a.f32(1, "grad", n, "length of param");
  float* m = a.f32(2, "m", n, "length of param");
  float* v = a.f32(3, "v", n, "length of param");
  double lr = a.number(4, "lr"), b1 = a.number(5, "beta1"), b2 = a.number(6, "beta2");
  double eps = a.number(7, "eps");
  double t = a.number(8, "t");
  if (!info[9].IsBoolean()) a.type_error("masked must be a boolean");
  if (!(b1 >= 0 && b1 < 1)) a.range_error("beta1 must be in [0, 1), got " + num(b1));
  if (!(b2 >= 0 && b2 < 1)) a.range_error("beta2 must be in [0, 1), got " + num(b2));
  if (!(eps > 0)) a.range_error("eps must be positive, got " + num(eps));
  if (!(t >= 1 && t == std::floor(t))) a.range_error("t must be an integer >= 1, got " + num(t));
  vox::AdamParams p{lr, b1, b2, eps, t};
  vox::adam_step(param, grad, m, v, n, p, info[9].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
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

Value NumThreads(const CallbackInfo& info) { return Napi::Number::New(info.Env(), vox::num_threads()); }

Value SimdInfo(const CallbackInfo& info) {
#if defined(__AVX2__) && defined(__FMA__)
  return Napi::String::New(info.Env(), "avx2+fma");
#else
  return Napi::String::New(info.Env(), "sse2");
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("gridSample3d", Napi::Function::New(env, GridSample3d));
  exports.Set("gridSample3dBackward", Napi::Function::New(env, GridSample3dBackward));
  exports.Set("dense", Napi::Function::New(env, Dense));
  exports.Set("denseBackward", Napi::Function::New(env, DenseBackward));
  exports.Set("composite", Napi::Function::New(env, Composite));
  exports.Set("compositeBackward", Napi::Function::New(env, CompositeBackward));
  exports.Set("blendVolumes", Napi::Function::New(env, BlendVolumes));
  exports.Set("blendVolumesBackward", Napi::Function::New(env, BlendVolumesBackward));
  exports.Set("marchRays", Napi::Function::New(env, MarchRays));
  exports.Set("l1Loss", Napi::Function::New(env, L1Loss));
  exports.Set("l1LossBackward", Napi::Function::New(env, L1LossBackward));
  exports.Set("meanSquare", Napi::Function::New(env, MeanSquare));
  exports.Set("meanSquareBackward", Napi::Function::New(env, MeanSquareBackward));
  exports.Set("adamStep", Napi::Function::New(env, AdamStep));
  exports.Set("renderRays", Napi::Function::New(env, RenderRays));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads));
  exports.Set("simd", Napi::Function::New(env, SimdInfo));
  return exports;
}

}  // namespace

NODE_API_MODULE(voxface_kernels, Init)
