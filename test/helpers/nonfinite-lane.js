'use strict';
// A test seam for non-finite SSIM values (the evaluate layer must not trust the kernel's): wraps
// the in-process lane (dist/evaluate/lanes.js) so that a batch of width % 4 === 1 comes back NaN,
// of width % 4 === 3 Infinity, and of an even width untouched. In-process: install() returns the
// restore function; for the CLI: node -r this-file bin/cuda-ssim.js with SSIM_TEST_NONFINITE=1.

const path = require('path');

const root = process.env.SSIM_TEST_PACKAGE_ROOT ? path.resolve(process.env.SSIM_TEST_PACKAGE_ROOT) : path.join(__dirname, '..', '..');

function poisoned(width) {
  if (width % 4 === 1) return NaN;
  if (width % 4 === 3) return Infinity;
  return null;
}

function install() {
  const lanes = require(path.join(root, 'dist', 'evaluate', 'lanes.js'));
  const original = lanes.LocalLane.prototype.run;
  lanes.LocalLane.prototype.run = async function run(batch) {
    const out = await original.call(this, batch);
    const v = poisoned(batch.width);
    if (v !== null) out.values.fill(v);
    return out;
  };
  return () => {
    lanes.LocalLane.prototype.run = original;
  };
}

if (process.env.SSIM_TEST_NONFINITE === '1') install();

module.exports = { install, poisoned };
