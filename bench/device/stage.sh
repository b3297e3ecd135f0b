#!/usr/bin/env bash
# Stages what a GPU machine without Node.js needs to run the tests and the benchmark on this
# tree: Node itself (.device/node.tar.xz, packed by bench/device/pack-node.sh, which this script
# runs when the file is missing) and the runtime node_modules without the build-only packages
# (.device/rt.tar.xz). Build here first: `npm install` (or CUDAARCHS=90 npm run build:native) and tsc,
# with CUDA_SSIM_BENCH=1 for the benchmark's ceilings program (build/Release/cuda_ssim_ceilings).
# It also builds test/native/kernel_check.cu here (.device/bin/kernel_check, sm_90 unless
# KERNEL_CHECK_ARCH says otherwise), which gpu-check.sh runs.
# Then run on the device with carry [".device", "build/Release", "dist"] and the command:
#   mkdir -p /tmp/node && tar -xJf .device/node.tar.xz -C /tmp/node && export PATH=/tmp/node/bin:$PATH; bash bench/device/gpu-check.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
[ -f .device/node.tar.xz ] || bash bench/device/pack-node.sh
[ -f build/Release/cuda_ssim.node ] && [ -f dist/index.js ] || { echo "build the addon and dist/ first" >&2; exit 1; }
[ -x build/Release/cuda_ssim_ceilings ] || echo "note: no build/Release/cuda_ssim_ceilings, the benchmark will fail there: CUDA_SSIM_BENCH=1 CUDAARCHS=90 npm run build:native" >&2
mkdir -p .device/bin
nvcc -std=c++17 -O3 -arch="${KERNEL_CHECK_ARCH:-sm_90}" -I cuda test/native/kernel_check.cu cuda/gpu/ssim_cuda.cu \
  -o .device/bin/kernel_check
bash bench/device/pack-runtime.sh
echo "staged .device/rt.tar.xz ($(du -h .device/rt.tar.xz | cut -f1)); carry total: $(du -shc .device build/Release dist | tail -1 | cut -f1)"
