// Fused dense layer y = act(x W^T + b) and its backward, on one small GEMM:
// C[M,N] (+)= A[M,K] * B[K,N] with B packed into zero-padded panels of 16 columns.
// The micro-kernel keeps a 6x16 tile of C in 12 vector registers (GCC vector
// extensions: AVX2+FMA when built with them, two SSE ops per vector otherwise) and
// streams one packed B panel (K x 16, L1-resident) per A row block. Threads split
// rows of C; every output element is summed in the same order for any thread count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels.h"
#include "pool.h"

namespace vox {
namespace {

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));  // unaligned loads/stores

constexpr int NR = 16;   // columns per packed panel (two vectors)
constexpr int MR = 6;    // rows per micro-tile: 12 accumulators + 2 B vectors + 1 broadcast
constexpr int KC = 256;  // K block: a 16 KB panel slice stays in L1 across the row loop

inline v8 fmadd(v8 a, v8 b, v8 c) {
#if defined(__FMA__)
  return (v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;  // the build uses -ffp-contract=off, so this is mul then add
#endif
}
inline v8 splat(float x) { return v8{x, x, x, x, x, x, x, x}; }

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buf = std::unique_ptr<float, AlignedFree>;
Buf alloc(size_t n) {
  size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (!p) throw std::bad_alloc();
  return Buf(static_cast<float*>(p));
}

size_t panels(int N) { return size_t((N + NR - 1) / NR); }

// Packs B[K,N] (row-major, leading dim ldb) as panels [P][K][16]; transposed=true reads
// B[k][n] from src[n*ldb + k] (i.e. packs W^T straight from W [Out,In]).
Buf pack_b(const float* src, size_t K, int N, size_t ldb, bool transposed) {
  size_t P = panels(N);
  Buf buf = alloc(P * K * NR);
  float* dst = buf.get();
  parallel_for(P, 1, [&](size_t pb, size_t pe) {
    for (size_t p = pb; p < pe; ++p) {
      float* d = dst + p * K * NR;
      for (size_t k = 0; k < K; ++k)
        for (int j = 0; j < NR; ++j) {
          size_t n = p * NR + size_t(j);
          d[k * NR + j] = n < size_t(N) ? (transposed ? src[n * ldb + k] : src[k * ldb + n]) : 0.f;
        }
    }
  });
  return buf;
}

// C tile [rows<=MR, cols<=16] (+)= A[rows, kc] * Bpanel[kc, 16].
template <int R>
void micro(size_t kc, const float* A, size_t lda, const float* Bp, float* C, size_t ldc, int cols,
           bool accumulate) {
  v8 acc[R][2];
  if (accumulate && cols == NR) {
    for (int r = 0; r < R; ++r) {
      acc[r][0] = *(const v8u*)(C + r * ldc);
      acc[r][1] = *(const v8u*)(C + r * ldc + 8);
    }
  } else {
    for (int r = 0; r < R; ++r) {
      float tmp[NR] = {};
      if (accumulate) std::memcpy(tmp, C + r * ldc, sizeof(float) * size_t(cols));
      acc[r][0] = *(const v8u*)tmp;
      acc[r][1] = *(const v8u*)(tmp + 8);
    }
  }
  for (size_t k = 0; k < kc; ++k) {
    v8 b0 = *(const v8*)(Bp + k * NR), b1 = *(const v8*)(Bp + k * NR + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      v8 a = splat(A[r * lda + k]);
      acc[r][0] = fmadd(a, b0, acc[r][0]);
      acc[r][1] = fmadd(a, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    if (cols == NR) {
      *(v8u*)(C + r * ldc) = acc[r][0];
      *(v8u*)(C + r * ldc + 8) = acc[r][1];
    } else {
      float tmp[NR];
      *(v8u*)tmp = acc[r][0];
      *(v8u*)(tmp + 8) = acc[r][1];
      std::memcpy(C + r * ldc, tmp, sizeof(float) * size_t(cols));
    }
  }
}

typedef void (*MicroFn)(size_t, const float*, size_t, const float*, float*, size_t, int, bool);
constexpr MicroFn kMicro[MR + 1] = {nullptr, micro<1>, micro<2>, micro<3>, micro<4>, micro<5>, micro<6>};

// Serial GEMM over rows [m0, m1) of C: C = A * B (accumulate=false) or C += A * B.
void gemm_rows(size_t m0, size_t m1, int N, size_t K, const float* A, size_t lda, const float* Bp,
               float* C, size_t ldc, bool accumulate) {
  constexpr size_t MC = 96;  // rows of A per block (MC x KC floats ~ 96 KB, L2-resident)
  const size_t P = panels(N);
  for (size_t mb = m0; mb < m1; mb += MC) {
    size_t me = std::min(m1, mb + MC);
    for (size_t k0 = 0; k0 < K; k0 += KC) {
      size_t kc = std::min(K - k0, size_t(KC));
      bool acc = accumulate || k0 > 0;
      for (size_t p = 0; p < P; ++p) {
        const float* Bpanel = Bp + p * K * NR + k0 * NR;
        int cols = std::min(NR, N - int(p) * NR);
        for (size_t m = mb; m < me; m += MR) {
          int rows = int(std::min(size_t(MR), me - m));
          kMicro[rows](kc, A + m * lda + k0, lda, Bpanel, C + m * ldc + p * NR, ldc, cols, acc);
        }
      }
    }
  }
  if (K == 0 && !accumulate)
    for (size_t m = m0; m < m1; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0.f);
}

// Grain so that each thread gets a few row blocks but tiny problems stay serial.
size_t row_grain(size_t work_per_row) {
  size_t g = 32768 / std::max<size_t>(work_per_row, 1);
  return std::max<size_t>(MR, (g / MR) * MR);
}

// Calls fn(back, activation) with the activation's functions as distinct lambda types,
// so each loop over elements is compiled for one activation. back(y, dY) is dY * act'(z)
// from the output y. The relu forms are written
// as selects, not branches: a relu's sign is a coin toss per element, and the branchy
// form of the backward's dZ loop mispredicted at ~7 ns an element (5 ms of an 11 ms
// backward at N = 31k, Out = 64).
template <typename F>
void with_act(Act act, F&& fn) {
  switch (act) {
    case Act::Relu:
      return fn([](float y, float d) { return y > 0.f ? d : 0.f; }, [](float z) { return z > 0.f ? z : 0.f; });
    case Act::LeakyRelu:
      return fn([](float y, float d) { return y > 0.f ? d : 0.01f * d; }, [](float z) { return z > 0.f ? z : 0.01f * z; });
    case Act::Sigmoid:
      return fn([](float y, float d) { return d * (y * (1.f - y)); }, [](float z) { return 1.f / (1.f + std::exp(-z)); });
    default: return fn([](float, float d) { return d; }, [](float z) { return z; });
  }
}

}  // namespace

void dense(const float* x, const float* W, const float* b, size_t N, int In, int Out, Act act,
           float* y) {
  Buf Bp = pack_b(W, size_t(In), Out, size_t(In), /*transposed=*/true);
  parallel_for(N, row_grain(size_t(In) * size_t(Out)), [&](size_t m0, size_t m1) {
    gemm_rows(m0, m1, Out, size_t(In), x, size_t(In), Bp.get(), y, size_t(Out), false);
    with_act(act, [&](auto, auto activation) {
      for (size_t m = m0; m < m1; ++m) {
        float* row = y + m * size_t(Out);
        for (int o = 0; o < Out; ++o) row[o] = activation(row[o] + b[o]);
      }
    });
  });
}

// Rows of x per weight-gradient chunk. The chunking is fixed (not per thread), and the
// chunks' partial sums are added in chunk order, so dW and dB are the same for any
// thread count.
constexpr size_t kGradChunk = 2048;

void dense_backward(const float* x, const float* W, const float* y, const float* dY, size_t N,
                    int In, int Out, Act act, float* dX, float* dW, float* dB) {
  const size_t out = size_t(Out), in = size_t(In);
  Buf dZ = alloc(N * out);  // dY * act'(y), [N, Out]
  // One loop per activation: with the switch inside, this loop took 40% of the backward.
  parallel_for(N, 4096, [&](size_t m0, size_t m1) {
    with_act(act, [&](auto back, auto) {
      float* __restrict z = dZ.get();
      const float* __restrict dy = dY;
      const float* __restrict yy = y;
      for (size_t i = m0 * out, e = m1 * out; i < e; ++i) z[i] = back(yy[i], dy[i]);
    });
  });
  if (dX) {
    // dX[N,In] = dZ[N,Out] * W[Out,In]
    Buf Bw = pack_b(W, out, In, in, false);
    parallel_for(N, row_grain(in * out), [&](size_t m0, size_t m1) {
      gemm_rows(m0, m1, In, out, dZ.get(), out, Bw.get(), dX, in, false);
    });
  }
  // dW[Out,In] = dZ^T x, one partial per chunk of rows. Each chunk transposes its slice of
  // dZ and packs its slice of x in cache (KC rows at a time), so x and dZ are read once:
  // the whole-matrix transpose and pack this replaces read x once per 6 rows of dW and
  // made the backward 7x the forward (57 ms against 14 at N = 31k, In = 186, Out = 32).
  const size_t chunks = (N + kGradChunk - 1) / kGradChunk, P = panels(In);
  Buf partW = alloc(std::max<size_t>(chunks, 1) * out * in), partB = alloc(std::max<size_t>(chunks, 1) * out);
  parallel_for(chunks, 1, [&](size_t c0, size_t c1) {
    Buf At = alloc(out * KC), Bp = alloc(P * KC * NR);
    for (size_t c = c0; c < c1; ++c) {
      const size_t n0 = c * kGradChunk, n1 = std::min(N, n0 + kGradChunk);
      float* Cw = partW.get() + c * out * in;
      float* Cb = partB.get() + c * out;
      std::fill(Cb, Cb + out, 0.f);
      for (size_t k0 = n0; k0 < n1; k0 += KC) {
        const size_t kc = std::min(n1 - k0, size_t(KC));
        for (size_t k = 0; k < kc; ++k) {
          const float* z = dZ.get() + (k0 + k) * out;
          for (size_t o = 0; o < out; ++o) {
            At.get()[o * kc + k] = z[o];
            Cb[o] += z[o];
          }
        }
        for (size_t k = 0; k < kc; ++k) {
          const float* row = x + (k0 + k) * in;
          for (size_t p = 0; p < P; ++p) {
            float* d = Bp.get() + (p * kc + k) * NR;
            const size_t i0 = p * NR, n = std::min(size_t(NR), in - i0);
            std::memcpy(d, row + i0, n * sizeof(float));
            if (n < size_t(NR)) std::fill(d + n, d + NR, 0.f);
          }
        }
        for (size_t p = 0; p < P; ++p) {
          int cols = std::min(NR, In - int(p) * NR);
          for (size_t m = 0; m < out; m += MR) {
            int rows = int(std::min(size_t(MR), out - m));
            kMicro[rows](kc, At.get() + m * kc, kc, Bp.get() + p * kc * NR, Cw + m * in + p * NR, in, cols,
                         k0 > n0);
          }
        }
      }
    }
  });
  parallel_for(out * in, 4096, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      float s = 0.f;
      for (size_t c = 0; c < chunks; ++c) s += partW.get()[c * out * in + i];
      dW[i] = s;
    }
  });
  for (size_t o = 0; o < out; ++o) {
    float s = 0.f;
    for (size_t c = 0; c < chunks; ++c) s += partB.get()[c * out + o];
    dB[o] = s;
  }
}

}  // namespace vox
