// Ray marching through an axis-aligned box with empty-space skipping.
// All arithmetic is in double with the exact operation order of the TS reference
// (kernels/reference/march.ts) and the build uses -ffp-contract=off, so both produce
// the same sample counts and positions (x86-64 double arithmetic is IEEE, like JS).
#include <cmath>

#include "kernels.h"
#include "march_ray.h"
#include "pool.h"

namespace vox {

void march_count(const float* origins, const float* dirs, size_t R, const MarchParams& p,
                 int32_t* count) {
  parallel_for(R, 64, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r)
      count[r] = march_ray(origins + 3 * r, dirs + 3 * r, p, [](int32_t, const double*) {});
  });
}

void march_fill(const float* origins, const float* dirs, size_t R, const MarchParams& p,
                const int32_t* offsets, float* positions, float* deltas) {
  const float step = float(p.step);
  parallel_for(R, 64, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r) {
      const size_t base = size_t(offsets[r]);
      march_ray(origins + 3 * r, dirs + 3 * r, p, [&](int32_t i, const double* pos) {
        size_t s = base + size_t(i);
        positions[3 * s] = float(pos[0]);
        positions[3 * s + 1] = float(pos[1]);
        positions[3 * s + 2] = float(pos[2]);
        deltas[s] = step;
      });
    }
  });
}

}  // namespace vox
