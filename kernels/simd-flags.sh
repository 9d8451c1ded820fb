#!/bin/sh
# Prints the SIMD flags for this machine, read by binding.gyp at configure time.
# We build on the machine that runs the kernels (scripts/setup.sh), so we enable
# AVX2+FMA only when the CPU reports both, and AVX-512F (512-bit head tiles in the
# inference ops: infer_math.h) only when it also reports that; otherwise we stay on the
# x86-64 baseline (SSE2). -march=native is avoided on purpose: it would tune for one
# CPU model and pull in every extension. The build hash (scripts/build-kernels.sh)
# includes this output, so a copied build dir is rebuilt on a CPU with different flags.
# VOXFACE_SIMD=baseline forces the baseline build, VOXFACE_SIMD=avx2 caps it at AVX2.
has() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }
mode=${VOXFACE_SIMD:-auto}
if [ "$mode" != baseline ] && has avx2 && has fma; then
  if [ "$mode" != avx2 ] && has avx512f; then
    echo "-mavx2 -mfma -mavx512f"
  else
    echo "-mavx2 -mfma"
  fi
else
  echo "-msse2"
fi
