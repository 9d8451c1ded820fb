// Volume-rendering compositing per ray (NeRF quadrature) with early termination.
// Forward keeps color, final transmittance and the number of samples used; backward
// recomputes T_i and w_i front to back and gets the "light behind sample i" suffix
// sum from the forward color (suffix_i = color - prefix_i), so it is O(S) per ray and
// needs no per-sample buffer from the forward pass.
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace vox {

void composite(const float* sigma, const float* rgb, const float* delta, const int32_t* offsets,
               size_t R, const float* bg, float tEps, float* color, float* transmittance,
               int32_t* used) {
  parallel_for(R, 256, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r) {
      const int32_t s0 = offsets[r], s1 = offsets[r + 1];
      float T = 1.f, c0 = 0.f, c1 = 0.f, c2 = 0.f;
      int32_t i = s0;
      for (; i < s1; ++i) {
        if (T < tEps) break;  // what is behind contributes < tEps: stop here
        float s = sigma[i] > 0.f ? sigma[i] : 0.f;
        float trans = std::exp(-s * delta[i]);
        float w = T * (1.f - trans);
        c0 += w * rgb[3 * i];
        c1 += w * rgb[3 * i + 1];
        c2 += w * rgb[3 * i + 2];
        T *= trans;
      }
      color[3 * r] = c0 + T * bg[0];
      color[3 * r + 1] = c1 + T * bg[1];
      color[3 * r + 2] = c2 + T * bg[2];
      transmittance[r] = T;
      used[r] = i - s0;
    }
  });
}

// With s_k = relu(sigma_k):  dC/ds_k = delta_k * (T_{k+1} c_k - sum_{i>k} w_i c_i - T_end bg)
//                                    = delta_k * (T_{k+1} c_k - (C - prefix_k)),
// prefix_k = sum_{i<=k} w_i c_i; dC/dc_k = w_k. Unused samples get zero gradients.
void composite_backward(const float* sigma, const float* rgb, const float* delta,
                        const int32_t* offsets, size_t R, const float* color, const int32_t* used,
                        const float* dColor, float* dSigma, float* dRgb) {
  parallel_for(R, 256, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r) {
      const int32_t s0 = offsets[r], s1 = offsets[r + 1], se = s0 + used[r];
      const float g0 = dColor[3 * r], g1 = dColor[3 * r + 1], g2 = dColor[3 * r + 2];
      const float gC = g0 * color[3 * r] + g1 * color[3 * r + 1] + g2 * color[3 * r + 2];
      float T = 1.f, prefix = 0.f;  // prefix = g . sum_{i<=k} w_i c_i
      for (int32_t i = s0; i < se; ++i) {
        float s = sigma[i] > 0.f ? sigma[i] : 0.f;
        float trans = std::exp(-s * delta[i]);
        float w = T * (1.f - trans);
        float gc = g0 * rgb[3 * i] + g1 * rgb[3 * i + 1] + g2 * rgb[3 * i + 2];
        prefix += w * gc;
        T *= trans;
        dSigma[i] = sigma[i] > 0.f ? delta[i] * (T * gc - (gC - prefix)) : 0.f;
        dRgb[3 * i] = w * g0;
        dRgb[3 * i + 1] = w * g1;
        dRgb[3 * i + 2] = w * g2;
      }
      for (int32_t i = se; i < s1; ++i) {
        dSigma[i] = 0.f;
        dRgb[3 * i] = dRgb[3 * i + 1] = dRgb[3 * i + 2] = 0.f;
      }
    }
  });
}

}  // namespace vox
