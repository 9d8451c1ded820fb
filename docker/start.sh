#!/bin/sh
# The image's command (tini runs it as its child; `exec` makes node that child, so
# tini's SIGTERM reaches the server, which stops its trainers with a checkpoint).
#
# Before starting the server it:
# - refuses a CPU without the SIMD level the kernels were built for
#   (kernels/build/Release/simd-level, written by docker/build-layout.sh): the
#   alternative is a SIGILL in the middle of the first render or training job;
# - reads VOXFACE_SECRET from the file named by VOXFACE_SECRET_FILE (a Docker or
#   compose secret under /run/secrets), so the secret stays out of `docker inspect`.
set -eu
app="$(cd "$(dirname "$0")/.." && pwd)"

level="$(cat "$app/kernels/build/Release/simd-level" 2>/dev/null || echo unknown)"
cpuinfo="${VOXFACE_CPUINFO:-/proc/cpuinfo}" # a test points this at a fake CPU
case "$level" in
	avx2)
		for flag in avx2 fma; do
			if ! grep -qw "$flag" "$cpuinfo"; then
				echo "voxface: this image's kernels need AVX2 and FMA (x86-64-v3) and this CPU lacks '$flag'; build the image with --build-arg VOXFACE_SIMD=baseline" >&2
				exit 1
			fi
		done ;;
	baseline) ;;
	*) echo "voxface: $app/kernels/build/Release/simd-level is missing or unknown ('$level'): the image was not built by docker/build-layout.sh" >&2; exit 1 ;;
esac

if [ -n "${VOXFACE_SECRET_FILE:-}" ]; then
	if [ ! -r "$VOXFACE_SECRET_FILE" ]; then
		echo "voxface: VOXFACE_SECRET_FILE=$VOXFACE_SECRET_FILE cannot be read" >&2
		exit 1
	fi
	VOXFACE_SECRET="$(cat "$VOXFACE_SECRET_FILE")"
	export VOXFACE_SECRET
fi

cd "$app"
exec node --import tsx server/main.ts "$@"
