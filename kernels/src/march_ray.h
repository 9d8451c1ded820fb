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

// One ray's march, resumable: begin() finds the box's entry and exit, next() keeps up to
// `want` more samples. renderRays marches a chunk at a time and stops when the ray has
// terminated (on LIVE's 640x360 frames about half the kept samples lie beyond the
// termination, 92k of 173k a frame); marchRays takes them all at once (march_ray).
struct RayMarch {
  double o[3], d[3];
  double tNear = 0.0, tFar = INFINITY;
  double k = 0.0;     // the next step to look at
  int32_t count = 0;  // samples kept so far

  // False for a miss. missUnbounded: a ray whose exit is at infinity (a zero or NaN
  // direction inside the box, which would repeat one point up to maxSamples times) is a
  // miss (renderRays); marchRays keeps the reference's behaviour.
  bool begin(const float* o3, const float* d3, const MarchParams& p, bool missUnbounded) {
    for (int a = 0; a < 3; ++a) {
      o[a] = o3[a];
      d[a] = d3[a];
    }
    tNear = 0.0;
    tFar = INFINITY;
    k = 0.0;
    count = 0;
    for (int a = 0; a < 3; ++a) {
      const double mn = p.boxMin[a], mx = p.boxMax[a];
      if (d[a] == 0.0) {
        if (o[a] < mn || o[a] > mx) return false;  // parallel to the slab and outside it
        continue;
      }
      double t0 = (mn - o[a]) / d[a], t1 = (mx - o[a]) / d[a];
      if (t0 > t1) { double tmp = t0; t0 = t1; t1 = tmp; }
      if (t0 > tNear) tNear = t0;
      if (t1 < tFar) tFar = t1;
    }
    if (!(tNear < tFar)) return false;  // miss (also catches NaN)
    if (missUnbounded && !std::isfinite(tFar)) return false;
    return true;
  }

  // Calls emit(i, pos) for up to `want` more kept samples (i counts from 0 in this call;
  // pos: double[3]) and returns how many; fewer than `want` only at the ray's end.
  template <typename Emit>
  int32_t next(const MarchParams& p, int32_t want, Emit&& emit) {
    const int G = p.G;
    int32_t kept = 0;
    for (; kept < want && count < p.maxSamples; k += 1.0) {
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
      emit(kept, pos);
      ++kept;
      ++count;
    }
    return kept;
  }
};

// The whole march at once: calls emit(i, pos) for each kept sample; returns the number kept.
template <typename Emit>
int32_t march_ray(const float* o3, const float* d3, const MarchParams& p, Emit&& emit, bool missUnbounded = false) {
  RayMarch m;
  if (!m.begin(o3, d3, p, missUnbounded)) return 0;
  return m.next(p, p.maxSamples, emit);
}

}  // namespace vox
