#!/usr/bin/env node
// What a promise call adds to the sync call on device arrays: per row, `sync + wait` (the sync
// call, then synchronize()), the promise call awaited one at a time, and the promise call with a
// chain of setImmediate kept running by the caller (the event loop never sleeps), in us over
// `sync + wait` (medians of 7 repetitions of 200 small or 40 large calls). With lib/loop-awake.ts
// in place the last two columns should agree; before it, they measured +12 and +6 us (fhd_1ch),
// +100 and +20 us (4K) on the H200 (docs/PERFORMANCE.md, "Promise calls and host arrays").
// Run on the GPU machine: node bench/device/promise-probe.js
'use strict';
const api = require('../..');
const promises = require('../../dist/promises.js');
const { now, median, seededRandom } = require('../timing');
const rand = seededRandom(7);

function device(n) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rand();
  return api.DeviceArray.from(x);
}

async function row(name, batch, channels, height, width, gradient, calls) {
  const shape = { width, height, channels, layout: 'chw', ...(batch > 1 ? { batch } : {}) };
  const n = batch * channels * height * width;
  const x = { ...shape, data: device(n) }, y = { ...shape, data: device(n) };
  const out = api.DeviceArray.alloc('float32', batch);
  const grad = gradient ? api.DeviceArray.alloc('float32', n) : null;
  const workspace = api.Workspace.for(shape, { gradient });
  const opts = { workspace };
  const sync = () => (gradient ? api.dssimWithGradientInto(out, grad, x, y, opts) : api.ssimInto(out, x, y, opts));
  const promise = () => (gradient ? promises.dssimWithGradientInto(out, grad, x, y, opts) : promises.ssimInto(out, x, y, opts));
  for (let i = 0; i < 20; i++) { sync(); await promise(); }
  api.synchronize();
  const t = { wait: [], promise: [], spun: [] };
  for (let r = 0; r < 7; r++) {
    let t0 = now();
    for (let i = 0; i < calls; i++) { sync(); api.synchronize(); }
    t.wait.push((now() - t0) / calls);
    t0 = now();
    for (let i = 0; i < calls; i++) await promise();
    t.promise.push((now() - t0) / calls);
    let spinning = true;
    const spin = () => { if (spinning) setImmediate(spin); };
    spin();
    t0 = now();
    for (let i = 0; i < calls; i++) await promise();
    t.spun.push((now() - t0) / calls);
    spinning = false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const wait = median(t.wait);
  const us = (v) => `${(v - wait) * 1e3 >= 0 ? '+' : ''}${((v - wait) * 1e3).toFixed(1)}`.padStart(7);
  console.log(`${name.padEnd(10)} sync + wait ${(wait * 1e3).toFixed(1).padStart(7)} us   promise ${us(median(t.promise))} us   promise, loop spun by the caller ${us(median(t.spun))} us`);
  for (const d of [x.data, y.data, out, grad, workspace]) if (d) d.dispose();
}

(async () => {
  await row('fhd_1ch', 1, 1, 1080, 1920, false, 200);
  await row('b128', 128, 3, 32, 48, true, 200);
  await row('b32_3ch', 32, 3, 256, 256, true, 200);
  await row('b5', 5, 5, 1080, 1920, true, 40);
  await row('4K', 8, 3, 2160, 3840, false, 40);
})();
