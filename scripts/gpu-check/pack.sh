#!/usr/bin/env bash
# Packs the GPU check (issue 13, item 7) into .gpu-check/ (ignored), for a lent GPU machine
# that has no Node and can fetch nothing: `bash scripts/gpu-check/pack.sh` (about 2 min
# here, most of it xz), then give the device tool `bash scripts/gpu-check/run.sh` with
# carry ['.gpu-check'].
#
# .gpu-check/
#   payload.tar.xz (+ .sha256)  node (this machine's, stripped), check.mjs (check.ts bundled
#                               by esbuild), dist/linux-x64/dawn.node (webgpu's, where the
#                               bundled webgpu/index.js looks), voxface_kernels.node (the
#                               CPU backend, for the CPU figures of the same run),
#                               lib/libvulkan.so.1 (Debian's loader), fallback-lib/* (what
#                               NVIDIA's Vulkan driver libGLX_nvidia.so.0 needs besides the
#                               driver: libGLdispatch, libXext, libX11 and theirs; run.sh
#                               links only those the machine lacks)
#   xz/                         xz and liblzma, uncompressed: run.sh's second way to unpack
#                               (the first is the machine's xz, the third python3's lzma)
#   addon-cpu-flags             the SIMD flags the addon was built for (run.sh skips the CPU
#                               backend on a CPU without them instead of dying on SIGILL)
#   manifest.json               what was packed, from which commit, sizes and sha256s
#
# VOXFACE_GPU_CHECK_XZ_LEVEL (default 9; 1 for a quick rehearsal), VOXFACE_GPU_CHECK_NODE
# (default: the node on PATH), VOXFACE_KERNELS_ADDON (default: the kernels built here for
# AVX2 in a temp dir, which any x86-64 server of the last decade runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dest=$root/.gpu-check
limit=$((60 * 1024 * 1024))
level=${VOXFACE_GPU_CHECK_XZ_LEVEL:-9}
say() { printf 'pack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

node_bin=$(readlink -f "${VOXFACE_GPU_CHECK_NODE:-$(command -v node)}") || die 'no node on PATH'
dawn=$root/node_modules/webgpu/dist/linux-x64/dawn.node
addon=${VOXFACE_KERNELS_ADDON:-}
libdirs=(/usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib)
[ "$(uname -m)" = x86_64 ] || die "the lent machine is x86-64; this is $(uname -m)"
[ -f "$dawn" ] || die "missing $dawn (npm ci installs the webgpu package)"
command -v xz >/dev/null || die 'xz is needed to pack'

stage=$(mktemp -d "${TMPDIR:-/tmp}/voxface-gpu-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT
if [ -z "$addon" ]; then
  # The CPU figures' addon, built for AVX2 (not this machine's AVX-512): the lent H200's
  # Xeon is not this CPU, and an addon it lacks the flags for gives no CPU figures.
  say "building the kernels for AVX2 (about 10 s)"
  mkdir -p "$stage/kernels-build"
  cp -r kernels scripts "$stage/kernels-build/"
  rm -rf "$stage/kernels-build/kernels/build"
  ln -s "$root/node_modules" "$stage/kernels-build/node_modules"
  (cd "$stage/kernels-build" && VOXFACE_SIMD=avx2 bash scripts/build-kernels.sh) >&2 || die 'the AVX2 kernels build failed'
  addon=$stage/kernels-build/kernels/build/Release/voxface_kernels.node
fi
[ -f "$addon" ] || die "missing $addon"
payload=$stage/payload
mkdir -p "$payload/dist/linux-x64" "$payload/lib" "$payload/fallback-lib" "$stage/out/xz"

find_lib() { # first regular file (links followed) named $1 in the usual dirs
  local d
  for d in "${libdirs[@]}"; do [ -e "$d/$1" ] && { readlink -f "$d/$1"; return 0; }; done
  return 1
}

say "bundling scripts/gpu-check/check.ts and the GPU render benchmark"
"$node_bin" scripts/gpu-check/bundle.mjs "$payload/check.mjs" >&2
"$node_bin" scripts/gpu-check/bundle.mjs "$payload/render-gpu.mjs" test/bench/renderGpu.bench.ts >&2

# Stripping drops the debug info (99 -> 86 MB for Debian's node 20); the dynamic symbols
# addons link against stay.
if command -v strip >/dev/null; then strip --strip-all -o "$payload/node" "$node_bin"; else cp "$node_bin" "$payload/node"; fi
"$payload/node" --version >/dev/null || die 'the packed node does not run'
cp "$dawn" "$payload/dist/linux-x64/dawn.node"
cp "$addon" "$payload/voxface_kernels.node"
simd=$("$payload/node" -e 'console.log(require(process.argv[1]).simd())' "$payload/voxface_kernels.node")
tr '+' ' ' <<<"$simd" >"$stage/out/addon-cpu-flags"

# Debian's Vulkan loader: this machine's, else libvulkan1 fetched with apt.
if vk=$(find_lib libvulkan.so.1); then
  cp "$vk" "$payload/lib/libvulkan.so.1"
else
  say "no libvulkan.so.1 here: apt-get download libvulkan1"
  (cd "$stage" && apt-get download libvulkan1 >&2 && dpkg -x libvulkan1_*.deb deb)
  cp "$(readlink -f "$(find "$stage/deb" -name 'libvulkan.so.1' | head -1)")" "$payload/lib/libvulkan.so.1"
fi
for lib in libGLdispatch.so.0 libXext.so.6 libX11.so.6 libxcb.so.1 libXau.so.6 libXdmcp.so.6 libbsd.so.0 libmd.so.0; do
  if f=$(find_lib "$lib"); then cp "$f" "$payload/fallback-lib/$lib"; else say "warning: no $lib here to pack as a fallback"; fi
done
cp "$(readlink -f "$(command -v xz)")" "$stage/out/xz/xz"
if f=$(find_lib liblzma.so.5); then cp "$f" "$stage/out/xz/liblzma.so.5"; fi

say "compressing (xz -$level)"
tar -C "$payload" -cf - . | xz "-$level" -T2 -c >"$stage/out/payload.tar.xz"
(cd "$stage/out" && sha256sum payload.tar.xz >payload.tar.xz.sha256)

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$([ -n "$(git status --porcelain 2>/dev/null)" ] && echo true || echo false)
(cd "$payload" && find . -type f | sort | xargs sha256sum) >"$stage/files.sha256"
"$payload/node" -e '
  const fs = require("fs"), [payload, sums, out, commit, dirty, simd] = process.argv.slice(1);
  const files = {};
  for (const line of fs.readFileSync(sums, "utf8").trim().split("\n")) {
    const [sha256, name] = line.split(/\s+\.\//);
    files[name] = { bytes: fs.statSync(payload + "/" + name).size, sha256 };
  }
  const manifest = {
    packedAt: new Date().toISOString(), commit, dirty: dirty === "true", node: process.version, addonSimd: simd,
    payloadBytes: fs.statSync(out + "/payload.tar.xz").size, files,
  };
  fs.writeFileSync(out + "/manifest.json", JSON.stringify(manifest, null, 1) + "\n");
' "$payload" "$stage/files.sha256" "$stage/out" "$commit" "$dirty" "$simd"

total=$(du -sb "$stage/out" | cut -f1)
[ "$total" -le "$limit" ] || die "the pack is $total bytes, over the 60 MiB it may take (the device tool carries 64 MiB with the tree)"
rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mv "$stage/out" "$dest"
rm -rf "$dest.old"
say "wrote .gpu-check/ ($((total / 1024 / 1024)) MiB: $(cd "$dest" && du -b payload.tar.xz | cut -f1) bytes of payload; addon $simd; commit ${commit:0:12}$([ "$dirty" = true ] && echo ' with uncommitted changes'))"
