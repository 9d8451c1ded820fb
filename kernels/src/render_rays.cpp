// Fused per-ray inference of the avatar (see render_rays in kernels.h). Everything a ray
// needs lives in per-thread scratch, so a frame allocates nothing per sample and never
// materialises the [S, 108] encodings the unfused path builds in JS. The heads run on
// chunks of up to 4 samples of one ray against weights transposed to [K][H] (H padded
// to 16): a 4x16 register tile per k step is FMA-bound rather than load-bound, and the
// waste at a ray's end (< 4 rows) is cheaper than batching across rays, which would
// break early termination. The colour head's view-direction columns are folded into a
// per-ray bias (27 x H once per ray instead of per sample; exact).
// Rays are independent, so results do not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels.h"
#include "pool.h"

namespace vox {
namespace {

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

inline v8 fmadd(v8 a, v8 b, v8 c) {
#if defined(__FMA__)
  return (v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;
#endif
}
inline v8 splat(float x) { return v8{x, x, x, x, x, x, x, x}; }

constexpr int kChunk = 4;

// Y[n][Hp] = act(X[n][K] WT[K][Hp] + bias[Hp]); Hp is a multiple of 16.
template <int N, bool Relu>
void layer(const float* X, int ldx, int K, const float* WT, int Hp, const float* bias, float* Y) {
  for (int j = 0; j < Hp; j += 16) {
    v8 acc[N][2];
    const v8 b0 = *(const v8u*)(bias + j), b1 = *(const v8u*)(bias + j + 8);
    for (int r = 0; r < N; ++r) acc[r][0] = b0, acc[r][1] = b1;
    for (int k = 0; k < K; ++k) {
      const v8 w0 = *(const v8u*)(WT + size_t(k) * Hp + j), w1 = *(const v8u*)(WT + size_t(k) * Hp + j + 8);
#pragma GCC unroll 4
      for (int r = 0; r < N; ++r) {
        const v8 a = splat(X[r * ldx + k]);
        acc[r][0] = fmadd(a, w0, acc[r][0]);
        acc[r][1] = fmadd(a, w1, acc[r][1]);
      }
    }
    const v8 zero = splat(0.f);
    for (int r = 0; r < N; ++r) {
      v8 a0 = acc[r][0], a1 = acc[r][1];
      if (Relu) {
        a0 = a0 > zero ? a0 : zero;
        a1 = a1 > zero ? a1 : zero;
      }
      *(v8u*)(Y + r * Hp + j) = a0;
      *(v8u*)(Y + r * Hp + j + 8) = a1;
    }
  }
}

template <bool Relu>
void layer_n(int n, const float* X, int ldx, int K, const float* WT, int Hp, const float* bias, float* Y) {
  switch (n) {
    case 1: layer<1, Relu>(X, ldx, K, WT, Hp, bias, Y); break;
    case 2: layer<2, Relu>(X, ldx, K, WT, Hp, bias, Y); break;
    case 3: layer<3, Relu>(X, ldx, K, WT, Hp, bias, Y); break;
    default: layer<4, Relu>(X, ldx, K, WT, Hp, bias, Y); break;
  }
}

// sin and cos of x to ~1e-7 absolute for |x| up to ~1e4: quadrant reduction by pi/2
// (two-part constant), Taylor polynomials on [-pi/4, pi/4]. libm sin/cos would cost
// more than the density head's GEMM for the 12 features of a sample.
inline void sincos_fast(float x, float& s, float& c) {
  const float q = std::nearbyint(x * 0.636619772367581f);
  const float r = (x - q * 1.5707962513f) - q * 7.549789948768648e-8f;
  const float r2 = r * r;
  const float sp = r * (1.f + r2 * (-1.f / 6 + r2 * (1.f / 120 + r2 * (-1.f / 5040 + r2 * (1.f / 362880)))));
  const float cp = 1.f + r2 * (-0.5f + r2 * (1.f / 24 + r2 * (-1.f / 720 + r2 * (1.f / 40320))));
  const int qi = int(q) & 3;
  s = qi == 0 ? sp : qi == 1 ? cp : qi == 2 ? -sp : -cp;
  c = qi == 0 ? cp : qi == 1 ? -sp : qi == 2 ? -cp : sp;
}

// [x, sin x, cos x, sin 2x, cos 2x, ...] per scalar, double-angle octaves like Encoding.ts.
inline void encode(const float* x, int n, int F, float* out) {
  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    float s, c;
    sincos_fast(v, s, c);
    *out++ = v;
    for (int j = 0; j < F; ++j) {
      *out++ = s;
      *out++ = c;
      const float s2 = 2.f * s * c;
      c = 1.f - 2.f * s * s;
      s = s2;
    }
  }
}

// Trilinear lookup in grid [D,D,D,C] viewed at `stride`, point g in [-1,1]^3,
// align_corners=false and zero padding (as grid_sample3d). The view's constants are
// computed once per frame, not per lookup; out-of-range corners get weight 0 and a
// clamped (valid) address, so the 8 corners run without branches.
struct GridView {
  const float* grid;
  int S;             // points per axis at this stride
  size_t sx, sy, sz;  // element strides of one step along x, y, z at this stride
  float half;        // S / 2: u = (g + 1) * half - 0.5
  GridView(const float* g, int D, int C, int stride)
      : grid(g), S((D - 1) / stride + 1), sx(size_t(stride) * C), sy(sx * D), sz(sy * D), half(0.5f * float(S)) {}
};

// Corner offsets and weights of one lookup (weight 0 for corners outside the grid).
struct Corners {
  size_t off[8];
  float w[8];
};

inline void corners(const GridView& v, const float* g, Corners& c) {
  size_t base[3][2];
  float wt[3][2];
  const size_t step[3] = {v.sx, v.sy, v.sz};
  for (int a = 0; a < 3; ++a) {
    float u = (g[a] + 1.f) * v.half - 0.5f;
    u = std::fmin(std::fmax(u, -2.f), float(v.S) + 1.f);
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

typedef float v4 __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4)));

// C = 4 (the appearance grid): one 4-wide load per corner.
inline void trilinear4(const GridView& v, const float* g, float* out) {
  Corners c;
  corners(v, g, c);
  v4 acc = {0.f, 0.f, 0.f, 0.f};
  for (int k = 0; k < 8; ++k) acc += c.w[k] * *(const v4u*)(v.grid + c.off[k]);
  *(v4u*)out = acc;
}

inline void trilinear_c(const GridView& v, int C, const float* g, float* out) {
  Corners c;
  corners(v, g, c);
  for (int ch = 0; ch < C; ++ch) out[ch] = 0.f;
  for (int k = 0; k < 8; ++k) {
    const float* p = v.grid + c.off[k];
    for (int ch = 0; ch < C; ++ch) out[ch] += c.w[k] * p[ch];
  }
}

// W [H, ld] columns [c0, c0+K) -> WT [K][Hp], zero-padded.
std::vector<float> transpose_pad(const float* W, int H, int ld, int c0, int K, int Hp) {
  std::vector<float> t(size_t(K) * Hp, 0.f);
  for (int h = 0; h < H; ++h)
    for (int k = 0; k < K; ++k) t[size_t(k) * Hp + h] = W[size_t(h) * ld + c0 + k];
  return t;
}
std::vector<float> pad(const float* v, int n, int Hp) {
  std::vector<float> t(Hp, 0.f);
  std::memcpy(t.data(), v, sizeof(float) * size_t(n));
  return t;
}

}  // namespace

RenderRaysStats render_rays(const float* origins, const float* dirs, size_t R, const RenderRaysParams& p,
                            float* color) {
  const int F = p.F, C = p.C, featA = 3 * C, per = 1 + 2 * F;
  const int encA = featA * per, encV = 3 * per, colorIn = encA + encV;
  const int Hdp = (p.Hd + 15) / 16 * 16, Hcp = (p.Hc + 15) / 16 * 16;
  const std::vector<float> WdT = transpose_pad(p.densW0, p.Hd, encA, 0, encA, Hdp), bd = pad(p.densB0, p.Hd, Hdp),
                           wd1 = pad(p.densW1, p.Hd, Hdp);
  const std::vector<float> WcaT = transpose_pad(p.colorW0, p.Hc, colorIn, 0, encA, Hcp),
                           WcvT = transpose_pad(p.colorW0, p.Hc, colorIn, encA, encV, Hcp), bc = pad(p.colorB0, p.Hc, Hcp);
  std::vector<float> wc1(size_t(3) * Hcp, 0.f);
  for (int o = 0; o < 3; ++o) std::memcpy(&wc1[size_t(o) * Hcp], p.colorW1 + size_t(o) * p.Hc, sizeof(float) * size_t(p.Hc));
  float mScale[3], aScale[3];
  for (int a = 0; a < 3; ++a) {
    mScale[a] = 2.f / (p.motionMax[a] - p.motionMin[a]);
    aScale[a] = 2.f / (p.appMax[a] - p.appMin[a]);
  }
  const GridView offsetView(p.offsets, p.B, 3, 1);
  const GridView appView[3] = {GridView(p.appearance, p.A, C, 1), GridView(p.appearance, p.A, C, 2), GridView(p.appearance, p.A, C, 4)};
  std::atomic<int64_t> nSamples{0}, nDensity{0}, nShaded{0};
  const MarchParams& m = p.march;
  const int G = m.G;

  parallel_for(R, 64, [&](size_t rb, size_t re) {
    std::vector<float> pos(size_t(3) * size_t(std::max(m.maxSamples, 1)));
    std::vector<float> enc(size_t(kChunk) * encA), hidD(size_t(kChunk) * Hdp), hidC(size_t(kChunk) * Hcp);
    std::vector<float> feat(static_cast<size_t>(featA));
    std::vector<float> cEnc(size_t(kChunk) * encA), bray(Hcp), encVbuf(encV);
    float cW[kChunk];
    int64_t cntS = 0, cntD = 0, cntC = 0;
    for (size_t r = rb; r < re; ++r) {
      float* out = color + 3 * r;
      // --- march (same double arithmetic as march_ray) ---
      const float* o3 = origins + 3 * r;
      const float* d3 = dirs + 3 * r;
      double o[3] = {o3[0], o3[1], o3[2]}, d[3] = {d3[0], d3[1], d3[2]};
      double tNear = 0.0, tFar = INFINITY;
      bool miss = false;
      for (int a = 0; a < 3 && !miss; ++a) {
        const double mn = m.boxMin[a], mx = m.boxMax[a];
        if (d[a] == 0.0) {
          if (o[a] < mn || o[a] > mx) miss = true;
          continue;
        }
        double t0 = (mn - o[a]) / d[a], t1 = (mx - o[a]) / d[a];
        if (t0 > t1) std::swap(t0, t1);
        if (t0 > tNear) tNear = t0;
        if (t1 < tFar) tFar = t1;
      }
      int n = 0;
      // A zero direction inside the box would never reach tFar = inf: treat it as a miss.
      if (!miss && tNear < tFar && std::isfinite(tFar)) {
        for (double k = 0.0; n < m.maxSamples; k += 1.0) {
          const double t = tNear + (k + 0.5) * m.step;
          if (!(t < tFar)) break;
          double q[3];
          int cell[3];
          for (int a = 0; a < 3; ++a) {
            const double mn = m.boxMin[a], mx = m.boxMax[a];
            q[a] = o[a] + t * d[a];
            const double c = std::floor((q[a] - mn) / (mx - mn) * double(G));
            cell[a] = c < 0.0 ? 0 : (c > double(G - 1) ? G - 1 : int(c));
          }
          if (!m.occupancy[(size_t(cell[2]) * G + size_t(cell[1])) * G + size_t(cell[0])]) continue;
          for (int a = 0; a < 3; ++a) pos[size_t(3 * n + a)] = float(q[a]);
          ++n;
        }
      }
      cntS += n;
      if (n == 0) {
        for (int c = 0; c < 3; ++c) out[c] = p.bg[c];
        continue;
      }
      // Per-ray colour bias: colorB0 + W[:, view columns] encV (exact fold).
      encode(d3, 3, F, encVbuf.data());
      layer_n<false>(1, encVbuf.data(), encV, encV, WcvT.data(), Hcp, bc.data(), bray.data());

      float T = 1.f, pending = 0.f, acc[3] = {0.f, 0.f, 0.f};
      int queued = 0;
      auto flush = [&]() {
        if (queued == 0) return;
        layer_n<true>(queued, cEnc.data(), encA, encA, WcaT.data(), Hcp, bray.data(), hidC.data());
        for (int j = 0; j < queued; ++j)
          for (int c = 0; c < 3; ++c) {
            float s = p.colorB1[c];
            const float* h = hidC.data() + size_t(j) * Hcp;
            const float* w = wc1.data() + size_t(c) * Hcp;
            for (int i = 0; i < Hcp; ++i) s += w[i] * h[i];
            acc[c] += cW[j] / (1.f + std::exp(-s));
          }
        cntC += queued;
        queued = 0;
      };
      bool done = false;
      for (int s0 = 0; s0 < n && !done; s0 += kChunk) {
        const int cn = std::min(kChunk, n - s0);
        for (int j = 0; j < cn; ++j) {
          const float* q = &pos[size_t(3 * (s0 + j))];
          float g[3], off[3];
          for (int a = 0; a < 3; ++a) g[a] = (q[a] - p.motionMin[a]) * mScale[a] - 1.f;
          trilinear_c(offsetView, 3, g, off);
          for (int a = 0; a < 3; ++a) g[a] = (q[a] + off[a] - p.appMin[a]) * aScale[a] - 1.f;
          float* fa = feat.data();
          for (int v = 0; v < 3; ++v) {
            if (C == 4) trilinear4(appView[v], g, fa + v * C);
            else trilinear_c(appView[v], C, g, fa + v * C);
          }
          encode(fa, featA, F, enc.data() + size_t(j) * encA);
        }
        layer_n<true>(cn, enc.data(), encA, encA, WdT.data(), Hdp, bd.data(), hidD.data());
        cntD += cn;
        for (int j = 0; j < cn; ++j) {
          if (T < p.tEps) {
            done = true;
            break;
          }
          float sigma = p.densB1;
          const float* h = hidD.data() + size_t(j) * Hdp;
          for (int i = 0; i < Hdp; ++i) sigma += wd1[i] * h[i];
          const float trans = std::exp(-std::max(sigma, 0.f) * p.stepDensity);
          const float w = T * (1.f - trans);
          T *= trans;
          if (w < p.weightEps) {
            pending += w;
            continue;
          }
          std::memcpy(cEnc.data() + size_t(queued) * encA, enc.data() + size_t(j) * encA, sizeof(float) * size_t(encA));
          cW[queued++] = w + pending;
          pending = 0.f;
          if (queued == kChunk) flush();
        }
      }
      flush();
      for (int c = 0; c < 3; ++c) out[c] = acc[c] + (T + pending) * p.bg[c];
    }
    nSamples += cntS;
    nDensity += cntD;
    nShaded += cntC;
  });
  return {nSamples.load(), nDensity.load(), nShaded.load()};
}

}  // namespace vox
