#!/usr/bin/env node
// The spread of one host-array call within a process (docs/PERFORMANCE.md, "Promise calls and host
// arrays"): 12 allocating calls of the 8x3x2160x3840 float32 value row on the same inputs (the
// first one warms the device's memory pool and the staging buffers), then 6 uploads of one input
// into a device array. Prints milliseconds per call. Run on the GPU machine:
// node bench/device/host-call-spread.js
'use strict';
const api = require('../..');
const { now, seededRandom } = require('../timing');
const random = seededRandom(5);
const shape = { batch: 8, channels: 3, height: 2160, width: 3840 };
const n = shape.batch * shape.channels * shape.height * shape.width;
const hx = new Float32Array(n), hy = new Float32Array(n);
for (let i = 0; i < n; i++) { hx[i] = random(); hy[i] = Math.min(1, hx[i] + 0.05 * random()); }
const x = { ...shape, data: hx }, y = { ...shape, data: hy };
const time = (fn) => { const t0 = now(); fn(); return (now() - t0).toFixed(1); };
const calls = Array.from({ length: 12 }, () => time(() => api.ssim(x, y, { backend: 'cuda' })));
const d = api.DeviceArray.from(hx);
const uploads = Array.from({ length: 6 }, () => time(() => d.copyFrom(hx)));
d.dispose();
console.log(`host calls ms: ${calls.join(' ')} | copyFrom of ${(4 * n / 1e6).toFixed(0)} MB ms: ${uploads.join(' ')}`);
