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

// A checked value's name in messages: an argument's ("origins") or an object field's
// path ("scene.motionBox.min"). Built into a string only when a message needs it: the
// scene ops read ~30 fields a call, most of whose paths are too long for std::string's
// small buffer (a heap string each). With this and 2 N-API calls a typed array, reading
// the scene by name costs ~1 µs a call more than the old 25 positional arguments; with
// eager names and 4 calls it cost ~3.3 µs more (kernels/bench/sceneCall.bench.ts).
struct Name {
  const char* object;  // the field's object path ("scene", "scene.motionBox"); null for an argument
  const char* field;
  Name(const char* argument) : object(nullptr), field(argument) {}
  Name(const char* object, const char* field) : object(object), field(field) {}
  std::string str() const { return object ? std::string(object) + "." + field : std::string(field); }
};

struct Args {
  const CallbackInfo& info;
  const char* op;

  [[noreturn]] void type_error(const std::string& msg) const {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + msg);
  }
  [[noreturn]] void range_error(const std::string& msg) const {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": " + msg);
  }
  // `<name> must be <what>`, or `<name> is missing` for an absent (undefined) field.
  [[noreturn]] void wrong_type(Value v, const Name& name, const std::string& what) const {
    if (name.object && v.IsUndefined()) type_error(name.str() + " is missing");
    type_error(name.str() + " must be " + what);
  }
  void count(size_t min, size_t max) const {
    size_t n = info.Length();
    if (n < min || n > max)
      type_error("expected " + (min == max ? std::to_string(min) : std::to_string(min) + "-" + std::to_string(max)) +
                 " arguments, got " + std::to_string(n));
  }

  // The readers below check one value: an argument (by index) or an object's field
  // (through Fields). A typed array costs two N-API calls (is it one, then its type,
  // length and data together).
  template <typename T>
  T* typed(Value v, const Name& name, napi_typedarray_type kind, const char* kindName, size_t* length) const {
    bool isTyped = false;
    napi_typedarray_type type;
    void* data = nullptr;
    if (napi_is_typedarray(v.Env(), v, &isTyped) != napi_ok || !isTyped ||
        napi_get_typedarray_info(v.Env(), v, &type, length, &data, nullptr, nullptr) != napi_ok || type != kind)
      wrong_type(v, name, std::string("a ") + kindName);
    return static_cast<T*>(data);
  }
  template <typename T>
  T* typed(Value v, const Name& name, napi_typedarray_type kind, const char* kindName, size_t expected, const char* formula) const {
    size_t n = 0;
    T* data = typed<T>(v, name, kind, kindName, &n);
    if (n != expected)
      range_error(name.str() + " has length " + std::to_string(n) + ", expected " + std::to_string(expected) + " (" +
                  formula + ")");
    return data;
  }
  float* f32(Value v, const Name& name, size_t expected, const char* formula) const {
    return typed<float>(v, name, napi_float32_array, "Float32Array", expected, formula);
  }
  uint8_t* u8(Value v, const Name& name, size_t expected, const char* formula) const {
    return typed<uint8_t>(v, name, napi_uint8_array, "Uint8Array", expected, formula);
  }
  double number(Value v, const Name& name) const {
    if (!v.IsNumber()) wrong_type(v, name, "a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) range_error(name.str() + " must be finite, got " + num(d));
    return d;
  }
  // Integer size >= min (0 or 1).
  size_t size(Value v, const Name& name, int min) const {
    double d = number(v, name);
    if (d != std::floor(d)) range_error(name.str() + " must be an integer, got " + num(d));
    if (d < min)
      range_error(name.str() + " must be " + (min == 0 ? "a non-negative" : "a positive") + " integer, got " + num(d));
    if (d > kMaxElems) range_error(name.str() + " is too large, got " + num(d));
    return size_t(d);
  }

  float* f32(size_t i, const char* name, size_t expected, const char* formula) const { return f32(info[i], name, expected, formula); }
  // A Float32Array of any length (elementwise ops); returns its length via n.
  float* f32_any(size_t i, const char* name, size_t& n) const {
    return typed<float>(info[i], name, napi_float32_array, "Float32Array", &n);
  }
  int32_t* i32(size_t i, const char* name, size_t expected, const char* formula) const {
    return typed<int32_t>(info[i], name, napi_int32_array, "Int32Array", expected, formula);
  }
  uint8_t* u8(size_t i, const char* name, size_t expected, const char* formula) const { return u8(info[i], name, expected, formula); }
  double number(size_t i, const char* name) const { return number(info[i], name); }
  size_t size(size_t i, const char* name, int min) const { return size(info[i], name, min); }
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

// The fields of an object argument (or of an object field), read by name with the same
// checks and messages as positional arguments; every message names the field by its
// path, e.g. `renderRays: scene.motionBox.min has length 2, expected 3 (3)`. A field
// that is absent or undefined is a TypeError `<path> is missing`; fields not read are
// ignored.
struct Fields {
  const Args& a;
  Napi::Object obj;
  std::string path;  // "scene", "scene.motionBox"

  static Fields of(const Args& a, Value v, const Name& name) {
    if (!v.IsObject() || v.IsTypedArray() || v.IsArray()) a.wrong_type(v, name, "an object");
    return Fields{a, v.As<Napi::Object>(), name.str()};
  }
  Name name(const char* field) const { return Name(path.c_str(), field); }
  Value get(const char* field) const { return obj.Get(field); }
  Fields object(const char* field) const { return of(a, get(field), name(field)); }
  float* f32(const char* field, size_t expected, const char* formula) const { return a.f32(get(field), name(field), expected, formula); }
  uint8_t* u8(const char* field, size_t expected, const char* formula) const { return a.u8(get(field), name(field), expected, formula); }
  double number(const char* field) const { return a.number(get(field), name(field)); }
  size_t size(const char* field, int min) const { return a.size(get(field), name(field), min); }
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
