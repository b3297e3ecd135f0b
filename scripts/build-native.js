#!/usr/bin/env node
// Builds the addon with cmake-js (npm install runs this through node-gyp-build when no prebuilt
// binary fits). CUDA_SSIM_CUDA=0 builds the CPU-only addon even where nvcc exists; CUDAARCHS and
// CUDACXX are read by CMake itself. It configures every time, with the CUDA option spelled out
// either way: `cmake-js compile` configures only a fresh build folder, so a CPU-only build used to
// stay CPU-only (and a CUDA build stay CUDA) whatever CUDA_SSIM_CUDA said later.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const cuda = /^(0|off|false|no)$/i.test(process.env.CUDA_SSIM_CUDA || '') ? 'OFF' : 'ON';
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const t0 = Date.now();
for (const args of [['configure', `--CDCUDA_SSIM_CUDA=${cuda}`], ['build']]) {
  const r = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
console.log(`cuda-ssim: native build finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
