// N-API binding: argument checking and output allocation only; the math lives in the
// raw-pointer kernels (kernels.h). Every argument is validated before any kernel runs
// so bad input from JS raises TypeError (wrong kind of value) or RangeError (wrong
// size/value) with the exact messages tested in kernels/binding.test.ts, never a crash.
#include "binding_args.h"
#include "pool.h"

namespace vox::binding {

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
  // The kernel reads and writes them through restrict pointers (kernels/src/optim.cpp).
  const float* const arrays[4] = {param, grad, m, v};
  const char* const names[4] = {"param", "grad", "m", "v"};
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      if (n > 0 && arrays[i] < arrays[j] + n && arrays[j] < arrays[i] + n)
        a.range_error(std::string(names[i]) + " and " + names[j] + " must not overlap");
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

Value NumThreads(const CallbackInfo& info) { return Napi::Number::New(info.Env(), vox::num_threads()); }

Value SimdInfo(const CallbackInfo& info) {
#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
  return Napi::String::New(info.Env(), "avx512f+avx2+fma");
#elif defined(__AVX2__) && defined(__FMA__)
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
  exports.Set("densityAt", Napi::Function::New(env, DensityAt));
  exports.Set("bakeMotion", Napi::Function::New(env, BakeMotion));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads));
  exports.Set("simd", Napi::Function::New(env, SimdInfo));
  return exports;
}

}  // namespace vox::binding

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vox::binding::Init(env, exports); }

NODE_API_MODULE(voxface_kernels, InitModule)
