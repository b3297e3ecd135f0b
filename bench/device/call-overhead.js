#!/usr/bin/env node
// What one synchronous CUDA call costs the host, against its kernels' time: loops of in-place
// calls on device arrays, synchronised once at the end (per-call time = elapsed / N, median of 5).
// A tiny image makes a loop host-bound (the host's time per call); a large one kernel-bound. Where
// the host's time approaches the kernels', the early start of value-only forwards (v13) is lost.
// Run on the GPU machine: node bench/device/call-overhead.js
'use strict';
const api = require('../..');
const { now, median, seededRandom } = require('../timing');
const rand = seededRandom(11);

function device(n) {
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let i = 0; i < n; i++) { x[i] = rand(); y[i] = Math.min(1, Math.max(0, x[i] + 0.2 * (rand() - 0.5))); }
  return [api.DeviceArray.from(x), api.DeviceArray.from(y)];
}

function row(label, width, height, channels, call, calls, msssim = false) {
  const [dx, dy] = device(width * height * channels);
  const img = (data) => ({ data, width, height, channels, layout: 'chw' });
  const x = img(dx), y = img(dy);
  const out = api.DeviceArray.alloc('float32', 1);
  const workspace = api.Workspace.for({ width, height, channels, layout: 'chw' }, { gradient: false, msssim });
  const run = () => call(out, x, y, { workspace });
  for (let i = 0; i < 50; i++) run();
  api.synchronize();
  const t = [];
  for (let r = 0; r < 5; r++) {
    const t0 = now();
    for (let i = 0; i < calls; i++) run();
    const issued = now();
    api.synchronize();
    t.push([(now() - t0) / calls, (issued - t0) / calls]);
  }
  const total = median(t.map((v) => v[0])), issue = median(t.map((v) => v[1]));
  console.log(`${label.padEnd(36)} ${(total * 1000).toFixed(2).padStart(8)} us/call   host issue ${(issue * 1000).toFixed(2).padStart(8)} us/call`);
  for (const d of [dx, dy, out, workspace]) d.dispose();
}

const ssimInto = (out, x, y, opts) => api.ssimInto(out, x, y, opts);
const msssimInto = (out, x, y, opts) => api.msssimInto(out, x, y, opts);
row('ssimInto 16x16 (host-bound)', 16, 16, 1, ssimInto, 20000);
row('ssimInto 1920x1080x1 (fhd_1ch)', 1920, 1080, 1, ssimInto, 2000);
row('ssimInto 1920x1080x3 (fhd_3ch)', 1920, 1080, 3, ssimInto, 2000);
row('msssimInto 16x16 (host-bound)', 16, 16, 1, msssimInto, 5000, true);
row('msssimInto 1920x1080x3', 1920, 1080, 3, msssimInto, 1000, true);
