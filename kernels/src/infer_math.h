// Building blocks of the fused inference ops (render_rays.cpp, bake_motion.cpp): 8-wide
// vectors (GCC vector extensions: AVX2+FMA where built with it, two SSE halves
// otherwise), the small dense-layer tile (two vectors per row: 512-bit `vw` where built
// with AVX-512F, else 8-wide), a vectorised sin/cos encoding and the trilinear grid
// views. Header-only so each op inlines them into its per-sample loop.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace vox::infer {

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4)));

inline v8 fmadd(v8 a, v8 b, v8 c) {
#if defined(__FMA__)
  return (v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;
#endif
}
inline v8 splat(float x) { return v8{x, x, x, x, x, x, x, x}; }
inline float hsum(v8 v) {
  const v4 lo = {v[0], v[1], v[2], v[3]}, hi = {v[4], v[5], v[6], v[7]};
  const v4 s = lo + hi;
  return (s[0] + s[2]) + (s[1] + s[3]);
}

#if defined(__AVX512F__)
// Head widths are padded to this many columns: one register tile's width.
constexpr int kHeadPad = 32;
typedef float vw __attribute__((vector_size(64)));
typedef float vwu __attribute__((vector_size(64), aligned(4)));
inline vw fmaddw(vw a, vw b, vw c) { return (vw)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
inline vw splatw(float x) { return (vw)_mm512_set1_ps(x); }
#else
constexpr int kHeadPad = 16;
typedef v8 vw;
typedef v8u vwu;
inline vw fmaddw(vw a, vw b, vw c) { return fmadd(a, b, c); }
inline vw splatw(float x) { return splat(x); }
#endif
constexpr int kLanes = int(sizeof(vw) / sizeof(float));
inline int pad_head(int H) { return (H + kHeadPad - 1) / kHeadPad * kHeadPad; }

// A head's input rows as the encodings leave them, read in place: row r, column
// k = t*n + f at x[r*rowStride + t*termStride + f] (K = terms*n). A row-major [N][K]
// matrix is {x, K, n, n, K/n}; encode_terms' output for rows of n values each is
// {terms, n, ld, n, 1+2F}, which saves copying every sample's encoding into a row.
struct Rows {
  const float* x;
  int rowStride, termStride, n, terms;
};

// Y[N][Hp] = act(X WT[K][Hp] + bias[Hp]); Hp is a multiple of kHeadPad. An
// N x kHeadPad register tile (two vectors per row) per k step is FMA-bound rather than
// load-bound. Act: 0 none, 1 relu, 2 leaky relu (0.01).
template <int N, int Act>
void layer(const Rows& X, const float* WT, int Hp, const float* bias, float* Y) {
  for (int j = 0; j < Hp; j += 2 * kLanes) {
    vw acc[N][2];
    const vw b0 = *(const vwu*)(bias + j), b1 = *(const vwu*)(bias + j + kLanes);
    for (int r = 0; r < N; ++r) acc[r][0] = b0, acc[r][1] = b1;
    const float* w = WT + j;
    for (int t = 0; t < X.terms; ++t) {
      const float* xt = X.x + size_t(t) * X.termStride;
      for (int f = 0; f < X.n; ++f, w += Hp) {
        const vw w0 = *(const vwu*)w, w1 = *(const vwu*)(w + kLanes);
#pragma GCC unroll 4
        for (int r = 0; r < N; ++r) {
          const vw a = splatw(xt[r * X.rowStride + f]);
          acc[r][0] = fmaddw(a, w0, acc[r][0]);
          acc[r][1] = fmaddw(a, w1, acc[r][1]);
        }
      }
    }
    const vw zero = splatw(0.f), leak = splatw(0.01f);
    for (int r = 0; r < N; ++r) {
      for (int h = 0; h < 2; ++h) {
        vw a = acc[r][h];
        if (Act == 1) a = a > zero ? a : zero;
        if (Act == 2) a = a > zero ? a : a * leak;
        *(vwu*)(Y + r * Hp + j + kLanes * h) = a;
      }
    }
  }
}

template <int Act>
void layer_n(int n, const Rows& X, const float* WT, int Hp, const float* bias, float* Y) {
  switch (n) {
    case 1: layer<1, Act>(X, WT, Hp, bias, Y); break;
    case 2: layer<2, Act>(X, WT, Hp, bias, Y); break;
    case 3: layer<3, Act>(X, WT, Hp, bias, Y); break;
    default: layer<4, Act>(X, WT, Hp, bias, Y); break;
  }
}

// b + w . h over Hp (a multiple of 8) in 8 lanes: an output unit of a head.
inline float dot_out(const float* w, const float* h, int Hp, float b) {
  v8 s = splat(0.f);
  for (int i = 0; i < Hp; i += 8) s = fmadd(*(const v8u*)(w + i), *(const v8u*)(h + i), s);
  return b + hsum(s);
}

// sin and cos of 8 values to ~1e-7 absolute for |x| up to ~1e4: quadrant reduction by
// pi/2 (two-part constant, round to nearest by the 1.5 * 2^23 trick, as nearbyint),
// Taylor polynomials on [-pi/4, pi/4], quadrant fix-up by lane selects.
inline void sincos8(v8 x, v8& s, v8& c) {
  const v8 magic = splat(12582912.f);
  const v8 q = (x * splat(0.636619772367581f) + magic) - magic;
  const v8 r = (x - q * splat(1.5707962513f)) - q * splat(7.549789948768648e-8f);
  const v8 r2 = r * r;
  const v8 sp = r * (splat(1.f) + r2 * (splat(-1.f / 6) + r2 * (splat(1.f / 120) + r2 * (splat(-1.f / 5040) + r2 * splat(1.f / 362880)))));
  const v8 cp = splat(1.f) + r2 * (splat(-0.5f) + r2 * (splat(1.f / 24) + r2 * (splat(-1.f / 720) + r2 * splat(1.f / 40320))));
  const v8i qi = __builtin_convertvector(q, v8i);
  const v8i odd = (qi & 1) != 0, neg = (qi & 2) != 0;
  v8 s0 = odd ? cp : sp, c0 = odd ? -sp : cp;
  s = neg ? -s0 : s0;
  c = neg ? -c0 : c0;
}

// Encoding terms [x, sin x, cos x, sin 2x, cos 2x, ...] (double-angle octaves like
// Encoding.ts), term-major: terms[t * ld + i] for i < n. Reads x[0, round8(n)) (callers
// pad), so the octave recurrences run 8 values at a time instead of one serial chain
// per value. Weights are permuted to this order by transpose_term_major.
inline void encode_terms(const float* x, int n, int F, float* terms, int ld) {
  for (int i = 0; i < n; i += 8) {
    const v8 v = *(const v8u*)(x + i);
    v8 s, c;
    sincos8(v, s, c);
    *(v8u*)(terms + i) = v;
    for (int j = 0; j < F; ++j) {
      *(v8u*)(terms + size_t(1 + 2 * j) * ld + i) = s;
      *(v8u*)(terms + size_t(2 + 2 * j) * ld + i) = c;
      const v8 s2 = splat(2.f) * s * c;
      c = splat(1.f) - splat(2.f) * s * s;
      s = s2;
    }
  }
}

// W [H, ld] columns c0 .. c0 + n*per -> WT [K = n*per][Hp], zero-padded, with the rows
// reordered from the model's value-major encoding order (column f*per + t) to the
// kernels' term-major one (row k = t*n + f).
inline std::vector<float> transpose_term_major(const float* W, int H, int ld, int c0, int n, int per, int Hp) {
  const int K = n * per;
  std::vector<float> t(size_t(K) * Hp, 0.f);
  for (int h = 0; h < H; ++h)
    for (int tt = 0; tt < per; ++tt)
      for (int f = 0; f < n; ++f) t[size_t(tt * n + f) * Hp + h] = W[size_t(h) * ld + c0 + f * per + tt];
  return t;
}
inline std::vector<float> pad(const float* v, int n, int Hp) {
  std::vector<float> t(Hp, 0.f);
  std::memcpy(t.data(), v, sizeof(float) * size_t(n));
  return t;
}
// W [rows, H] -> [rows][Hp], each row zero-padded (a head's output layer, for dot_out).
inline std::vector<float> pad_rows(const float* W, int rows, int H, int Hp) {
  std::vector<float> t(size_t(rows) * Hp, 0.f);
  for (int o = 0; o < rows; ++o) std::memcpy(&t[size_t(o) * Hp], W + size_t(o) * H, sizeof(float) * size_t(H));
  return t;
}
// Floats of encode_terms' input for n values: it reads and writes 8 at a time.
inline int round8(int n) { return (n + 7) / 8 * 8; }

// Trilinear lookup in grid [D,D,D,C] viewed at `stride`, point g in [-1,1]^3,
// align_corners=false and zero padding (as grid_sample3d). The view's constants are
// computed once per frame, not per lookup; out-of-range corners get weight 0 and a
// clamped (valid) address, so the 8 corners run without branches.
struct GridView {
  const float* grid;
  int S;              // points per axis at this stride
  size_t sx, sy, sz;  // element strides of one step along x, y, z at this stride
  float half;         // S / 2: u = (g + 1) * half - 0.5
  GridView(const float* g, int D, int C, int stride)
      : grid(g), S((D - 1) / stride + 1), sx(size_t(stride) * C), sy(sx * D), sz(sy * D), half(0.5f * float(S)) {}
};

struct Corners {
  size_t off[8];
  float w[8];
};

inline void corners(const GridView& v, const float* g, Corners& c) {
  size_t base[3][2];
  float wt[3][2];
  const size_t step[3] = {v.sx, v.sy, v.sz};
  const float hi = float(v.S) + 1.f;
  for (int a = 0; a < 3; ++a) {
    float u = (g[a] + 1.f) * v.half - 0.5f;
    // Clamped so the int conversion stays in range; written so NaN (a NaN point) maps to -2.
    u = u > -2.f ? u : -2.f;
    u = u < hi ? u : hi;
    const float fl = std::floor(u);
    const int i0 = int(fl);
    const float f = u - fl;
    const bool in0 = i0 >= 0 && i0 < v.S, in1 = i0 + 1 >= 0 && i0 + 1 < v.S;
    base[a][0] = size_t(in0 ? i0 : 0) * step[a];
    base[a][1] = size_t(in1 ? i0 + 1 : 0) * step[a];
    wt[a][0] = in0 ? 1.f - f : 0.f;
    wt[a][1] = in1 ? f : 0.f;
  }
  int k = 0;
  for (int dz = 0; dz < 2; ++dz)
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx, ++k) {
        c.off[k] = base[2][dz] + base[1][dy] + base[0][dx];
        c.w[k] = wt[2][dz] * wt[1][dy] * wt[0][dx];
      }
}

// C = 4 (the appearance grid): one 4-wide load per corner.
inline void trilinear4(const GridView& v, const float* g, float* out) {
  Corners c;
  corners(v, g, c);
  v4 acc = {0.f, 0.f, 0.f, 0.f};
  for (int k = 0; k < 8; ++k) acc += c.w[k] * *(const v4u*)(v.grid + c.off[k]);
  *(v4u*)out = acc;
}

// Any C (the motion grid's 2): each channel's sum is kept in a register over the 8
// corners. Accumulating into out[] instead made every add wait on the previous store
// (out may alias the grid, so the compiler keeps it in memory): 63% of the motion bake's
// time on one store; the bake of LIVE's 640x360 frame went 7.3 -> 4.7 ms with this. Same
// order of adds, so the same floats.
inline void trilinear_c(const GridView& v, int C, const float* g, float* out) {
  Corners c;
  corners(v, g, c);
  for (int ch = 0; ch < C; ++ch) {
    float acc = 0.f;
    for (int k = 0; k < 8; ++k) acc += c.w[k] * v.grid[c.off[k] + size_t(ch)];
    out[ch] = acc;
  }
}

}  // namespace vox::infer
