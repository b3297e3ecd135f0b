#!/usr/bin/env node
// npm install hook: use a prebuilt binary from prebuilds/ when one fits this platform and loads,
// otherwise compile from source (scripts/build-native.js). CUDA_SSIM_BUILD_FROM_SOURCE=1 always
// compiles.
'use strict';
const path = require('node:path');

const root = path.join(__dirname, '..');
if (!process.env.CUDA_SSIM_BUILD_FROM_SOURCE) {
  try {
    const binary = require('node-gyp-build').path(root);
    if (binary.split(path.sep).includes('prebuilds')) {
      require(binary);
      console.log(`cuda-ssim: using the prebuilt binary ${path.relative(root, binary)}`);
      process.exit(0);
    }
  } catch {
    // no prebuilt binary for this platform, or it does not load here: build from source
  }
}
require('./build-native.js');
