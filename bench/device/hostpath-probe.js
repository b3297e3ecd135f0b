#!/usr/bin/env node
// Where the time of a host-array CUDA call goes, for the evaluate workload (1080p RGB uint8
// pairs): stacking a batch in JavaScript, the batched call, one call per pair, the upload alone.
// Prints milliseconds per pair (median of 5). Run on the GPU machine: node bench/device/hostpath-probe.js
'use strict';
const api = require('../..');
const W = 1920, H = 1080, C = 3, B = 16;
const per = W * H * C;
const { now, median, seededRandom } = require('../timing');
const random = seededRandom(7);
const rand = () => Math.floor(random() * 256);  // a byte: the generator's top 8 bits
const pairs = Array.from({ length: B }, () => {
  const x = new Uint8Array(per), y = new Uint8Array(per);
  for (let i = 0; i < per; i++) { x[i] = rand(); y[i] = (x[i] + (rand() >> 4)) & 255; }
  return [x, y];
});
const shape = { width: W, height: H, channels: C };
function time(label, fn, reps = 5) {
  fn();
  const t = [];
  for (let r = 0; r < reps; r++) { const t0 = now(); fn(); t.push(now() - t0); }
  console.log(`${label.padEnd(48)} ${(median(t) / B).toFixed(3)} ms/pair`);
}
let stacked;
time('stack 16 pairs in JS (new + set)', () => {
  const x = new Uint8Array(per * B), y = new Uint8Array(per * B);
  pairs.forEach(([a, b], k) => { x.set(a, k * per); y.set(b, k * per); });
  stacked = [x, y];
});
time('ssim, one batched call of 16 (host uint8)', () => api.ssim({ ...shape, batch: B, data: stacked[0] }, { ...shape, batch: B, data: stacked[1] }, { backend: 'cuda' }));
time('ssim, 16 calls of one pair (host uint8)', () => { for (const [x, y] of pairs) api.ssim({ ...shape, data: x }, { ...shape, data: y }, { backend: 'cuda' }); });
time('upload only: 2 x DeviceArray.from per pair', () => { for (const [x, y] of pairs) { api.DeviceArray.from(x).dispose(); api.DeviceArray.from(y).dispose(); } });
const f = pairs.slice(0, 4).map(([x, y]) => [Float32Array.from(x, (v) => v / 255), Float32Array.from(y, (v) => v / 255)]);
time('ssim, float32 host pair (x4, scaled to /16)', () => { for (let k = 0; k < 4; k++) for (const [x, y] of f) api.ssim({ ...shape, data: x }, { ...shape, data: y }, { backend: 'cuda' }); });
