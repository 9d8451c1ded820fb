// Trilinear sampling of a channel-last grid, PyTorch grid_sample 3D semantics
// (align_corners=false, zero padding), on the strided sub-grid grid[::s, ::s, ::s]
// so that AvatarMAV's multi-distance lookups (33/17/9) share one parameter grid.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace vox {
namespace {

// Geometry of the strided view: size per axis and element strides into the full grid.
struct View {
  int Ds, Hs, Ws, C;
  size_t sz, sy, sx;  // element offsets of one strided step along z, y, x
};

View make_view(int D, int H, int W, int C, int s) {
  View v;
  v.Ds = (D - 1) / s + 1;  // == len(range(0, D, s))
  v.Hs = (H - 1) / s + 1;
  v.Ws = (W - 1) / s + 1;
  v.C = C;
  v.sx = size_t(s) * C;
  v.sy = size_t(s) * W * C;
  v.sz = size_t(s) * H * W * C;
  return v;
}

// One axis: unnormalise (align_corners=false), split into integer corner + fraction.
// Coordinates are clamped to [-2, size+1] first: that keeps every corner of a far-away
// (or NaN) point out of range, so it reads zeros, and keeps floor() inside int range.
struct Axis {
  int i0;
  float f;      // weight of corner i0+1
  bool in0, in1;
};
inline Axis axis(float g, int size) {
  float u = ((g + 1.f) * float(size) - 1.f) * 0.5f;
  u = std::fmin(std::fmax(u, -2.f), float(size) + 1.f);  // fmax(NaN, -2) = -2
  float fl = std::floor(u);
  Axis a;
  a.i0 = int(fl);
  a.f = u - fl;
  a.in0 = a.i0 >= 0 && a.i0 < size;
  a.in1 = a.i0 + 1 >= 0 && a.i0 + 1 < size;
  return a;
}

}  // namespace

void grid_sample3d(const float* grid, int D, int H, int W, int C, const float* points, size_t N,
                   int stride, float* out) {
  const View v = make_view(D, H, W, C, stride);
  // The in-range corners (up to 8) first, then each channel summed over them in a
  // register. Summed into out[] corner by corner, each add waited on the store before it,
  // since out may alias the grid (the render's motion bake had the same chain:
  // infer_math.h, trilinear_c). The corners are added in the same order, so the floats
  // are the same.
  parallel_for(N, 1024, [&](size_t b, size_t e) {
    const float* corner[8];
    float weight[8];
    for (size_t n = b; n < e; ++n) {
      const float* p = points + 3 * n;
      Axis ax = axis(p[0], v.Ws), ay = axis(p[1], v.Hs), az = axis(p[2], v.Ds);
      int k = 0;
      for (int dz = 0; dz < 2; ++dz) {
        if (!(dz ? az.in1 : az.in0)) continue;
        float wz = dz ? az.f : 1.f - az.f;
        for (int dy = 0; dy < 2; ++dy) {
          if (!(dy ? ay.in1 : ay.in0)) continue;
          float wzy = wz * (dy ? ay.f : 1.f - ay.f);
          const float* row = grid + size_t(az.i0 + dz) * v.sz + size_t(ay.i0 + dy) * v.sy;
          for (int dx = 0; dx < 2; ++dx) {
            if (!(dx ? ax.in1 : ax.in0)) continue;
            weight[k] = wzy * (dx ? ax.f : 1.f - ax.f);
            corner[k++] = row + size_t(ax.i0 + dx) * v.sx;
          }
        }
      }
      float* o = out + n * C;
      for (int c = 0; c < C; ++c) {
        float acc = 0.f;
        for (int j = 0; j < k; ++j) acc += weight[j] * corner[j][c];
        o[c] = acc;
      }
    }
  });
}

void grid_sample3d_backward(const float* grid, int D, int H, int W, int C, const float* points,
                            size_t N, int stride, const float* dOut, float* dGrid,
                            float* dPoints) {
  const View v = make_view(D, H, W, C, stride);
  if (dGrid) {
    // Deterministic scatter without atomics or per-thread grid copies: threads own
    // disjoint ranges of (strided) z-planes and each walks all points, writing only the
    // corners in its planes. Every cell therefore receives its contributions in point
    // order, so dGrid is bit-identical for any thread count. The price is that each
    // thread recomputes the point coordinates (cheap next to the scatter).
    parallel_for(size_t(v.Ds), 1, [&](size_t zb, size_t ze) {
      const int z_lo = int(zb), z_hi = int(ze);
      for (size_t n = 0; n < N; ++n) {
        const float* p = points + 3 * n;
        Axis az = axis(p[2], v.Ds);
        if (az.i0 + 1 < z_lo || az.i0 >= z_hi) continue;
        Axis ax = axis(p[0], v.Ws), ay = axis(p[1], v.Hs);
        const float* go = dOut + n * C;
        for (int dz = 0; dz < 2; ++dz) {
          int z = az.i0 + dz;
          if (z < z_lo || z >= z_hi || !(dz ? az.in1 : az.in0)) continue;
          float wz = dz ? az.f : 1.f - az.f;
          for (int dy = 0; dy < 2; ++dy) {
            if (!(dy ? ay.in1 : ay.in0)) continue;
            float wzy = wz * (dy ? ay.f : 1.f - ay.f);
            float* row = dGrid + size_t(z) * v.sz + size_t(ay.i0 + dy) * v.sy;
            for (int dx = 0; dx < 2; ++dx) {
              if (!(dx ? ax.in1 : ax.in0)) continue;
              float w = wzy * (dx ? ax.f : 1.f - ax.f);
              float* g = row + size_t(ax.i0 + dx) * v.sx;
              for (int c = 0; c < C; ++c) g[c] += w * go[c];
            }
          }
        }
      }
    });
  }
  if (dPoints) {
    // d out / d u_axis is a difference of corner values; du/dg = size/2 per axis.
    const float hx = 0.5f * float(v.Ws), hy = 0.5f * float(v.Hs), hz = 0.5f * float(v.Ds);
    parallel_for(N, 1024, [&](size_t b, size_t e) {
      for (size_t n = b; n < e; ++n) {
        const float* p = points + 3 * n;
        Axis ax = axis(p[0], v.Ws), ay = axis(p[1], v.Hs), az = axis(p[2], v.Ds);
        // Clamped (out-of-range) coordinates have zero derivative, as in PyTorch where
        // all eight corners read zero padding.
        const float* go = dOut + n * C;
        float gx = 0.f, gy = 0.f, gz = 0.f;
        for (int dz = 0; dz < 2; ++dz) {
          if (!(dz ? az.in1 : az.in0)) continue;
          float wz = dz ? az.f : 1.f - az.f, sz = dz ? 1.f : -1.f;
          for (int dy = 0; dy < 2; ++dy) {
            if (!(dy ? ay.in1 : ay.in0)) continue;
            float wy = dy ? ay.f : 1.f - ay.f, sy = dy ? 1.f : -1.f;
            const float* row = grid + size_t(az.i0 + dz) * v.sz + size_t(ay.i0 + dy) * v.sy;
            for (int dx = 0; dx < 2; ++dx) {
              if (!(dx ? ax.in1 : ax.in0)) continue;
              float wx = dx ? ax.f : 1.f - ax.f, sx = dx ? 1.f : -1.f;
              const float* g = row + size_t(ax.i0 + dx) * v.sx;
              float dot = 0.f;
              for (int c = 0; c < C; ++c) dot += g[c] * go[c];
              gx += sx * wy * wz * dot;
              gy += sy * wx * wz * dot;
              gz += sz * wx * wy * dot;
            }
          }
        }
        dPoints[3 * n] = gx * hx;
        dPoints[3 * n + 1] = gy * hy;
        dPoints[3 * n + 2] = gz * hz;
      }
    });
  }
}

}  // namespace vox
