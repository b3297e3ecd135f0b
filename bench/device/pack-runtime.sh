#!/usr/bin/env bash
# Packs the runtime node_modules for the GPU machine into .device/rt.tar.xz: what the tests and the
# benchmark load there, without the build-only packages (TypeScript, cmake-js, headers, a browser).
# Used by stage.sh and stage-package.sh; run from the repository root.
set -euo pipefail
stage=$(mktemp -d)
cp -r node_modules "$stage/"
( cd "$stage/node_modules" && rm -rf typescript @types cmake-js node-api-headers node-addon-api tar lru-cache playwright-core .package-lock.json )
# TensorFlow.js (the tfjs tests): Node loads each package's dist/*.node.js bundle; the browser
# bundles, source maps and sources are most of its size
if [ -d "$stage/node_modules/@tensorflow" ]; then
  find "$stage/node_modules/@tensorflow" \( -name '*.map' -o -name '*.min.js' -o -name '*.es2017.js' -o -name '*.fesm.js' \
    -o -name '*.esm.js' -o -name 'miniprogram' -o -name 'src' -o -name '*.d.ts' \) -prune -exec rm -rf {} +
fi
tar -C "$stage" -cf - node_modules | xz -T2 -3 > .device/rt.tar.xz
rm -rf "$stage"
