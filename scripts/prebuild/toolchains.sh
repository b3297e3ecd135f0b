#!/usr/bin/env bash
# Fetches what the prebuilt binaries are built with, beside the machine's own CUDA 13 toolkit,
# into build/toolchains/ (kept between runs). Debian packages only, unpacked, never installed:
#   cuda-11.8/        nvcc 11.8 and the static runtime (bookworm non-free nvidia-cuda-toolkit):
#                     the older-driver variant, which runs on drivers of CUDA 11.x and 12.x;
#   sysroot-glibc2.31/ bullseye's libc6 and libc6-dev: the binaries are linked against them, so
#                     that they ask for no glibc symbol newer than the versions those define.
# nvcc 11.8 needs g++ 11 as host compiler: installed from Debian where we are root, else say so.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/toolchains"
mkdir -p "$out"
apt_dir="$out/apt"

apt_fetch() {  # apt_fetch DIR PACKAGE... : downloads the .deb files into DIR
  mkdir -p "$apt_dir/lists/partial" "$1"
  cat > "$apt_dir/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main non-free
deb http://deb.debian.org/debian bullseye main
LIST
  local o=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  if [[ ! -f "$apt_dir/updated" ]]; then apt-get "${o[@]}" update -qq && touch "$apt_dir/updated"; fi
  local dir=$1; shift
  (cd "$dir" && apt-get "${o[@]}" download "$@" 2>&1 | grep -v '^Get:' || true)
}

cuda="$out/cuda-11.8"
if [[ ! -x "$cuda/bin/nvcc" ]]; then
  echo "toolchains: fetching CUDA 11.8 (Debian nvidia-cuda-toolkit, ~870 MB download)"
  debs="$out/debs-cuda"; rm -rf "$debs" "$cuda.tmp"; mkdir -p "$cuda.tmp"
  apt_fetch "$debs" nvidia-cuda-toolkit/bookworm nvidia-cuda-dev/bookworm libcudart11.0/bookworm libnvvm4/bookworm
  x="$debs/x"; mkdir -p "$x"
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$x"; done
  t="$cuda.tmp"; mkdir -p "$t/bin" "$t/lib64/stubs" "$t/nvvm/libdevice"
  cp -a "$x/usr/lib/nvidia-cuda-toolkit/bin/nvcc" "$x/usr/lib/nvidia-cuda-toolkit/bin/cicc" \
        "$x/usr/lib/nvidia-cuda-toolkit/bin/crt" "$t/bin/"
  for b in ptxas fatbinary nvlink cudafe++ bin2c cuobjdump nvprune; do cp -a "$x/usr/bin/$b" "$t/bin/"; done
  cp -a "$x/usr/include" "$t/include"
  cp -a "$x"/usr/lib/x86_64-linux-gnu/{libcudart_static.a,libculibos.a,libcudadevrt.a} "$t/lib64/"
  cp -a "$x"/usr/lib/x86_64-linux-gnu/libcudart.so* "$t/lib64/"
  cp -a "$x/usr/lib/x86_64-linux-gnu/stubs/libcuda.so" "$t/lib64/stubs/"
  cp -a "$x"/usr/lib/nvidia-cuda-toolkit/libdevice/* "$t/nvvm/libdevice/"
  # Debian's nvcc.profile points into /usr; this one is relative to nvcc, wherever it lies.
  cat > "$t/bin/nvcc.profile" <<'PROFILE'
TOP = $(_HERE_)/..
NVVMIR_LIBRARY_DIR = $(TOP)/nvvm/libdevice
PATH += $(_HERE_):
INCLUDES += "-I$(TOP)/include" $(_SPACE_)
LIBRARIES =+ $(_SPACE_) "-L$(TOP)/lib64/stubs" "-L$(TOP)/lib64"
CUDAFE_FLAGS +=
PTXAS_FLAGS +=
PROFILE
  rm -rf "$debs"; mv "$t" "$cuda"
fi

sysroot="$out/sysroot-glibc2.31"
if [[ ! -f "$sysroot/usr/lib/x86_64-linux-gnu/libc.so" ]]; then
  echo "toolchains: fetching the glibc 2.31 sysroot (Debian bullseye libc6, libc6-dev)"
  debs="$out/debs-sysroot"; rm -rf "$debs" "$sysroot.tmp"; mkdir -p "$sysroot.tmp"
  apt_fetch "$debs" libc6/bullseye libc6-dev/bullseye linux-libc-dev/bullseye
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$sysroot.tmp"; done
  # Absolute links (libpthread.so -> /lib/...) would lead the linker out to the build machine's.
  find "$sysroot.tmp" -type l -lname '/*' | while read -r l; do
    ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$sysroot.tmp$(readlink "$l")")" "$l"
  done
  rm -rf "$debs"; mv "$sysroot.tmp" "$sysroot"
fi

if ! command -v g++-11 >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "toolchains: installing g++-11 (nvcc 11.8's host compiler)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-11 >/dev/null
  else
    echo "toolchains: nvcc 11.8 needs g++-11 (apt-get install g++-11)" >&2; exit 1
  fi
fi
echo "toolchains: ready in build/toolchains (cuda-11.8, sysroot-glibc2.31, g++-11)"
