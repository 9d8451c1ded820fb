// Losses (mean-reduced, with deterministic block reductions in double) and Adam.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace vox {
namespace {

template <typename F>
double block_sum(size_t N, F&& term) {
  const size_t nb = (N + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(nb, 0.0);
  parallel_for(nb, 4, [&](size_t bb, size_t be) {
    for (size_t blk = bb; blk < be; ++blk) {
      size_t b = blk * kReduceBlock, e = std::min(N, b + kReduceBlock);
      double s = 0.0;
      for (size_t i = b; i < e; ++i) s += term(i);
      partial[blk] = s;
    }
  });
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

}  // namespace

double l1_loss(const float* a, const float* b, size_t N) {
  if (N == 0) return 0.0;
  return block_sum(N, [&](size_t i) { return std::fabs(double(a[i]) - double(b[i])); }) / double(N);
}

void l1_loss_backward(const float* a, const float* b, size_t N, float dLoss, float* dA) {
  const float g = N == 0 ? 0.f : float(double(dLoss) / double(N));
  parallel_for(N, 16384, [&](size_t s, size_t e) {
    for (size_t i = s; i < e; ++i) dA[i] = a[i] > b[i] ? g : (a[i] < b[i] ? -g : 0.f);
  });
}

double mean_square(const float* x, size_t N) {
  if (N == 0) return 0.0;
  return block_sum(N, [&](size_t i) { return double(x[i]) * double(x[i]); }) / double(N);
}

void mean_square_backward(const float* x, size_t N, float dValue, float* dX) {
  const float g = N == 0 ? 0.f : float(2.0 * double(dValue) / double(N));
  parallel_for(N, 16384, [&](size_t s, size_t e) {
    for (size_t i = s; i < e; ++i) dX[i] = g * x[i];
  });
}

// Adam with bias correction folded into the step size:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
// masked: an element whose grad is exactly 0 is left alone (param, m and v), the
// DirectVoxGO-style sparse update for voxels no sample touched this step; the bias
// correction still uses the global step t.
void adam_step(float* param, const float* grad, float* m, float* v, size_t N, const AdamParams& p,
               bool masked) {
  const float bc1 = float(1.0 - std::pow(p.beta1, p.step));
  const float bc2 = float(1.0 - std::pow(p.beta2, p.step));
  // 1 - beta in double before rounding: 1.f - 0.999f is off by 1.3e-5 relative.
  const float b1 = float(p.beta1), b2 = float(p.beta2), lr = float(p.lr), eps = float(p.eps);
  const float c1 = float(1.0 - p.beta1), c2 = float(1.0 - p.beta2);
  // Branch-free, so the compiler vectorises it (with -fno-math-errno for the sqrt): the
  // skip of a masked element is a select of its old values. With the skip as a `continue`
  // each element took three scalar divisions and a square root, about 8% of a training
  // step. Every lane computes what the scalar code did, so the floats are the same.
  // Copies (restrict pointers, constants by value): through the lambda's references the
  // stores could alias the constants, which stops the vectoriser.
  parallel_for(N, 16384, [=](size_t s, size_t e) {
    float* __restrict P = param;
    float* __restrict M = m;
    float* __restrict V = v;
    const float* __restrict G = grad;
    for (size_t i = s; i < e; ++i) {
      const float g = G[i], m0 = M[i], v0 = V[i], p0 = P[i];
      const float mi = b1 * m0 + c1 * g;
      const float vi = b2 * v0 + c2 * g * g;
      const float pi = p0 - lr * (mi / bc1) / (std::sqrt(vi / bc2) + eps);
      const bool keep = masked && g == 0.f;
      M[i] = keep ? m0 : mi;
      V[i] = keep ? v0 : vi;
      P[i] = keep ? p0 : pi;
    }
  });
}

}  // namespace vox
