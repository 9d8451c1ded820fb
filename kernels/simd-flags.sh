#!/bin/sh
# Prints the SIMD flags for this machine, read by binding.gyp at configure time.
# We build on the machine that runs the kernels (scripts/setup.sh), so we enable
# AVX2+FMA only when the CPU reports both; otherwise we stay on the x86-64 baseline
# (SSE2), which every machine of our kind runs. -march=native is avoided on purpose:
# it would also pull in AVX-512 and tune for one CPU model, and the build hash
# (scripts/build-kernels.sh) includes this output so a copied build dir is rebuilt
# on a CPU with different flags. VOXFACE_SIMD=baseline forces the baseline build.
if [ "${VOXFACE_SIMD:-auto}" != baseline ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
  echo "-mavx2 -mfma"
else
  echo "-msse2"
fi
