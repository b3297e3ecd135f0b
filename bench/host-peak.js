#!/usr/bin/env node
// node bench/host-peak.js BATCH CHANNELS HEIGHT WIDTH fwd|fwdbwd
//
// Prints the device bytes that one call of the allocating host path (ssim or dssimWithGradient on
// Float32Arrays, CHW) holds at its peak. bench/run.js runs it in a fresh process, where the
// addon's peak counter (deviceCounters().peakBytesInUse, since load) counts this call alone.
'use strict';
const api = require('..');

const [batch, channels, height, width] = process.argv.slice(2, 6).map(Number);
const kind = process.argv[6];
const n = batch * channels * height * width;
const shape = { width, height, channels, batch, layout: 'chw' };
const x = { ...shape, data: new Float32Array(n).fill(0.5) };
const y = { ...shape, data: new Float32Array(n).fill(0.25) };
const before = api.deviceCounters();
if (before.peakBytesInUse !== before.bytesInUse) throw new Error('host-peak: device memory was in use before the call');
if (kind === 'fwd') api.ssim(x, y);
else if (kind === 'fwdbwd') api.dssimWithGradient(x, y);
else throw new Error(`host-peak: kind is fwd or fwdbwd, not ${kind}`);
console.log(api.deviceCounters().peakBytesInUse - before.bytesInUse);
