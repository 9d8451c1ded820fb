// Argument checking shared by the N-API binding files: exact TypeError/RangeError
// messages (tested in kernels/binding.test.ts) before any kernel runs.
#pragma once

#include <napi.h>

#include <cmath>
#include <sstream>
#include <string>

#include "kernels.h"

namespace vox::binding {

using Napi::CallbackInfo;
using Napi::Value;

// Largest element count we accept for any tensor (2^32 - 1: also the typed array limit).
inline constexpr double kMaxElems = 4294967295.0;

// Formats a number the way JS prints it for the values we report (NaN, Infinity, 2.5).
inline std::string num(double d) {
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

inline int check_stride(const Args& a, size_t i) {
  double s = a.number(i, "stride");
  if (s != 1 && s != 2 && s != 4) a.range_error("stride must be 1, 2 or 4, got " + num(s));
  return int(s);
}

inline vox::Act check_act(const Args& a, size_t i) {
  Value v = a.info[i];
  if (!v.IsString()) a.type_error("activation must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "none") return vox::Act::None;
  if (s == "relu") return vox::Act::Relu;
  if (s == "leakyRelu") return vox::Act::LeakyRelu;
  if (s == "sigmoid") return vox::Act::Sigmoid;
  a.range_error("activation must be one of none, relu, leakyRelu, sigmoid, got '" + s + "'");
}

inline Napi::Float32Array new_f32(Napi::Env env, size_t n) { return Napi::Float32Array::New(env, n); }

// rayOffsets must start at 0, be non-decreasing and end at S (else kernels would read
// out of bounds).
inline void check_offsets(const Args& a, const int32_t* off, size_t R, size_t S) {
  if (off[0] != 0) a.range_error("rayOffsets[0] must be 0, got " + std::to_string(off[0]));
  for (size_t r = 0; r < R; ++r)
    if (off[r + 1] < off[r]) a.range_error("rayOffsets must be non-decreasing (at index " + std::to_string(r + 1) + ")");
  if (size_t(off[R]) != S)
    a.range_error("rayOffsets[R] must equal S = " + std::to_string(S) + ", got " + std::to_string(off[R]));
}

// The ray-marching ops live in binding_render.cpp.
Napi::Value MarchRays(const Napi::CallbackInfo& info);
Napi::Value RenderRays(const Napi::CallbackInfo& info);
Napi::Value DensityAt(const Napi::CallbackInfo& info);
Napi::Value BakeMotion(const Napi::CallbackInfo& info);

}  // namespace vox::binding
