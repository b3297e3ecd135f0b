'use strict';
// What the evaluate and cli suites share: the package's cuda-ssim/evaluate module, and an
// evaluation's results gathered into an array.

const path = require('path');
const pkg = require('./pkg');

function evaluateModule() {
  return require(path.join(pkg.root, 'dist', 'evaluate'));
}

async function collect(evaluation) {
  const out = [];
  for await (const r of evaluation) out.push(r);
  return out;
}

module.exports = { evaluateModule, collect };
