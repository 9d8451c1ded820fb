// One ray's march through the box with empty-space skipping, shared by marchRays
// (march.cpp) and renderRays (render_rays.cpp). All arithmetic is in double with the
// exact operation order of the TS reference (kernels/reference/march.ts); the build
// uses -ffp-contract=off, so both produce the same sample counts and positions.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace vox {

// Calls emit(i, pos) for each kept sample (pos: double[3]); returns the number kept.
// missUnbounded: a ray whose exit is at infinity (a zero or NaN direction inside the
// box, which would repeat one point up to maxSamples times) is a miss (renderRays);
// marchRays keeps the reference's behaviour.
template <typename Emit>
int32_t march_ray(const float* o3, const float* d3, const MarchParams& p, Emit&& emit, bool missUnbounded = false) {
  double o[3] = {o3[0], o3[1], o3[2]}, d[3] = {d3[0], d3[1], d3[2]};
  double tNear = 0.0, tFar = INFINITY;
  for (int a = 0; a < 3; ++a) {
    const double mn = p.boxMin[a], mx = p.boxMax[a];
    if (d[a] == 0.0) {
      if (o[a] < mn || o[a] > mx) return 0;  // parallel to the slab and outside it
      continue;
    }
    double t0 = (mn - o[a]) / d[a], t1 = (mx - o[a]) / d[a];
    if (t0 > t1) { double tmp = t0; t0 = t1; t1 = tmp; }
    if (t0 > tNear) tNear = t0;
    if (t1 < tFar) tFar = t1;
  }
  if (!(tNear < tFar)) return 0;  // miss (also catches NaN)
  if (missUnbounded && !std::isfinite(tFar)) return 0;
  const int G = p.G;
  int32_t count = 0;
  for (double k = 0.0; count < p.maxSamples; k += 1.0) {
    // Sample at cell-centred steps: t_k = tNear + (k + 0.5) * step.
    const double t = tNear + (k + 0.5) * p.step;
    if (!(t < tFar)) break;
    double pos[3];
    int cell[3];
    bool nan = false;
    for (int a = 0; a < 3; ++a) {
      const double mn = p.boxMin[a], mx = p.boxMax[a];
      pos[a] = o[a] + t * d[a];
      double c = std::floor((pos[a] - mn) / (mx - mn) * double(G));
      nan = nan || c != c;
      cell[a] = c < 0.0 ? 0 : (c > double(G - 1) ? G - 1 : int(c));
    }
    // A NaN coordinate (a NaN origin or direction component) has no cell: skipped, as the
    // reference's occupancy[NaN] lookup is, instead of indexing with int(NaN).
    if (nan || !p.occupancy[(size_t(cell[2]) * G + size_t(cell[1])) * G + size_t(cell[0])]) continue;
    emit(count, pos);
    ++count;
  }
  return count;
}

}  // namespace vox
