'use strict';
// Which CUDA launches may start before the kernel ahead of them has finished (cuda/gpu/launch_order.h):
// host-only logic, compiled here with the system C++ compiler and run without a GPU. A value-only
// forward launched early reads its inputs before it waits, so a wrong answer here is a race.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');

function compiler() {
  for (const cxx of [process.env.CXX, 'g++', 'c++', 'clang++'].filter(Boolean)) {
    try {
      execFileSync(cxx, ['--version'], { stdio: 'ignore' });
      return cxx;
    } catch (e) {
      // try the next one
    }
  }
  return null;
}

describe('launch order: which launches may overlap the previous kernel (host logic, no GPU)', function () {
  it('cuda/gpu/launch_order.h passes test/native/launch_order_check.cpp', function () {
    const cxx = compiler();
    if (!cxx) this.skip();
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-order-'));
    const exe = path.join(dir, 'launch_order_check');
    try {
      execFileSync(cxx, ['-std=c++17', '-I', path.join(root, 'cuda'), path.join(root, 'test/native/launch_order_check.cpp'), '-o', exe], { stdio: 'pipe' });
      let output;
      try {
        output = execFileSync(exe, { encoding: 'utf8' });
      } catch (e) {
        assert.fail(`launch_order_check failed:\n${e.stdout}`);
      }
      assert.match(output, /^0 failure\(s\)$/m, output);
      assert.ok((output.match(/^PASS /gm) || []).length >= 10, output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
