#!/usr/bin/env bash
# Builds the production layout of the Voxface server into TARGET: the build stage of
# docker/Dockerfile is exactly this script (`build-layout.sh /app`), and
# test/integration/dockerLayout.test.ts runs it into a temporary folder, so the image's
# steps are tested on machines without a Docker engine.
#
#   bash docker/build-layout.sh TARGET
#
# TARGET afterwards (the runtime stage copies it as is, to the same path):
#   package.json, bin/, server/, shared/, client/, kernels/  the app (TypeScript, run by tsx)
#   node_modules/                 npm ci from the lockfile, less what only builds need
#   kernels/build/Release/voxface_kernels.node   built here for VOXFACE_SIMD, never copied
#   kernels/build/Release/simd-level             that level (docker/start.sh checks the CPU)
#   libexec/mediasoup-worker      the worker binary, outside any data folder
#   node_modules/.voxface/mediasoup-worker-bin   its path, read by the server
#   dist/client/                  the browser bundle
#   docker/start.sh               the image's command (tini runs it)
#
# Environment:
#   VOXFACE_SIMD       avx2 (default: AVX2+FMA, the vector part of x86-64-v3) or baseline
#                      (SSE2, any x86-64). The build fails when this machine cannot build
#                      and run that level, rather than ship a different one.
#   VOXFACE_CACHE_DIR  where scripts/build-mediasoup-worker.sh caches the worker build
#                      (the test reuses ~/.cache/voxface; several minutes otherwise).
#   VOXFACE_NPM_OFFLINE=1  npm ci --offline (from the local npm cache; used by the test).
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
	echo "usage: build-layout.sh TARGET" >&2
	exit 2
fi
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
target="$(cd "$1" && pwd)"
if [ "$target" = "$src" ]; then
	echo "build-layout: TARGET must not be the source checkout" >&2
	exit 2
fi
if [ -n "$(ls -A "$target")" ]; then
	echo "build-layout: TARGET $target is not empty" >&2
	exit 2
fi

level="${VOXFACE_SIMD:-avx2}"
case "$level" in
	avx2) expected_simd="avx2+fma" ;;
	baseline) expected_simd="sse2" ;;
	*) echo "build-layout: VOXFACE_SIMD must be avx2 or baseline, got '$level'" >&2; exit 2 ;;
esac

step() { echo "build-layout: $*" >&2; }

# 1. The app's sources. An explicit list, and never kernels/build: a build from another
#    machine could carry SIMD that the target CPU lacks (or that this level excludes).
step "copying sources from $src"
(cd "$src" && tar -cf - --exclude=kernels/build --exclude=node_modules --exclude=dist \
	package.json package-lock.json .npmrc tsconfig.json bin client kernels scripts server shared docker/start.sh) \
	| tar -xf - -C "$target"
test ! -e "$target/kernels/build"

cd "$target"

# 2. npm dependencies from the lockfile (.npmrc: ignore-scripts, so mediasoup does not
#    try to build its worker here; step 3 does).
npm_args=(ci --no-audit --no-fund)
[ "${VOXFACE_NPM_OFFLINE:-}" = 1 ] && npm_args+=(--offline)
step "npm ${npm_args[*]}"
npm "${npm_args[@]}" >&2

# 3. The mediasoup worker, built (or taken from the cache) by the repository's script,
#    then copied beside the app: a data volume mounted over the cache would hide it.
step "mediasoup worker"
built_worker="$(bash scripts/build-mediasoup-worker.sh | tail -1)"
mkdir -p libexec node_modules/.voxface
cp "$built_worker" libexec/mediasoup-worker
chmod 0755 libexec/mediasoup-worker
echo "$target/libexec/mediasoup-worker" > node_modules/.voxface/mediasoup-worker-bin

# 4. The native kernels for the stated SIMD level, whatever this machine's CPU has
#    beyond it. Headers come from this Node's own prefix (no download).
node_prefix="$(node -p "require('node:path').resolve(process.execPath, '..', '..')")"
if [ -f "$node_prefix/include/node/node_api.h" ]; then
	export npm_config_nodedir="$node_prefix"
fi
step "kernels for VOXFACE_SIMD=$level"
VOXFACE_SIMD="$level" VOXFACE_KERNELS_FORCE=1 bash scripts/build-kernels.sh
kernel=kernels/build/Release/voxface_kernels.node
built_simd="$(node -p "require('./$kernel').simd()")"
if [ "$built_simd" != "$expected_simd" ]; then
	echo "build-layout: the kernels were built for '$built_simd', not '$expected_simd' (VOXFACE_SIMD=$level): this build machine's CPU lacks it (/proc/cpuinfo). Build on a CPU with AVX2 and FMA, or with VOXFACE_SIMD=baseline." >&2
	exit 1
fi
echo "$level" > kernels/build/Release/simd-level
# Only the addon, its build hash and its level are kept; objects and Makefiles go.
find kernels/build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
find kernels/build/Release -mindepth 1 ! -name voxface_kernels.node ! -name voxface_kernels.sha256 ! -name simd-level -exec rm -rf {} +

# 5. The browser client.
step "client bundle"
npm run --silent build:client >&2
test -f dist/client/index.html

# 6. What only builds need leaves the runtime: mediasoup's C++ sources (~200 MB; the
#    binary is in libexec), node-gyp, TypeScript and type declarations. tsx (and its
#    esbuild) stay: the server and its trainer and render threads run TypeScript.
step "pruning build-only files"
rm -rf node_modules/mediasoup/worker node_modules/node-gyp node_modules/.bin/node-gyp \
	node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver node_modules/@types
rm -rf scripts

step "done: $target (kernels $built_simd)"
