// The per-frame motion bake fused in one op (see bake_motion in kernels.h): for each
// point of the bake grid, the blended motion volume at strides 1/2/4, its sin/cos
// encoding and the deformation MLP, in chunks of 4 points through the same register
// tile and vectorised encoding as render_rays. Unfused, the bake built [m^3, 54] and
// [m^3, 64] tensors through four ops and a JS encoding, and cost about as much as
// shading the frame's rays.
#include <algorithm>
#include <vector>

#include "infer_math.h"
#include "kernels.h"
#include "pool.h"

namespace vox {

using namespace infer;

void bake_motion(const BakeMotionParams& p, float* offsets) {
  constexpr int kChunk = 4;
  const int featM = 3 * p.C, per = 1 + 2 * p.F, encM = featM * per, Hp = pad_head(p.H);
  const int termLd = round8(kChunk * featM);
  const std::vector<float> WT = transpose_term_major(p.W0, p.H, encM, 0, featM, per, Hp), b0 = pad(p.b0, p.H, Hp),
                           w1 = pad_rows(p.W1, 3, p.H, Hp);
  const GridView views[3] = {GridView(p.motion, p.M, p.C, 1), GridView(p.motion, p.M, p.C, 2), GridView(p.motion, p.M, p.C, 4)};
  const int m = p.m;
  const size_t N = size_t(m) * m * m;
  parallel_for((N + kChunk - 1) / kChunk, 64, [&](size_t cb, size_t ce) {
    std::vector<float> feat(size_t(termLd), 0.f), terms(size_t(per) * termLd), hid(size_t(kChunk) * Hp);
    for (size_t c = cb; c < ce; ++c) {
      const size_t i0 = c * kChunk;
      const int cn = int(std::min<size_t>(kChunk, N - i0));
      for (int j = 0; j < cn; ++j) {
        const size_t i = i0 + size_t(j);
        const int x = int(i % size_t(m)), y = int(i / size_t(m) % size_t(m)), z = int(i / (size_t(m) * m));
        // The bake grid's own points in the motion box's [-1,1] (align_corners=false centres).
        const float g[3] = {float(2 * x + 1) / float(m) - 1.f, float(2 * y + 1) / float(m) - 1.f, float(2 * z + 1) / float(m) - 1.f};
        for (int v = 0; v < 3; ++v) trilinear_c(views[v], p.C, g, feat.data() + size_t(j) * featM + size_t(v) * p.C);
      }
      encode_terms(feat.data(), cn * featM, p.F, terms.data(), termLd);
      layer_n<2>(cn, Rows{terms.data(), featM, termLd, featM, per}, WT.data(), Hp, b0.data(), hid.data());
      for (int j = 0; j < cn; ++j)
        for (int o = 0; o < 3; ++o)
          offsets[3 * (i0 + size_t(j)) + size_t(o)] = 0.1f * dot_out(w1.data() + size_t(o) * Hp, hid.data() + size_t(j) * Hp, Hp, p.b1[o]);
    }
  });
}

}  // namespace vox
