#!/usr/bin/env node
'use strict';
// Builds the interop test addon (interop_addon.cu) with nvcc into build/interop_addon/interop_addon.node.
// Node's headers: the ones next to this node binary (<prefix>/include/node), else cmake-js's
// download cache. CUDAARCHS picks the SASS (default 90). Usage: node test/native/interop_addon/build.js

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..', '..', '..');
const out = path.join(root, 'build', 'interop_addon', 'interop_addon.node');

function nodeHeaders() {
  const candidates = [path.join(path.dirname(process.execPath), '..', 'include', 'node')];
  const cache = path.join(os.homedir(), '.cmake-js');
  for (const dist of ['node-x64', 'node-arm64']) {
    candidates.push(path.join(cache, dist, process.version, 'include', 'node'));
  }
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
  if (!found) throw new Error(`node_api.h not found in ${candidates.join(', ')}`);
  return found;
}

const archs = (process.env.CUDAARCHS || '90').split(/[;,\s]+/).filter(Boolean);
const nvcc = process.env.NVCC || 'nvcc';
fs.mkdirSync(path.dirname(out), { recursive: true });
const cmd = [
  '-O2', '-std=c++17', '-shared', '-Xcompiler', '-fPIC', '-cudart', 'static',
  ...archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]),
  '-I', nodeHeaders(),
  '-o', out, path.join(__dirname, 'interop_addon.cu'),
];
execFileSync(nvcc, cmd, { stdio: 'inherit' });
console.log(`built ${path.relative(root, out)}`);
