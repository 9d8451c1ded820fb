#!/usr/bin/env bash
# Builds the mediasoup 3.8.4 worker offline and caches it outside the checkout.
#
# Why this script exists: current mediasoup releases fetch meson and their
# dependencies' sources at build time, which this project's machines cannot do.
# 3.8.4 is the newest release that bundles everything; it needs three changes
# to build on Debian 12 with Python 3.11 and glibc 2.36:
#   1. gyp uses collections.MutableSet/Iterable (moved to collections.abc in 3.10).
#   2. abseil sizes an array with SIGSTKSZ, which glibc >= 2.34 makes a runtime
#      value; a header pre-included in C++ only undefines __USE_DYNAMIC_STACK_SIZE.
#   3. The bundled OpenSSL 1.1.1k is end-of-life: we link Debian's OpenSSL 3
#      (libssl-dev) through a header-less `type: none` gyp target instead.
#
# Prints the absolute path of the worker binary on its last line of stdout.
# Reuses the cached binary when the inputs (mediasoup version, this script,
# compiler and OpenSSL versions) are unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
src="$repo/node_modules/mediasoup"
if [ ! -f "$src/package.json" ]; then
	echo "build-mediasoup-worker: $src is missing; run 'npm install' first" >&2
	exit 1
fi
version="$(node -p "require('$src/package.json').version")"
cache_root="${VOXFACE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/voxface}/mediasoup-worker"
key="$( {
	echo "$version"
	cat "${BASH_SOURCE[0]}"
	c++ --version | head -1
	pkg-config --modversion openssl 2>/dev/null || openssl version
} | sha256sum | cut -c1-16)"
dest="$cache_root/$version-$key"
bin="$dest/mediasoup-worker"

if [ -x "$bin" ]; then
	echo "build-mediasoup-worker: cached $bin" >&2
	echo "$bin"
	exit 0
fi

for tool in make c++ python3; do
	command -v "$tool" >/dev/null || { echo "build-mediasoup-worker: '$tool' is required" >&2; exit 1; }
done
if [ ! -f /usr/include/openssl/ssl.h ]; then
	echo "build-mediasoup-worker: OpenSSL headers missing (apt-get install libssl-dev)" >&2
	exit 1
fi

mkdir -p "$cache_root"
work="$(mktemp -d "$cache_root/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -a "$src/worker" "$work/worker"
cd "$work/worker"

# 1. gyp on Python >= 3.10.
sed -i 's/collections\.MutableSet/collections.abc.MutableSet/; s/^import collections$/import collections\nimport collections.abc/' \
	deps/gyp/pylib/gyp/common.py
sed -i 's/collections\.Iterable/collections.abc.Iterable/g; s/^import collections$/import collections\nimport collections.abc/' \
	deps/gyp/pylib/gyp/msvs_emulation.py

# 2. SIGSTKSZ as a constant, C++ only (the gyp make generator reads CXXFLAGS).
cat > "$work/static-sigstksz.h" <<'H'
#include <features.h>
#undef __USE_DYNAMIC_STACK_SIZE
H

# 3. Debian's OpenSSL 3 instead of the bundled 1.1.1k.
cat > deps/openssl/openssl.gyp <<'G'
{
  'targets': [
    {
      'target_name': 'openssl',
      'type': 'none',
      'direct_dependent_settings': { 'defines': [ 'OPENSSL_API_COMPAT=10101' ] },
      'link_settings': { 'libraries': [ '-lssl', '-lcrypto' ] }
    }
  ]
}
G
python3 - <<'P'
import re
path = 'mediasoup-worker.gyp'
text = open(path).read()
patched = text.replace("'ldflags': [ '-Wl,--whole-archive <(libopenssl) -Wl,--no-whole-archive' ]", "'ldflags': [ ]")
if patched == text:
    raise SystemExit('build-mediasoup-worker: the --whole-archive openssl line was not found')
open(path, 'w').write(patched)
P

echo "build-mediasoup-worker: building mediasoup $version worker in $work (several minutes)" >&2
PYTHON=python3 CXXFLAGS="-include $work/static-sigstksz.h" \
	make -C "$work/worker" MEDIASOUP_WORKER_BIN= CORES="$(nproc)" >"$work/build.log" 2>&1 || {
	tail -40 "$work/build.log" >&2
	echo "build-mediasoup-worker: build failed" >&2
	exit 1
}
built="$work/worker/out/Release/mediasoup-worker"
# Atomic publish: copy beside, then rename.
mkdir -p "$dest"
cp "$built" "$dest/.mediasoup-worker.tmp"
mv "$dest/.mediasoup-worker.tmp" "$bin"
echo "build-mediasoup-worker: built $bin" >&2
echo "$bin"
