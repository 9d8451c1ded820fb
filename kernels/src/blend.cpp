// Expression blending of motion volumes: out = mean + sum_e coeff[e] * bases[e].
// Memory-bound (E+2 streams of V floats), so it is tiled over V: each tile of `out`
// stays in L1 while the E bases are streamed through it.
#include <algorithm>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace vox {

void blend_volumes(const float* mean, const float* bases, const float* coeff, int E, size_t V,
                   float* out) {
  constexpr size_t TILE = 2048;
  parallel_for((V + TILE - 1) / TILE, 4, [&](size_t tb, size_t te) {
    for (size_t t = tb; t < te; ++t) {
      size_t b = t * TILE, e = std::min(V, b + TILE);
      for (size_t i = b; i < e; ++i) out[i] = mean[i];
      for (int k = 0; k < E; ++k) {
        const float c = coeff[k];
        const float* base = bases + size_t(k) * V;
        for (size_t i = b; i < e; ++i) out[i] += c * base[i];
      }
    }
  });
}

void blend_volumes_backward(const float* bases, const float* coeff, const float* dOut, int E,
                            size_t V, float* dMean, float* dBases, float* dCoeff) {
  // dCoeff[e] = dot(bases[e], dOut): per fixed block partial sums in double, then summed
  // in block order, so the result does not depend on the thread count.
  const size_t nb = (V + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(size_t(E) * nb, 0.0);
  parallel_for(nb, 1, [&](size_t bb, size_t be) {
    for (size_t blk = bb; blk < be; ++blk) {
      size_t b = blk * kReduceBlock, e = std::min(V, b + kReduceBlock);
      if (dMean) std::copy(dOut + b, dOut + e, dMean + b);
      for (int k = 0; k < E; ++k) {
        const float* base = bases + size_t(k) * V;
        const float c = coeff[k];
        double s = 0.0;
        for (size_t i = b; i < e; ++i) s += double(base[i]) * double(dOut[i]);
        partial[size_t(k) * nb + blk] = s;
        if (dBases) {
          float* db = dBases + size_t(k) * V;
          for (size_t i = b; i < e; ++i) db[i] = c * dOut[i];
        }
      }
    }
  });
  for (int k = 0; k < E; ++k) {
    double s = 0.0;
    for (size_t blk = 0; blk < nb; ++blk) s += partial[size_t(k) * nb + blk];
    dCoeff[k] = float(s);
  }
}

}  // namespace vox
