#!/usr/bin/env bash
# The GPU check on a lent machine (issue 13, item 7): the one command to give the device
# tool, with carry ['.gpu-check'] (made by scripts/gpu-check/pack.sh):
#   bash scripts/gpu-check/run.sh
# It needs no Node there: it unpacks .gpu-check into a temp dir, puts the packed Vulkan
# loader (and whichever of libGLX_nvidia's other needs the machine lacks) on
# LD_LIBRARY_PATH, finds NVIDIA's Vulkan ICD json (or writes one for libGLX_nvidia.so.0:
# containers given the GPU often lack the json), saves nvidia-smi's report, runs the check
# under a timeout, then bench:render-gpu (bundled), and prints the check's JSON as the last
# line. Under $OUT (6 files): gpu-check.json, gpu-check.log (the check's output), run.log
# (this script's, with the machine's Vulkan set-up), nvidia-smi.txt, bench-render-gpu.json
# and its log. bench:render-gpu draws .gpu-check/avatar.vxa when one is there (else it trains
# a synthetic one) and takes VOXFACE_GPU_BENCH_ARGS. About 10 s of unpacking and at most
# VOXFACE_GPU_CHECK_TIMEOUT_S (300) of checking and VOXFACE_GPU_BENCH_TIMEOUT_S (240) of benchmark: give the device
# tool a timeout_s of about 570. Without OUT, the files go to .gpu-check/out.
#
# The check refuses a software adapter. Rehearsal here on SwiftShader:
#   env -i PATH=/usr/bin:/bin OUT=/tmp/gpu-check-out VOXFACE_GPU_CHECK_ALLOW_SOFTWARE=1 \
#     VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json VOXFACE_GPU_CHECK_SIZE=32x18 \
#     VOXFACE_GPU_CHECK_AVATARS=1,2 bash scripts/gpu-check/run.sh
# VOXFACE_GPU_CHECK_ICD_DIRS and VOXFACE_GPU_CHECK_ICD_LIBRARY replace where the json is
# looked for and which driver library a written one names (to rehearse that path too);
# the check's own variables (size, avatars, budget) are listed in check.ts.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
pack=${VOXFACE_GPU_CHECK_PACK:-$root/.gpu-check}
out=${OUT:-$pack/out}
timeout_s=${VOXFACE_GPU_CHECK_TIMEOUT_S:-300}
t0=$(date +%s)
mkdir -p "$out"
export OUT=$out
: >"$out/run.log"
say() { printf 'run: %s\n' "$*" | tee -a "$out/run.log" >&2; }
section() { printf '\n== %s\n' "$1" >>"$out/run.log"; }
fail_json() { # a report for when the check could not write its own
  local m=${1//\\/\\\\}
  m=${m//\"/\\\"}
  m=${m//$'\n'/ }
  printf '{"check":"voxface-gpu-check","version":1,"ok":false,"error":"%s"}\n' "${m//$'\t'/ }" >"$out/gpu-check.json"
  cat "$out/gpu-check.json"
  exit "${2:-1}"
}

[ -f "$pack/payload.tar.xz" ] || fail_json "no $pack/payload.tar.xz: run bash scripts/gpu-check/pack.sh and carry .gpu-check" 3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxface-gpu-check.XXXXXX")
[ "${VOXFACE_GPU_CHECK_KEEP:-}" = 1 ] || trap 'rm -rf "$tmp"' EXIT

# --- unpack: the machine's xz, else the packed one, else python3's lzma ---------------------
if command -v sha256sum >/dev/null && ! (cd "$pack" && sha256sum -c --quiet payload.tar.xz.sha256 >>"$out/run.log" 2>&1); then
  fail_json 'payload.tar.xz does not match its sha256 (a partial copy?)' 3
fi
unpack_with() {
  rm -rf "$tmp/p" && mkdir -p "$tmp/p" || return 1
  case $1 in
    xz) command -v xz >/dev/null && xz -dc "$pack/payload.tar.xz" | tar -xf - -C "$tmp/p" ;;
    packed-xz) LD_LIBRARY_PATH="$pack/xz" "$pack/xz/xz" -dc "$pack/payload.tar.xz" | tar -xf - -C "$tmp/p" ;;
    python3) command -v python3 >/dev/null &&
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$pack/payload.tar.xz" "$tmp/p" ;;
  esac
}
unpacked=
for way in xz packed-xz python3; do
  if unpack_with "$way" 2>>"$out/run.log" && [ -x "$tmp/p/node" ] && [ -f "$tmp/p/check.mjs" ]; then unpacked=$way; break; fi
done
[ -n "$unpacked" ] || fail_json 'could not unpack payload.tar.xz (no xz, the packed xz failed, no python3)' 3
p=$tmp/p
say "unpacked with $unpacked in $(($(date +%s) - t0)) s"
# The packed node needs glibc 2.28, dawn.node and the kernels 2.34 (Ubuntu 22.04, Debian 12).
node_version=$("$p/node" --version 2>&1) || fail_json "the packed node does not start here: $node_version" 3

# --- libraries: the packed loader first; fallbacks only for what the machine lacks ----------
ldconfig_bin=$(command -v ldconfig || ls /sbin/ldconfig /usr/sbin/ldconfig 2>/dev/null | head -1)
system_libs=$( { [ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null; } || true)
sys_dirs=(/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib)
has_lib() {
  grep -q "^[[:space:]]*$1 (.*x86-64" <<<"$system_libs" && return 0
  local d
  for d in "${sys_dirs[@]}"; do [ -e "$d/$1" ] && return 0; done
  return 1
}
mkdir -p "$p/lib-missing"
linked=()
for f in "$p"/fallback-lib/*; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  has_lib "$name" || { ln -s "$f" "$p/lib-missing/$name"; linked+=("$name"); }
done
say "fallback libraries linked (the machine lacks them): ${linked[*]:-none}"
ld_path=$p/lib:$p/lib-missing
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && ld_path=$ld_path:$d; done
export LD_LIBRARY_PATH=$ld_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# --- the Vulkan ICD: given, else the first candidate that shows an adapter --------------------
# Candidates: NVIDIA's json files (the container's own under /usr/local/nvidia first: on a
# lent H200, 2026-12-04, /usr/share/vulkan/icd.d's json named libGLX_nvidia.so.0 and the
# loader could not get vkCreateInstance from it), then jsons written for each
# libGLX_nvidia.so.0 found by absolute path. Each is probed (dawn.node asked for an
# adapter, 30 s at most); the loader's words for each go to run.log.
cat >"$p/probe-adapter.cjs" <<'PROBE'
const { create, globals } = require(process.argv[2]);
Object.assign(globalThis, globals);
create([]).requestAdapter().then(async (a) => {
  if (!a) { console.log('probe: no adapter'); process.exit(1); }
  const info = a.info ?? (await a.requestAdapterInfo?.());
  console.log(`probe: adapter ${info?.vendor ?? '?'} ${info?.description ?? info?.device ?? '?'}`);
  process.exit(0);
}, (e) => { console.log(`probe: ${e.message}`); process.exit(1); });
PROBE
probe() { # $1: an ICD json; 0 when dawn.node finds an adapter through it
  section "probe $1"
  cat "$1" >>"$out/run.log" 2>&1
  VK_ICD_FILENAMES=$1 VK_DRIVER_FILES=$1 VK_LOADER_DEBUG=error,warn,driver timeout -k 5 30 \
    "$p/node" "$p/probe-adapter.cjs" "$p/dist/linux-x64/dawn.node" >>"$out/run.log" 2>&1
}
icd=${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-}}
icd_how=given
if [ -z "$icd" ]; then
  candidates=()
  for d in ${VOXFACE_GPU_CHECK_ICD_DIRS:-/usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d}; do
    for j in "$d"/nvidia_icd*.json; do [ -f "$j" ] && candidates+=("$j"); done
  done
  want=${VOXFACE_GPU_CHECK_ICD_LIBRARY:-libGLX_nvidia.so.0}
  libs=$(awk -v n="$want" '$1 == n && /x86-64/ { print $NF }' <<<"$system_libs")
  for d in /usr/local/nvidia/lib64 "${sys_dirs[@]}" /lib /usr/lib/chromium; do [ -e "$d/$want" ] && libs+=$'\n'"$d/$want"; done
  n=0
  for lib in $(awk 'NF && !seen[$0]++' <<<"$libs"); do
    n=$((n + 1))
    printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$lib" >"$p/written_icd_$n.json"
    candidates+=("$p/written_icd_$n.json")
    { section "ldd $lib"; ldd "$lib" 2>&1; } >>"$out/run.log"
  done
  [ ${#candidates[@]} -gt 0 ] || say "no NVIDIA Vulkan ICD json and no $want: the check will find no hardware adapter"
  for j in "${candidates[@]}"; do
    if probe "$j"; then icd=$j; icd_how="probed: $(tail -1 "$out/run.log")"; break; fi
    say "no adapter through $j"
  done
fi
if [ -n "$icd" ]; then
  export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
  say "Vulkan ICD ($icd_how): $icd"
fi
export VK_LOADER_DEBUG=${VK_LOADER_DEBUG:-error,warn}

# --- the CPU backend only where this CPU has the addon's SIMD level ------------------------
for flag in $(cat "$pack/addon-cpu-flags" 2>/dev/null); do
  if ! grep -qw "$flag" /proc/cpuinfo; then
    export VOXFACE_GPU_CHECK_NO_CPU=1
    say "this CPU lacks $flag (the packed addon needs it): no CPU figures"
    break
  fi
done
export VOXFACE_KERNELS_ADDON=$p/voxface_kernels.node

# --- what the machine is ---------------------------------------------------------------------
{
  section machine
  uname -a
  ldd --version 2>&1 | head -1
  echo "node $node_version"
  grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null
  echo "cpus: $(nproc 2>/dev/null) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-))"
  section pack
  cat "$pack/manifest.json" 2>/dev/null
  section 'Vulkan set-up'
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  echo "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
  [ -n "$icd" ] && cat "$icd"
  grep -E 'vulkan|nvidia|GLdispatch|libX11|libXext' <<<"$system_libs"
  ls /usr/local/nvidia 2>/dev/null
} >>"$out/run.log" 2>&1
smi=$(command -v nvidia-smi || ls /usr/local/nvidia/bin/nvidia-smi 2>/dev/null)
if [ -n "$smi" ]; then
  { timeout 30 "$smi"; timeout 30 "$smi" --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; } >"$out/nvidia-smi.txt" 2>&1
else
  echo 'no nvidia-smi on this machine' >"$out/nvidia-smi.txt"
fi

# --- the check (VOXFACE_GPU_CHECK_BENCH_ONLY=1 skips it: a sweep of bench runs) ---------------
rc=0
if [ "${VOXFACE_GPU_CHECK_BENCH_ONLY:-}" != 1 ]; then
  say "running the check (timeout ${timeout_s} s)"
  rm -f "$out/gpu-check.json"
  (cd "$p" && timeout -k 10 "$timeout_s" ./node check.mjs) >"$out/gpu-check.log" 2>&1
  rc=$?
  grep -v '^{"check"' "$out/gpu-check.log" >&2
  say "check exited with $rc after $(($(date +%s) - t0)) s in all"
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && say "it ran past ${timeout_s} s: gpu-check.json holds the phases it finished"
  [ -s "$out/gpu-check.json" ] || fail_json "the check exited with $rc before writing its report: see gpu-check.log" "$rc"
fi

# --- the frame benchmark (npm run bench:render-gpu: whole frames, 1..128 avatars on one device) ---
bench_timeout_s=${VOXFACE_GPU_BENCH_TIMEOUT_S:-240}
say "running bench:render-gpu (timeout ${bench_timeout_s} s)"
bench_args=()
[ "${VOXFACE_GPU_CHECK_ALLOW_SOFTWARE:-}" = 1 ] && bench_args+=(--allow-software)
# A real trained avatar, when one is carried beside the pack (cp f.vxa .gpu-check/avatar.vxa):
# its occupancy, not the synthetic scene's, decides how many rays a frame marches.
[ -f "$pack/avatar.vxa" ] && bench_args+=(--avatar "$pack/avatar.vxa")
# More of the bench's own flags (e.g. "--avatars 1,8 --size 1280x720"), split on spaces.
read -r -a extra_bench_args <<<"${VOXFACE_GPU_BENCH_ARGS:-}"
bench_args+=("${extra_bench_args[@]}")
(cd "$p" && timeout -k 10 "$bench_timeout_s" ./node render-gpu.mjs "${bench_args[@]}") >"$out/bench-render-gpu.log" 2>&1
bench_rc=$?
grep '^{"bench":"render-gpu"' "$out/bench-render-gpu.log" | tail -1 >"$out/bench-render-gpu.json"
say "bench:render-gpu exited with $bench_rc after $(($(date +%s) - t0)) s in all"
tail -3 "$out/bench-render-gpu.log" >&2
[ -s "$out/gpu-check.json" ] && "$p/node" -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) + "\n")' "$out/gpu-check.json"
[ "$rc" = 0 ] || exit "$rc"
exit "$bench_rc"
