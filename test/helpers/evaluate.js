'use strict';
// What the evaluate and cli suites share: the package's cuda-ssim/evaluate module, its internal
// modules (for helpers the public entry does not export), and an evaluation's results gathered
// into an array.

const path = require('path');
const pkg = require('./pkg');

function evaluateModule() {
  return require(path.join(pkg.root, 'dist', 'evaluate'));
}

// A module of lib/evaluate/ that the public entry does not export (its helpers: quantile, jsonLine, ...).
function evaluateInternal(name) {
  return require(path.join(pkg.root, 'dist', 'evaluate', `${name}.js`));
}

async function collect(evaluation) {
  const out = [];
  for await (const r of evaluation) out.push(r);
  return out;
}

module.exports = { evaluateModule, evaluateInternal, collect };
