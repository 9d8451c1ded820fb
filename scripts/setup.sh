#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh machine of our kind (Debian 12, Node 20):
# system packages, npm dependencies, the cached mediasoup worker.
# `scripts/setup.sh` installs what the server needs; `--tests` adds Chromium and ffmpeg.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want_tests=0
for arg in "$@"; do
	case "$arg" in
		--tests) want_tests=1 ;;
		*) echo "setup: unknown argument '$arg'" >&2; exit 2 ;;
	esac
done

# System packages: only what is missing, only as root (CI and our machines run as root).
packages=(make g++ python3 pkg-config libssl-dev)
[ "$want_tests" = 1 ] && packages+=(chromium ffmpeg redis-server)
missing=()
for pkg in "${packages[@]}"; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "setup: installing ${missing[*]}" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	else
		echo "setup: missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
fi

# npm dependencies, reinstalled only when the lockfile changed.
mkdir -p node_modules/.voxface
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.voxface/lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
	echo "setup: npm ci" >&2
	npm ci --no-audit --no-fund >&2
	mkdir -p node_modules/.voxface
	echo "$lock_sum" > node_modules/.voxface/lock.sha256
fi

# The mediasoup worker, built once and cached outside the checkout.
worker_bin="$(bash scripts/build-mediasoup-worker.sh | tail -1)"
echo "$worker_bin" > node_modules/.voxface/mediasoup-worker-bin
echo "setup: mediasoup worker $worker_bin" >&2

# The native compute kernels (C++ through N-API), rebuilt when their sources change.
if [ -f kernels/binding.gyp ] && [ -f scripts/build-kernels.sh ]; then
	bash scripts/build-kernels.sh >&2
fi
