#!/usr/bin/env node
// node bench/device/msssim_torch_check.js DIR: fixed random inputs (seeded), cuda-ssim's MS-SSIM
// value and gradient on CUDA (and on the CPU backend), written to DIR for
// bench/device/msssim_torch_check.py, which checks them against PyTorch autograd of a float64
// MS-SSIM written after pytorch-msssim.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const api = require('../..');

const dir = process.argv[2];
if (!dir) throw new Error('usage: msssim_torch_check.js DIR');
fs.mkdirSync(dir, { recursive: true });

let state = 0x2545f491;
const rand = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return state / 4294967296; };

const CASES = [
  { name: 'valid_b2_c3_256_chw', batch: 2, channels: 3, height: 256, width: 256, layout: 'chw', opts: { padding: 'valid' } },
  { name: 'valid_b1_c3_181x203_hwc', batch: 1, channels: 3, height: 181, width: 203, layout: 'hwc', opts: { padding: 'valid' } },
  { name: 'same_b2_c2_97x75_chw_w3', batch: 2, channels: 2, height: 97, width: 75, layout: 'chw', opts: { weights: [0.3, 0.3, 0.4] } },
  { name: 'same_b3_c1_64x48_hwc_win7', batch: 3, channels: 1, height: 64, width: 48, layout: 'hwc', opts: { windowSize: 7, sigma: 1.2 } },
  // one planar image, 'same', 4 strips a plane (packing the planes would not save a strip, so
  // scale 0's forward pools scale 1): its value-only call combines in the coarse scales' launch
  // (ms-v18)
  { name: 'same_b1_c3_270x464_chw', batch: 1, channels: 3, height: 270, width: 464, layout: 'chw', opts: {} },
];
const manifest = [];
for (const c of CASES) {
  const n = c.batch * c.channels * c.height * c.width;
  const x = new Float32Array(n), y = new Float32Array(n);
  // smooth structure plus noise, y a degraded x (cs well above 0 at every scale)
  for (let i = 0; i < n; i++) {
    const pix = c.layout === 'chw' ? i % (c.height * c.width) : Math.floor(i / c.channels) % (c.height * c.width);
    const r = Math.floor(pix / c.width), col = pix % c.width;
    const v = 0.5 + 0.25 * Math.sin(0.11 * r + 0.07 * col) + 0.15 * (rand() - 0.5);
    x[i] = Math.min(1, Math.max(0, v));
    y[i] = Math.min(1, Math.max(0, 0.8 * v + 0.1 + 0.2 * (rand() - 0.5)));
  }
  const shape = { width: c.width, height: c.height, channels: c.channels, batch: c.batch, layout: c.layout };
  const g = api.msssimWithGradient({ ...shape, data: x }, { ...shape, data: y }, { ...c.opts, backend: 'cuda' });
  const cpu = api.msssimWithGradient({ ...shape, data: x }, { ...shape, data: y }, { ...c.opts, backend: 'cpu' });
  const write = (suffix, arr) => fs.writeFileSync(path.join(dir, `${c.name}.${suffix}.f32`), Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
  write('x', x); write('y', y); write('value', g.value); write('grad', g.gradient);
  write('cpu_value', cpu.value); write('cpu_grad', cpu.gradient);
  // the value-only call, which takes its own path (one planar image: the folded combination)
  const valueOnly = api.msssim({ ...shape, data: x }, { ...shape, data: y }, { ...c.opts, backend: 'cuda' });
  write('value_only', Float32Array.from(typeof valueOnly === 'number' ? [valueOnly] : valueOnly));
  manifest.push({ ...c, weights: c.opts.weights || [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] });
  console.log(`${c.name}: cuda ${Array.from(g.value).map((v) => v.toFixed(7)).join(' ')}  cpu ${Array.from(cpu.value).map((v) => v.toFixed(7)).join(' ')}`);
}
fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
