// Fused per-ray inference of the avatar (see render_rays in kernels.h). Everything a ray
// needs lives in per-thread scratch, so a frame allocates nothing per sample and never
// materialises the [S, 108] encodings the unfused path builds in JS. Samples go through
// in chunks of up to 4 of one ray: their appearance features are encoded 8 values at a
// time (term-major, weights permuted to match; see infer_math.h) and the heads run as a
// 4 x kHeadPad register tile (16 columns, 32 with AVX-512F) against weights transposed
// to [K][H] (H padded to kHeadPad), reading the encodings in place. The waste
// at a ray's end (< 4 rows) is cheaper than batching across rays, which would break
// early termination. The colour head's view-direction columns are folded into a per-ray
// bias (27 x H once per ray instead of per sample; exact).
// Rays are independent and handed out in blocks from a shared counter (a face is not
// spread evenly over the image), so results do not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "infer_math.h"
#include "kernels.h"
#include "march_ray.h"
#include "pool.h"

namespace vox {
namespace {

using namespace infer;

constexpr int kChunk = 4;
constexpr size_t kRayBlock = 32;

// The frame's scene in the layouts the per-sample code wants (built once per call).
struct Scene {
  const RenderRaysParams& p;
  int F, C, featA, per, encA, encV, Hdp, Hcp, termLd;
  std::vector<float> WdT, bd, wd1, WcaT, WcvT, bc, wc1;
  std::vector<float> offsets4;  // the offsets padded to 4 channels: one 4-wide load per corner
  float mScale[3], aScale[3];
  GridView offsetView;
  GridView appView[3];

  explicit Scene(const RenderRaysParams& q)
      : p(q), F(q.F), C(q.C), featA(3 * q.C), per(1 + 2 * q.F), encA(featA * per), encV(3 * per),
        Hdp(pad_head(q.Hd)), Hcp(pad_head(q.Hc)), termLd(round8(kChunk * featA)),
        offsets4(size_t(q.B) * q.B * q.B * 4, 0.f), offsetView(offsets4.data(), q.B, 4, 1),
        appView{GridView(q.appearance, q.A, q.C, 1), GridView(q.appearance, q.A, q.C, 2), GridView(q.appearance, q.A, q.C, 4)} {
    for (size_t i = 0, n = size_t(q.B) * q.B * q.B; i < n; ++i)
      for (int a = 0; a < 3; ++a) offsets4[4 * i + a] = q.offsets[3 * i + a];
    WdT = transpose_term_major(q.densW0, q.Hd, encA, 0, featA, per, Hdp);
    bd = pad(q.densB0, q.Hd, Hdp);
    wd1 = pad(q.densW1, q.Hd, Hdp);
    const int colorIn = encA + encV;
    WcaT = transpose_term_major(q.colorW0, q.Hc, colorIn, 0, featA, per, Hcp);
    WcvT = transpose_term_major(q.colorW0, q.Hc, colorIn, encA, 3, per, Hcp);
    bc = pad(q.colorB0, q.Hc, Hcp);
    wc1 = pad_rows(q.colorW1, 3, q.Hc, Hcp);
    for (int a = 0; a < 3; ++a) {
      mScale[a] = 2.f / (q.motionMax[a] - q.motionMin[a]);
      aScale[a] = 2.f / (q.appMax[a] - q.appMin[a]);
    }
  }
};

// Per-thread buffers.
struct Scratch {
  std::vector<float> pos, feat, terms, hidD, hidC, cEnc, bray, dirPad, dirTerms;
  explicit Scratch(const Scene& s)
      : pos(size_t(3) * kChunk), feat(size_t(s.termLd), 0.f), terms(size_t(s.per) * s.termLd),
        hidD(size_t(kChunk) * s.Hdp), hidC(size_t(kChunk) * s.Hcp),
        cEnc(size_t(kChunk) * s.encA), bray(s.Hcp), dirPad(8, 0.f), dirTerms(size_t(s.per) * 8) {}
};

// Density of cn <= kChunk canonical points: their encodings into x.terms (encode_terms'
// layout) and sigma[j] (the density head's linear output, before the ReLU of compositing).
void density_chunk(const Scene& s, Scratch& x, const float* pts, int cn, float* sigma) {
  const RenderRaysParams& p = s.p;
  for (int j = 0; j < cn; ++j) {
    const float* q = pts + 3 * j;
    float g[3], off[4];
    for (int a = 0; a < 3; ++a) g[a] = (q[a] - p.motionMin[a]) * s.mScale[a] - 1.f;
    trilinear4(s.offsetView, g, off);
    for (int a = 0; a < 3; ++a) g[a] = (q[a] + off[a] - p.appMin[a]) * s.aScale[a] - 1.f;
    float* fa = x.feat.data() + size_t(j) * s.featA;
    for (int v = 0; v < 3; ++v) {
      if (s.C == 4) trilinear4(s.appView[v], g, fa + v * 4);
      else trilinear_c(s.appView[v], s.C, g, fa + v * s.C);
    }
  }
  encode_terms(x.feat.data(), cn * s.featA, s.F, x.terms.data(), s.termLd);
  layer_n<1>(cn, Rows{x.terms.data(), s.featA, s.termLd, s.featA, s.per}, s.WdT.data(), s.Hdp, s.bd.data(), x.hidD.data());
  for (int j = 0; j < cn; ++j) sigma[j] = dot_out(s.wd1.data(), x.hidD.data() + size_t(j) * s.Hdp, s.Hdp, p.densB1);
}

// The ray's next chunk of up to kChunk kept samples (march_ray.h: uniform steps through the
// occupancy grid, as marchRays) into pos; their count returned (0: the ray has ended).
int march_chunk(const MarchParams& m, RayMarch& ray, float* pos) {
  return ray.next(m, kChunk, [pos](int32_t i, const double* q) {
    for (int a = 0; a < 3; ++a) pos[size_t(3 * i + a)] = float(q[a]);
  });
}

struct RayCounts {
  int64_t samples = 0, density = 0, shaded = 0;
};

void render_ray(const Scene& s, Scratch& x, const float* o3, const float* d3, float* out, float* trans_out, RayCounts& cnt) {
  const RenderRaysParams& p = s.p;
  // The march goes a chunk ahead of the shading and stops with it (a zero direction is a miss).
  RayMarch ray;
  int cn = ray.begin(o3, d3, p.march, true) ? march_chunk(p.march, ray, x.pos.data()) : 0;
  if (cn == 0) {
    for (int c = 0; c < 3; ++c) out[c] = p.bg[c];
    if (trans_out) *trans_out = 1.f;
    return;
  }
  // Per-ray colour bias: colorB0 + W[:, view columns] encV (exact fold).
  for (int a = 0; a < 3; ++a) x.dirPad[a] = d3[a];
  encode_terms(x.dirPad.data(), 3, s.F, x.dirTerms.data(), 8);
  layer_n<0>(1, Rows{x.dirTerms.data(), 3, 8, 3, s.per}, s.WcvT.data(), s.Hcp, s.bc.data(), x.bray.data());

  float T = 1.f, pending = 0.f, acc[3] = {0.f, 0.f, 0.f}, cW[kChunk], sigma[kChunk];
  int queued = 0;
  auto flush = [&]() {
    if (queued == 0) return;
    layer_n<1>(queued, Rows{x.cEnc.data(), s.encA, s.featA, s.featA, s.per}, s.WcaT.data(), s.Hcp, x.bray.data(), x.hidC.data());
    for (int j = 0; j < queued; ++j)
      for (int c = 0; c < 3; ++c) {
        const float v = dot_out(s.wc1.data() + size_t(c) * s.Hcp, x.hidC.data() + size_t(j) * s.Hcp, s.Hcp, p.colorB1[c]);
        acc[c] += cW[j] / (1.f + std::exp(-v));
      }
    cnt.shaded += queued;
    queued = 0;
  };
  // T is tested before each chunk (the first too: a tEps above 1 shades nothing), and a
  // terminated ray marches no further.
  for (; cn > 0 && T >= p.tEps; cn = T < p.tEps ? 0 : march_chunk(p.march, ray, x.pos.data())) {
    density_chunk(s, x, x.pos.data(), cn, sigma);
    cnt.density += cn;
    for (int j = 0; j < cn && T >= p.tEps; ++j) {
      const float trans = std::exp(-std::max(sigma[j], 0.f) * p.stepDensity);
      const float w = T * (1.f - trans);
      T *= trans;
      if (w < p.weightEps) {
        pending += w;
        continue;
      }
      // The sample's encoding, term by term, into the colour queue's row (term-major).
      float* row = x.cEnc.data() + size_t(queued) * s.encA;
      const float* src = x.terms.data() + size_t(j) * s.featA;
      for (int t = 0; t < s.per; ++t)
        for (int f = 0; f < s.featA; ++f) row[t * s.featA + f] = src[size_t(t) * s.termLd + f];
      cW[queued++] = w + pending;
      pending = 0.f;
      if (queued == kChunk) flush();
    }
  }
  flush();
  cnt.samples += ray.count;
  for (int c = 0; c < 3; ++c) out[c] = acc[c] + (T + pending) * p.bg[c];
  if (trans_out) *trans_out = T + pending;
}

}  // namespace

RenderRaysStats render_rays(const float* origins, const float* dirs, size_t R, const RenderRaysParams& p,
                            float* color, float* transmittance) {
  const Scene scene(p);
  std::atomic<int64_t> nSamples{0}, nDensity{0}, nShaded{0};
  std::atomic<size_t> next{0};
  const size_t blocks = (R + kRayBlock - 1) / kRayBlock;
  parallel_for(size_t(num_threads()), 1, [&](size_t, size_t) {
    Scratch x(scene);
    RayCounts cnt;
    for (size_t b; (b = next.fetch_add(1)) < blocks;)
      for (size_t r = b * kRayBlock, e = std::min(R, r + kRayBlock); r < e; ++r)
        render_ray(scene, x, origins + 3 * r, dirs + 3 * r, color + 3 * r, transmittance ? transmittance + r : nullptr, cnt);
    nSamples += cnt.samples;
    nDensity += cnt.density;
    nShaded += cnt.shaded;
  });
  return {nSamples.load(), nDensity.load(), nShaded.load()};
}

void density_at(const float* points, size_t P, const RenderRaysParams& p, float* sigma) {
  const Scene scene(p);
  parallel_for((P + kChunk - 1) / kChunk, 64, [&](size_t cb, size_t ce) {
    Scratch x(scene);
    for (size_t c = cb; c < ce; ++c) {
      const size_t i = c * kChunk;
      const int cn = int(std::min<size_t>(kChunk, P - i));
      density_chunk(scene, x, points + 3 * i, cn, sigma + i);
    }
  });
}

}  // namespace vox
