#!/usr/bin/env node
// Builds the addon from source with cmake-js: the install hook runs this where no prebuilt binary
// fits (scripts/install.js), and developers run it as `npm run build:native`.
// - CUDA_SSIM_CUDA=0 builds the CPU-only addon even where nvcc exists; CUDAARCHS and CUDACXX are
//   read by CMake itself (the default architectures follow the toolkit's version).
// - CUDA_SSIM_BENCH=1 also builds the benchmark's helper program (build/Release/cuda_ssim_ceilings,
//   from bench/native/ceilings.cu); the addon is the same either way.
// - A CUDA configure or compile failure falls back to the CPU-only build, loudly: an install
//   never fails because of CUDA, and backendInfo() says that the CUDA build failed.
// - cmake-js and node-addon-api are needed only here: when the package was installed without
//   them (a user's install, where the prebuilt binary did not fit), they are fetched on demand
//   into build/.build-deps.
// It configures every time, with the CUDA option spelled out either way: `cmake-js compile`
// configures only a fresh build folder, so a CPU-only build would stay CPU-only.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const BUILD_TOOLS = ['cmake-js@^8.0.0', 'node-addon-api@^8.5.0'];

function resolveFrom(dirs, request) {
  try {
    return require.resolve(request, { paths: dirs });
  } catch {
    return null;
  }
}

// Where cmake-js and node-addon-api are: the package's own node_modules (a development checkout),
// else build/.build-deps, installed there now if needed.
function buildTools() {
  const depsDir = path.join(root, 'build', '.build-deps');
  const dirs = [root, depsDir];
  let cmakeJs = resolveFrom(dirs, 'cmake-js/bin/cmake-js');
  if (cmakeJs === null || resolveFrom(dirs, 'node-addon-api') === null) {
    console.log(`cuda-ssim: fetching the build tools (${BUILD_TOOLS.join(', ')}) into build/.build-deps`);
    fs.mkdirSync(depsDir, { recursive: true });
    const npm = process.env.npm_execpath;
    const [cmd, args] = npm && /\.js$/.test(npm) ? [process.execPath, [npm]] : ['npm', []];
    const r = spawnSync(cmd, [...args, 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund',
      '--ignore-scripts', '--prefix', depsDir, ...BUILD_TOOLS], { stdio: 'inherit', shell: cmd === 'npm' && process.platform === 'win32' });
    if (r.status !== 0) {
      console.error('cuda-ssim: could not install cmake-js and node-addon-api to build from source');
      process.exit(r.status ?? 1);
    }
    cmakeJs = resolveFrom(dirs, 'cmake-js/bin/cmake-js');
  }
  return { cmakeJs, nodePath: [path.join(depsDir, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(path.delimiter) };
}

function cmake(tools, args, extraEnv = {}) {
  const env = { ...process.env, NODE_PATH: tools.nodePath, ...extraEnv };
  return spawnSync(process.execPath, [tools.cmakeJs, ...args], { stdio: 'inherit', cwd: root, env }).status === 0;
}

const bench = /^(1|on|true|yes)$/i.test(process.env.CUDA_SSIM_BENCH || '') ? 'ON' : 'OFF';

function build(tools, cuda, extra = ['--CDCUDA_SSIM_CUDA_FAILED=OFF']) {
  return cmake(tools, ['configure', `--CDCUDA_SSIM_CUDA=${cuda}`, `--CDCUDA_SSIM_BENCH=${bench}`, ...extra]) &&
    cmake(tools, ['build']);
}

const t0 = Date.now();
const tools = buildTools();
const wantCuda = !/^(0|off|false|no)$/i.test(process.env.CUDA_SSIM_CUDA || '');
let ok = build(tools, wantCuda ? 'ON' : 'OFF');
if (!ok && wantCuda) {
  const bar = '='.repeat(100);
  console.error(`\n${bar}\ncuda-ssim: THE CUDA BUILD FAILED (see the errors above). Building the CPU-only addon instead:\n` +
    'it computes the same results, 30-100x slower. backendInfo().cuda.reason says so at run time.\n' +
    'Fix the CUDA toolchain (or set CUDAARCHS to architectures your nvcc supports) and run `npm rebuild cuda-ssim`.\n' +
    `${bar}\n`);
  fs.rmSync(path.join(root, 'build', 'CMakeCache.txt'), { force: true });
  fs.rmSync(path.join(root, 'build', 'CMakeFiles'), { recursive: true, force: true });
  ok = build(tools, 'OFF', ['--CDCUDA_SSIM_CUDA_FAILED=ON']);
}
if (!ok) process.exit(1);
console.log(`cuda-ssim: native build finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
