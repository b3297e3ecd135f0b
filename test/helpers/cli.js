'use strict';
// The cuda-ssim command as a user runs it (bin/cuda-ssim.js in a child Node), on the CPU backend.

const path = require('path');
const { spawnSync } = require('child_process');
const pkg = require('./pkg');

const BIN = path.join(pkg.root, 'bin', 'cuda-ssim.js');
const ENV = { ...process.env, CUDA_SSIM_BACKEND: 'cpu' };

// Runs `cuda-ssim ...args` to completion: its exit code, output and signal.
function cli(args, opts = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: ENV, timeout: 120000, ...opts });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

module.exports = { BIN, ENV, cli };
