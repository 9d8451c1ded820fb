#!/usr/bin/env bash
# Builds the native CPU kernels (kernels/binding.gyp) into
# kernels/build/Release/voxface_kernels.node with node-gyp, skipping the build when
# nothing that goes into it changed: a hash of the sources, the gyp file, this script,
# the SIMD flags chosen for this CPU and the Node version is stored next to the output.
# VOXFACE_KERNELS_FORCE=1 rebuilds anyway.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=kernels/build/Release/voxface_kernels.node
stamp=kernels/build/Release/voxface_kernels.sha256

if ! command -v g++ >/dev/null 2>&1; then
	echo "build-kernels: g++ not found; the native kernels need a C++17 compiler (apt-get install g++ make python3)" >&2
	exit 1
fi
gyp=node_modules/.bin/node-gyp
if [ ! -x "$gyp" ]; then
	echo "build-kernels: $gyp not found; run npm ci first (node-gyp is a devDependency)" >&2
	exit 1
fi

hash="$( {
	for f in kernels/binding.gyp kernels/simd-flags.sh scripts/build-kernels.sh $(find kernels/src -type f \( -name '*.cpp' -o -name '*.h' \) | LC_ALL=C sort); do
		echo "$f"; cat "$f"
	done
	sh kernels/simd-flags.sh
	node --version
} | sha256sum | cut -d' ' -f1 )"

if [ -z "${VOXFACE_KERNELS_FORCE:-}" ] && [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
	echo "build-kernels: up to date ($out)" >&2
	exit 0
fi

echo "build-kernels: building $out (SIMD: $(sh kernels/simd-flags.sh))" >&2
rm -f "$stamp"
jobs="$(nproc 2>/dev/null || echo 2)"
# node-gyp run outside npm does not see npm's config, so pass nodedir through
# (nodedir=/usr on our machines: headers in /usr/include/node, no download needed).
nodedir="${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}"
if { [ -z "$nodedir" ] || [ "$nodedir" = undefined ] || [ "$nodedir" = null ]; } && [ -f /usr/include/node/node_api.h ]; then
	nodedir=/usr # Debian's nodejs ships its headers: never download them.
fi
gyp_args=(rebuild --directory kernels --jobs "$jobs")
if [ -n "$nodedir" ] && [ "$nodedir" != undefined ] && [ "$nodedir" != null ]; then
	gyp_args+=(--nodedir "$nodedir")
fi
"$gyp" "${gyp_args[@]}" >&2
echo "$hash" > "$stamp"
echo "build-kernels: done" >&2
