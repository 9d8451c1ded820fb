// Raw-pointer kernels: no N-API or framework types here, so the same code can be
// reused from a C++ test or another binding. Callers (binding.cpp) validate shapes;
// these functions trust them. All layouts are channel-last and row-major.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vox {

// ---- gridSample3d: grid [D,H,W,C], points [N,3] in [-1,1]^3 (x->W, y->H, z->D),
// sampling the sub-grid grid[::s, ::s, ::s]; align_corners=false, zero padding.
void grid_sample3d(const float* grid, int D, int H, int W, int C, const float* points, size_t N,
                   int stride, float* out /* [N,C] */);
// dGrid is accumulated into (+=); dPoints is overwritten. Either may be null.
void grid_sample3d_backward(const float* grid, int D, int H, int W, int C, const float* points,
                            size_t N, int stride, const float* dOut, float* dGrid, float* dPoints);

// ---- dense: y = act(x W^T + b); x [N,In], W [Out,In], b [Out], y [N,Out].
enum class Act : int { None = 0, Relu = 1, LeakyRelu = 2, Sigmoid = 3 };
void dense(const float* x, const float* W, const float* b, size_t N, int In, int Out, Act act,
           float* y);
// dX may be null (first layer). dX [N,In], dW [Out,In], dB [Out] are overwritten.
void dense_backward(const float* x, const float* W, const float* y, const float* dY, size_t N,
                    int In, int Out, Act act, float* dX, float* dW, float* dB);

// ---- composite: per-ray alpha compositing with early termination.
void composite(const float* sigma, const float* rgb, const float* delta, const int32_t* offsets,
               size_t R, const float* bg, float tEps, float* color, float* transmittance,
               int32_t* used);
void composite_backward(const float* sigma, const float* rgb, const float* delta,
                        const int32_t* offsets, size_t R, const float* color, const int32_t* used,
                        const float* dColor, float* dSigma, float* dRgb);

// ---- blendVolumes: out = mean + sum_e coeff[e] * bases[e]; bases [E,V].
void blend_volumes(const float* mean, const float* bases, const float* coeff, int E, size_t V,
                   float* out);
void blend_volumes_backward(const float* bases, const float* coeff, const float* dOut, int E,
                            size_t V, float* dMean, float* dBases, float* dCoeff);

// ---- marchRays: slab test + uniform steps, skipping empty occupancy cells.
struct MarchParams {
  float boxMin[3], boxMax[3];
  const uint8_t* occupancy;  // [G,G,G], z-major like the grids (index (z*G+y)*G+x)
  int G;
  double step;
  int maxSamples;
};
// Pass 1: count[r] samples per ray. Pass 2: fill positions/deltas from offsets.
void march_count(const float* origins, const float* dirs, size_t R, const MarchParams& p,
                 int32_t* count);
void march_fill(const float* origins, const float* dirs, size_t R, const MarchParams& p,
                const int32_t* offsets, float* positions, float* deltas);

// ---- losses (reductions in double, fixed block order: independent of thread count).
double l1_loss(const float* a, const float* b, size_t N);
void l1_loss_backward(const float* a, const float* b, size_t N, float dLoss, float* dA);
double mean_square(const float* x, size_t N);
void mean_square_backward(const float* x, size_t N, float dValue, float* dX);

// ---- Adam, in place. masked: elements whose grad is exactly 0 are skipped entirely.
struct AdamParams {
  double lr, beta1, beta2, eps;  // doubles as given by JS; rounded in the kernel
  double step;  // t >= 1, for bias correction
};
void adam_step(float* param, const float* grad, float* m, float* v, size_t N, const AdamParams& p,
               bool masked);

// Fixed-size blocks for deterministic reductions.
constexpr size_t kReduceBlock = 4096;

}  // namespace vox

namespace vox {

// ---- renderRays: the avatar's inference form fused per ray (no intermediate tensors).
// For each ray: slab test + uniform steps through the occupancy grid (as march_*, in
// double), then per kept sample: baked offset (trilinear in an [B,B,B,3] grid over the
// motion box, already x0.1), appearance at the moved point (strides 1/2/4, C channels),
// sin/cos encoding, density head (relu hidden, linear out), compositing with early
// termination; the colour head (relu hidden over [encA, encV], sigmoid out) runs only
// on samples whose compositing weight T*alpha >= weightEps: a skipped sample's weight
// goes to the next shaded sample's colour (or the background at the end of the ray).
struct RenderRaysParams {
  MarchParams march;
  const float* offsets;  // [B,B,B,3]
  int B;
  float motionMin[3], motionMax[3];
  const float* appearance;  // [A,A,A,C]
  int A, C;
  float appMin[3], appMax[3];
  int F;                     // frequencies
  const float* densW0;       // [Hd, encA], bias folded
  const float* densB0;       // [Hd]
  const float* densW1;       // [Hd]
  float densB1;
  const float* colorW0;      // [Hc, encA + encV]
  const float* colorB0;      // [Hc]
  const float* colorW1;      // [3, Hc]
  const float* colorB1;      // [3]
  int Hd, Hc;
  float stepDensity, tEps, weightEps;
  float bg[3];
};
struct RenderRaysStats {
  int64_t samples;  // kept by the occupancy grid before termination (the march stops with the shading: == density)
  int64_t density;  // density head evaluations (up to termination, in chunks of 4)
  int64_t shaded;   // colour head evaluations
};
// color [R,3] is overwritten; so is transmittance [R] when not null (the weight each ray
// leaves to the background: T at its end plus skipped weight, 1 for a miss).
RenderRaysStats render_rays(const float* origins, const float* dirs, size_t R,
                            const RenderRaysParams& p, float* color, float* transmittance = nullptr);
// The density head's output (before the ReLU of compositing) at P canonical points
// [P,3], each taken through the same offset, appearance and encoding steps as a ray's
// samples (march, occupancy and the colour head are unused): the occupancy probes.
void density_at(const float* points, size_t P, const RenderRaysParams& p, float* sigma);

// ---- bakeMotion: the deformation offsets of one frame on a bake grid of m^3 points
// (align_corners=false centres of the motion box): motion [M,M,M,C] (the blended volume)
// at strides 1/2/4, sin/cos encoding with F octaves, hidden = leaky_relu(W0 enc + b0)
// (W0 [H, 3C(1+2F)]), offsets [m^3, 3] = 0.1 (W1 hidden + b1) (W1 [3, H]).
struct BakeMotionParams {
  const float* motion;
  int M, C, m, F;
  const float* W0;
  const float* b0;
  const float* W1;
  const float* b1;
  int H;
};
void bake_motion(const BakeMotionParams& p, float* offsets);

}  // namespace vox
