#!/usr/bin/env node
// Writes random image pairs and cuda-ssim's values for them (both backends, 'valid' padding) so
// that crosscheck.py can compare with scikit-image, an implementation we share nothing with.
// Usage: node bench/device/crosscheck.js DIR && python3 bench/device/crosscheck.py DIR
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { ssim, backendInfo } = require('../..');

const dir = process.argv[2] || '/tmp/crosscheck';
fs.mkdirSync(dir, { recursive: true });
const backends = backendInfo().cuda.available ? ['cpu', 'cuda'] : ['cpu'];
const cases = [];
const shapes = [[1, 64, 64], [3, 97, 131], [1, 11, 300], [3, 480, 640]];
shapes.forEach(([channels, height, width], i) => {
  const n = channels * height * width;
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let k = 0; k < n; k++) { x[k] = Math.random(); y[k] = Math.min(1, Math.max(0, x[k] + 0.3 * (Math.random() - 0.5))); }
  fs.writeFileSync(path.join(dir, `x${i}.f32`), Buffer.from(x.buffer));
  fs.writeFileSync(path.join(dir, `y${i}.f32`), Buffer.from(y.buffer));
  const c = { index: i, channels, height, width, values: {} };
  for (const backend of backends) {
    c.values[backend] = ssim({ data: x, width, height, channels }, { data: y, width, height, channels }, { padding: 'valid', backend });
  }
  cases.push(c);
});
fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(cases, null, 1));
console.log(`wrote ${cases.length} pairs to ${dir} (backends: ${backends.join(', ')})`);
