'use strict';
// Source builds (scripts/build-native.js runs cmake-js on CMakeLists.txt): the CUDA targets that a
// configure picks, and keeps when the same build directory is configured again (a second `npm
// rebuild`). Configures only (no compile), in a temporary build directory; skipped, and counted as
// skipped, without cmake or nvcc.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
const DEFAULT_13 = '75-real;80-real;86-real;89-real;90-real;100-real;120-real;75-virtual';

function found(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch (e) {
    return false;
  }
}

// The targets the configure of `dir` reports ("cuda-ssim: CUDA <version>, architectures <list>").
function configure(dir, env = {}) {
  const e = { ...process.env, ...env };
  if (!('CUDAARCHS' in env)) delete e.CUDAARCHS;
  const log = execFileSync('cmake', ['-S', root, '-B', dir], { env: e, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /cuda-ssim: CUDA (\S+), architectures (\S+)/.exec(log);
  assert.ok(m, `the configure names its CUDA targets:\n${log}`);
  return { version: m[1], archs: m[2] };
}

describe('source builds: the CUDA targets of a configure, and of a reconfigure', function () {
  let dir;
  before(function () {
    if (!found('cmake', ['--version']) || !found('nvcc', ['--version'])) {
      console.log('      (cmake or nvcc not found: skipped)');
      this.skip();
    }
  });
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cuda-ssim-cmake-'));
  });
  afterEach(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('no CUDAARCHS: the whole list, again on a second configure of the same directory', function () {
    const first = configure(dir);
    if (!first.version.startsWith('13.')) this.skip(); // the list below is CUDA 13's
    assert.strictEqual(first.archs, DEFAULT_13);
    // the compiler's cached default (sm_75 alone) must not pass for a choice the second time
    assert.strictEqual(configure(dir).archs, DEFAULT_13);
  });

  it('CUDAARCHS picks the targets, on a fresh directory and on one configured before', function () {
    assert.strictEqual(configure(dir, { CUDAARCHS: '90' }).archs, '90');
    assert.strictEqual(configure(dir).archs, '90', 'a choice stays, as CMake keeps cached settings');
    assert.strictEqual(configure(dir, { CUDAARCHS: '86;90' }).archs, '86;90', 'a later CUDAARCHS replaces it');
  });
});
