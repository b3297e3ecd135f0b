#!/usr/bin/env bash
# Stages the package as users get it for a GPU machine without Node.js: packs it (prepack builds
# the prebuilt binaries from clean build folders), installs the tarball into .device/app where no
# nvcc can be found (as on a CUDA runtime image), and packs Node.js and the test runner's
# node_modules. Run from a clean checkout of the commit under test, as root (mount namespace).
# Then, on the device, with carry [".device/node.tar.xz", ".device/rt.tar.xz", ".device/app.tar.xz",
# ".device/interop_addon.node", "dist"]: bash bench/device/package-check.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mkdir -p .device
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
if [[ -f bench/device/pack-node.sh ]]; then bash bench/device/pack-node.sh; else ../shared/device/pack-node.sh; fi
rm -f .device/cuda-ssim-*.tgz
npm pack --pack-destination .device > .device/pack.log 2>&1 || { tail -40 .device/pack.log; exit 1; }
grep -A4 "manifest" .device/pack.log || true
tgz=$(ls "$PWD"/.device/cuda-ssim-*.tgz)
rm -rf .device/app && mkdir -p .device/app && echo '{"name":"gpu-proof","private":true}' > .device/app/package.json
hide=""
for p in /usr/local/cuda/bin /usr/local/bin/nvcc /usr/bin/nvcc; do
  [[ -d $p ]] && hide+="mount -t tmpfs none $p; "
  [[ -f $p ]] && hide+="mount --bind /dev/null $p; "
done
unshare -m bash -c "set -e; $hide cd .device/app && npm install --no-audit --no-fund $tgz" | tail -3
node -e "const i=require('./.device/app/node_modules/cuda-ssim').backendInfo(); console.log('installed:', JSON.stringify(i.binary))"
[[ ! -d .device/app/node_modules/cuda-ssim/build ]] || { echo "the tarball install built from source" >&2; exit 1; }
tar -C .device/app -cf - node_modules package.json | xz -T2 -3 > .device/app.tar.xz
rm -rf .device/app
bash bench/device/pack-runtime.sh
# the interop tests' second addon (nvcc and Node's headers are here, not there)
CUDAARCHS=90 node test/native/interop_addon/build.js && cp build/interop_addon/interop_addon.node .device/
du -sh .device/*.xz
echo "carry total: $(du -shc .device/*.xz .device/interop_addon.node dist | tail -1 | cut -f1)"
