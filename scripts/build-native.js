#!/usr/bin/env node
// Builds the addon with cmake-js (npm install runs this through node-gyp-build when no prebuilt
// binary fits). CUDA_SSIM_CUDA=0 builds the CPU-only addon even where nvcc exists; CUDAARCHS and
// CUDACXX are read by CMake itself.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const args = ['compile'];
if (/^(0|off|false|no)$/i.test(process.env.CUDA_SSIM_CUDA || '')) args.push('--CDCUDA_SSIM_CUDA=OFF');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const t0 = Date.now();
const r = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
if (r.status !== 0) process.exit(r.status ?? 1);
console.log(`cuda-ssim: native build finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
