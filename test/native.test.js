'use strict';
// The native checkers that need no GPU, compiled here with the system C++ compiler into
// build/native-tests/ and run (skipped, and counted as skipped, where no compiler is found):
// - test/native/cpu_check.cpp: the CPU path (cuda/cpu/ssim_cpu.cpp) against a naive float64
//   implementation, correctness only (its timings are for runs by hand);
// - test/native/msssim_cpu_check.cpp: the CPU MS-SSIM path (cuda/cpu/msssim_cpu.cpp) bitwise
//   against common/msssim.h's composition with plain loops, for thread counts 1 to 16;
// - test/native/launch_order_check.cpp: which CUDA launches may start before the kernel ahead of
//   them has finished (cuda/gpu/launch_order.h, host-only logic). A value-only forward launched
//   early reads its inputs before it waits, so a wrong answer there is a race.
// test/native/kernel_check.cu needs a GPU: bench/device/gpu-check.sh builds and runs it.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
const outDir = path.join(root, 'build', 'native-tests');

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

// Compiles `sources` (relative to the repository) into build/native-tests/<name>; null without a compiler.
function build(name, sources, flags) {
  const cxx = compiler();
  if (!cxx) {
    console.log(`      (no C++ compiler found: ${name} skipped)`);
    return null;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const exe = path.join(outDir, name);
  execFileSync(cxx, ['-std=c++17', ...flags, '-I', path.join(root, 'cuda'), ...sources.map((s) => path.join(root, s)),
    '-o', exe, '-pthread'], { stdio: 'pipe' });
  return exe;
}

// Runs `exe`; its whole output on failure (a non-zero exit code is a failed check).
function run(exe, args) {
  try {
    return execFileSync(exe, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    assert.fail(`${path.basename(exe)} exited with ${e.status}:\n${e.stdout}${e.stderr}`);
  }
}

describe('native checkers (host C++, no GPU)', function () {
  it('the CPU path passes test/native/cpu_check.cpp (correctness checks)', function () {
    this.timeout(600000);
    const exe = build('cpu_check', ['test/native/cpu_check.cpp', 'cuda/cpu/ssim_cpu.cpp'], ['-O3']);
    if (!exe) this.skip();
    const output = run(exe, ['--no-timing']);
    assert.match(output, /^PASS: \d+ checks, 0 failed$/m, output);
    assert.doesNotMatch(output, /^FAIL /m, output);
    assert.ok(Number(/^PASS: (\d+) checks/m.exec(output)[1]) >= 100, output);
  });

  it('the CPU MS-SSIM path passes test/native/msssim_cpu_check.cpp (bitwise the composition, any thread count)', function () {
    this.timeout(600000);
    const exe = build('msssim_cpu_check',
      ['test/native/msssim_cpu_check.cpp', 'cuda/cpu/ssim_cpu.cpp', 'cuda/cpu/msssim_cpu.cpp'], ['-O3']);
    if (!exe) this.skip();
    const output = run(exe, []);
    assert.match(output, /^PASS: \d+ checks, 0 failed$/m, output);
    assert.doesNotMatch(output, /^FAIL /m, output);
    assert.ok(Number(/^PASS: (\d+) checks/m.exec(output)[1]) >= 30, output);
  });

  it('cuda/gpu/launch_order.h passes test/native/launch_order_check.cpp', function () {
    this.timeout(120000);
    const exe = build('launch_order_check', ['test/native/launch_order_check.cpp'], []);
    if (!exe) this.skip();
    const output = run(exe, []);
    assert.match(output, /^0 failure\(s\)$/m, output);
    assert.ok((output.match(/^PASS /gm) || []).length >= 10, output);
  });
});
