#!/usr/bin/env node
// Two in-place MS-SSIM calls per benchmark row, for a profiler to list each kernel's time:
//   ncu --clock-control none --metrics gpu__time_duration.sum --csv node bench/device/msssim-profile.js [row...]
// (ncu runs the kernels one at a time: their sum, not the call's time, which overlaps the
// coarse scales with scale 0.)
'use strict';
const api = require('../..');
const ROWS = {
  fhd: [1, 3, 1080, 1920, false],
  b32: [32, 3, 256, 256, true],
  b5: [5, 5, 1080, 1920, true],
  k4: [8, 3, 2160, 3840, false],
};
const rand = require('../timing').seededRandom(5);
for (const name of process.argv.slice(2).length ? process.argv.slice(2) : ['fhd', 'b32']) {
  const [batch, channels, height, width, gradient] = ROWS[name];
  const n = batch * channels * height * width;
  const hx = new Float32Array(n), hy = new Float32Array(n);
  for (let i = 0; i < n; i++) { hx[i] = rand(); hy[i] = Math.min(1, Math.max(0, hx[i] + 0.2 * (rand() - 0.5))); }
  const shape = { width, height, channels, batch, layout: 'chw' };
  const x = { ...shape, data: api.DeviceArray.from(hx) }, y = { ...shape, data: api.DeviceArray.from(hy) };
  const out = api.DeviceArray.alloc('float32', batch);
  const grad = gradient ? api.DeviceArray.alloc('float32', n) : null;
  const workspace = api.Workspace.for(shape, { gradient, msssim: true });
  for (let i = 0; i < 2; i++) {
    if (gradient) api.msdssimWithGradientInto(out, grad, x, y, { workspace });
    else api.msssimInto(out, x, y, { workspace });
  }
  api.synchronize();
  console.log(`${name}: ${out.toHost()[0]}`);
}
