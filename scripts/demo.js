#!/usr/bin/env node
// npm run demo: SSIM and DSSIM of the bundled sample images (samples/*.png) against their
// reference, one call per pair and then all pairs as one batch, with the backend and timings.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { PNG } = require('pngjs');
const { ssim, dssim, ssimWithGradient, backendInfo } = require('..');

const dir = path.join(__dirname, '..', 'samples');
function load(name) {
  const png = PNG.sync.read(fs.readFileSync(path.join(dir, name)));
  const rgb = new Uint8Array(png.width * png.height * 3);   // drop alpha: SSIM of the colour channels
  for (let i = 0; i < png.width * png.height; i++) rgb.set(png.data.subarray(i * 4, i * 4 + 3), i * 3);
  return { data: rgb, width: png.width, height: png.height, channels: 3 };
}
const time = (f) => { const t = process.hrtime.bigint(); const r = f(); return [r, Number(process.hrtime.bigint() - t) / 1e6]; };

const info = backendInfo();
const gpu = info.cuda.devices[0];
console.log(`cuda-ssim demo | backend: ${info.backend}` +
  (info.backend === 'cuda' ? ` (${gpu.name}, sm_${gpu.computeCapability.replace('.', '')})` : ` (${info.cpu.threads} CPU threads; CUDA: ${info.cuda.reason})`));

const ref = load('reference.png');
const names = fs.readdirSync(dir).filter((f) => f.endsWith('.png') && f !== 'reference.png').sort();
ssim(ref, ref); // first call loads the backend (and on a GPU creates the CUDA context)
console.log(`\n${'pair'.padEnd(32)} ${'SSIM'.padStart(8)} ${'DSSIM'.padStart(8)} ${'ms'.padStart(8)}`);
const tests = names.map(load);
names.forEach((name, i) => {
  const [s, ms] = time(() => ssim(tests[i], ref));
  const d = dssim(tests[i], ref);
  console.log(`${(name + ' vs reference.png').padEnd(32)} ${s.toFixed(5).padStart(8)} ${d.toFixed(5).padStart(8)} ${ms.toFixed(2).padStart(8)}`);
});

// All pairs in one batched call (hwc images stacked), and the gradient a training loop would use.
const px = ref.data.length;
const x = new Uint8Array(px * tests.length), y = new Uint8Array(px * tests.length);
tests.forEach((t, i) => { x.set(t.data, i * px); y.set(ref.data, i * px); });
const batch = { data: x, width: ref.width, height: ref.height, channels: 3, batch: tests.length };
const [values, msBatch] = time(() => ssim(batch, { ...batch, data: y }));
console.log(`\nbatch of ${tests.length} pairs in one call: [${Array.from(values, (v) => v.toFixed(5)).join(', ')}] in ${msBatch.toFixed(2)} ms`);
const [{ value, gradient }, msGrad] = time(() => ssimWithGradient(tests[0], ref));
let norm = 0; for (const g of gradient) norm += g * g;
console.log(`ssimWithGradient(${names[0]}): value ${value.toFixed(5)}, |gradient| ${Math.sqrt(norm).toExponential(3)} over ${gradient.length} values in ${msGrad.toFixed(2)} ms`);

// The command line (bin/cuda-ssim.js), as `npx cuda-ssim REFERENCE TEST` runs it.
const { spawnSync } = require('node:child_process');
const bin = path.join(__dirname, '..', 'bin', 'cuda-ssim.js');
const cliArgs = [path.join('samples', 'reference.png'), path.join('samples', names[0]), '--json'];
const cli = spawnSync(process.execPath, [bin, ...cliArgs], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
console.log(`\n$ cuda-ssim ${cliArgs.join(' ')}\n${cli.stdout.trim() || cli.stderr.trim()} (exit ${cli.status})`);
