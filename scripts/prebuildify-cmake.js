#!/usr/bin/env node
// prebuildify has no cmake-js backend: it runs "<node-gyp> rebuild --target=... --arch=...".
// `npm run prebuildify` points its --node-gyp at this script, which builds with cmake-js instead
// (a Node-API addon is the same binary for every Node version, so the target is not needed).
'use strict';
process.env.CUDA_SSIM_BUILD_FROM_SOURCE = '1';
require('./build-native.js');
