#!/usr/bin/env bash
# Packs the runtime node_modules for the GPU machine into .device/rt.tar.xz: what the tests and the
# benchmark load there, without the build-only packages (TypeScript, cmake-js, headers, a browser).
# Used by stage.sh and stage-package.sh; run from the repository root.
set -euo pipefail
stage=$(mktemp -d)
cp -r node_modules "$stage/"
( cd "$stage/node_modules" && rm -rf typescript @types cmake-js node-api-headers node-addon-api tar lru-cache playwright-core .package-lock.json )
tar -C "$stage" -cf - node_modules | xz -T2 -3 > .device/rt.tar.xz
rm -rf "$stage"
