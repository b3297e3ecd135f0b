#!/usr/bin/env node
// npm install hook. The package ships prebuilt binaries for linux-x64 (glibc >= 2.28): when one
// loads here, nothing is built. Otherwise (another platform, musl, a git checkout) the addon is
// compiled from source by scripts/build-native.js. CUDA_SSIM_BUILD_FROM_SOURCE=1 always compiles.
// Installs with --ignore-scripts skip this hook and still work where a prebuilt binary fits:
// lib/native.ts finds it at run time.
'use strict';
const path = require('node:path');

const root = path.join(__dirname, '..');
if (!process.env.CUDA_SSIM_BUILD_FROM_SOURCE) {
  let binary = null;
  try {
    binary = require('node-gyp-build').path(root);
  } catch {
    // no binary for this platform
  }
  if (binary !== null && binary.split(path.sep).includes('prebuilds')) {
    try {
      const info = require(binary).backendInfo();
      const cuda = info.cudaAvailable ? `CUDA available (${info.devices.length} GPU(s))` : `CPU (${info.reason})`;
      console.log(`cuda-ssim: using the prebuilt binary ${path.relative(root, binary)}: ${cuda}`);
      process.exit(0);
    } catch (err) {
      console.log(`cuda-ssim: the prebuilt binary does not load here (${err.message.split('\n')[0]}); building from source`);
    }
  }
}
require('./build-native.js');
