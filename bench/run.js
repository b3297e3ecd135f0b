#!/usr/bin/env node
// npm run bench [-- --gpu | --cpu] [--out DIR] [--only NAME,...] [--device-only]
//
// Times cuda-ssim through its public API (N-API overhead included) with the protocol of the
// peers' table: inputs resident on the device, float32 in [0, 1], warm-up, a device-synchronised
// loop of N calls, per-call time = elapsed / N, 15 repetitions, median, two input sets alternating.
// GPU rows: `fwd` = ssimInto on DeviceArrays, `fwdbwd` = dssimWithGradientInto with a reused
// Workspace. Rows ending in _fp16 / _bf16 take float16 / bfloat16 inputs (the same values rounded;
// float32 gradient), _fp16_gin also writes the gradient in float16 (gradientDtype 'input'). Rows
// ending in _hwc take interleaved inputs (the library's default layout; the others are planar,
// the peers' layout) and are timed on the device only: their bus bytes are the planar row's;
// the MS-SSIM rows have such twins too.
// Each row also gets its floor on this machine (bytes / measured copy rate, flops / measured
// fp32 rate: bench/native/ceilings.cu, built here on first use) and, where the peers were
// measured, the ratio to fused-ssim.
// CPU rows run the CPU backend next to ssim.js (what Node users run today) in the same process.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const api = require('..');
const asyncApi = require('../dist/promises.js');
const peers = require('./peers.json');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const outDir = option('--out', path.join(__dirname, 'results'));
const only = option('--only', '').split(',').filter(Boolean);
const REPS = 15;
// --device-only: time the calls on device arrays only (no promises, no host path): quick A/B runs.
const deviceOnly = flag('--device-only');

// Arithmetic per input element, counted for the algorithm with folded symmetric taps (11 taps:
// 6 multiplies + 10 adds per moment and pass): forward = 5 moments x 2 passes x 16 + 3 products
// + ~25 for the SSIM formula; backward = 3 maps x 2 passes x 16 + ~20 for partials and combination.
const FLOPS_PER_ELEMENT = { fwd: 188, fwdbwd: 188 + 116 };

const GPU_CASES = [
  ['fhd_1ch_fwd', 1, 1, 1080, 1920, 'fwd'],
  ['fhd_3ch_fwd', 1, 3, 1080, 1920, 'fwd'],
  ['b32_1ch_256_fwdbwd', 32, 1, 256, 256, 'fwdbwd'],
  ['b32_3ch_256_fwdbwd', 32, 3, 256, 256, 'fwdbwd'],
  ['b128_3ch_32x48_fwdbwd', 128, 3, 32, 48, 'fwdbwd'],
  ['b5_5ch_fhd_fwdbwd', 5, 5, 1080, 1920, 'fwdbwd'],
  ['b8_3ch_4k_fwd', 8, 3, 2160, 3840, 'fwd'],
  // half-precision inputs (7th: the dtype; 8th: the gradient in it)
  ['b32_3ch_256_fwdbwd_fp16', 32, 3, 256, 256, 'fwdbwd', 'float16'],
  ['b32_3ch_256_fwdbwd_fp16_gin', 32, 3, 256, 256, 'fwdbwd', 'float16', true],
  ['b32_3ch_256_fwdbwd_bf16', 32, 3, 256, 256, 'fwdbwd', 'bfloat16'],
  ['b8_3ch_4k_fwd_fp16', 8, 3, 2160, 3840, 'fwd', 'float16'],
  ['b8_3ch_4k_fwd_bf16', 8, 3, 2160, 3840, 'fwd', 'bfloat16'],
];
// Interleaved twins (`NAME_hwc`) of the rows named: the same cases in the library's default layout.
const hwcTwins = (cases, names) => cases.filter((c) => names.includes(c[0])).map(([name, ...rest]) => [`${name}_hwc`, ...rest]);
// Twins of the multi-channel float32 rows (issue 15: within 10% of the planar time).
GPU_CASES.push(...hwcTwins(GPU_CASES, ['fhd_3ch_fwd', 'b32_3ch_256_fwdbwd', 'b128_3ch_32x48_fwdbwd', 'b5_5ch_fhd_fwdbwd', 'b8_3ch_4k_fwd']));
// MS-SSIM rows (5 scales, default weights): `ms_fwd` = msssimInto, `ms_fwdbwd` =
// msdssimWithGradientInto, on DeviceArrays with a reused MS-SSIM Workspace; the peer is
// pytorch-msssim on an H200 (bench/peers.json, msssim_cases).
const MSSSIM_CASES = [
  ['msssim_b32_3ch_256_fwdbwd', 32, 3, 256, 256, 'ms_fwdbwd'],
  ['msssim_fhd_3ch_fwd', 1, 3, 1080, 1920, 'ms_fwd'],
  ['msssim_b8_3ch_4k_fwd', 8, 3, 2160, 3840, 'ms_fwd'],
  ['msssim_b5_5ch_fhd_fwdbwd', 5, 5, 1080, 1920, 'ms_fwdbwd'],
];
MSSSIM_CASES.push(...hwcTwins(MSSSIM_CASES, MSSSIM_CASES.map((c) => c[0])));
const CPU_CASES = [
  ['cpu_fhd_1ch_fwd', 1, 1, 1080, 1920, 'fwd'],
  ['cpu_fhd_3ch_fwd', 1, 3, 1080, 1920, 'fwd'],
  ['cpu_b8_3ch_256_fwdbwd', 8, 3, 256, 256, 'fwdbwd'],
];

const { now, median } = require('./timing');
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

// Fresh pseudo-random images: x uniform in [0, 1], y = x plus noise, clamped (a realistic pair).
let state = (Date.now() ^ 0x9e3779b9) >>> 0;
function fillPair(x, y) {
  for (let i = 0; i < x.length; i++) {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    const u = state / 4294967296;
    x[i] = u;
    const v = u + 0.2 * (((state * 2654435761) >>> 0) / 4294967296 - 0.5);
    y[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

// An interleaved twin's time over its planar row's in the same run (the planar row runs first).
function ofPlanar(table, c, medianMs) {
  const planar = c.layout === 'hwc' ? table[c.name.slice(0, -'_hwc'.length)] : undefined;
  return planar ? medianMs / planar.median_ms : undefined;
}

// Bytes a row must move, each input read once and each output written once: `up`, the two inputs
// (uploaded, on the host path); `down`, the values and the gradient (downloaded). Half-precision
// inputs are 2 bytes; the gradient too where it takes the input's dtype.
function movedBytes(c) {
  const inBytes = c.dtype === 'float32' ? 4 : 2;
  const up = 2 * inBytes * c.n;
  const down = 4 * c.batch + (c.kind === 'fwdbwd' ? (c.gradInput ? 2 : 4) * c.n : 0);
  return { up, down };
}

// Median milliseconds of an allocating host-array call, after a warm-up (fewer calls for big ones).
function hostPathMs(c, hostCall) {
  hostCall();
  const times = [];
  for (let k = 0; k < (c.n > 5e7 ? 3 : 7); k++) { const t = now(); hostCall(); times.push(now() - t); }
  return median(times);
}

function shapeOf([name, batch, channels, height, width, kind, dtype = 'float32', gradInput = false]) {
  const layout = name.endsWith('_hwc') ? 'hwc' : 'chw';
  return { name, batch, channels, height, width, kind, dtype, gradInput, layout, n: batch * channels * height * width };
}

// float32 values -> float16 / bfloat16 bits, rounded to nearest even (cuda/common/half_types.h's rounding).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function halfBits(v, dtype) {
  f32[0] = v;
  const x = u32[0];
  if (dtype === 'bfloat16') return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  const sign = (x >>> 16) & 0x8000;
  const ax = x & 0x7fffffff;
  if (ax >= 0x477ff000) return sign | (ax > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (ax >= 0x38800000) return sign | ((ax - 0x38000000 + 0xfff + ((ax >>> 13) & 1)) >>> 13);
  return sign | Math.round(Math.abs(v) * 2 ** 24);  // subnormal (bench data: exact enough)
}
function toHalf(a, dtype) {
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = halfBits(a[i], dtype);
  return out;
}

// Per-call milliseconds of `call(i)`: N calls per repetition, synchronised by `sync`, 15 repetitions.
function timeLoop(call, sync, targetMs = 25) {
  for (let i = 0; i < 10; i++) call(i);
  sync();
  let t = now();
  for (let i = 0; i < 5; i++) call(i);
  sync();
  const estimate = Math.max((now() - t) / 5, 1e-4);
  const calls = Math.min(5000, Math.max(5, Math.ceil(targetMs / estimate)));
  const perCall = [];
  for (let r = 0; r < REPS; r++) {
    t = now();
    for (let i = 0; i < calls; i++) call(i);
    sync();
    perCall.push((now() - t) / calls);
  }
  return { median_ms: median(perCall), calls_per_rep: calls, reps: REPS, all_ms: perCall };
}

async function timeAsyncLoop(call, calls) {
  const perCall = [];
  for (let r = 0; r < REPS; r++) {
    const t = now();
    for (let i = 0; i < calls; i++) await call(i);
    perCall.push((now() - t) / calls);
  }
  return median(perCall);
}

// The copy and fp32 ceilings of a device, from a small CUDA program built next to the addon only
// for the benchmark (CMake option CUDA_SSIM_BENCH): the package's addon does not carry it.
function measureCeilings(device) {
  const root = path.join(__dirname, '..');
  const exe = path.join(root, 'build', 'Release', `cuda_ssim_ceilings${process.platform === 'win32' ? '.exe' : ''}`);
  if (!fs.existsSync(exe)) {
    console.log('# building bench/native/ceilings.cu: CUDA_SSIM_BENCH=1 npm run build:native');
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.js')],
      { stdio: 'inherit', cwd: root, env: { ...process.env, CUDA_SSIM_BENCH: '1' } });
    if (r.status !== 0 || !fs.existsSync(exe)) throw new Error(`could not build ${path.relative(root, exe)} (needs nvcc)`);
  }
  return JSON.parse(execFileSync(exe, [String(device)], { encoding: 'utf8' }));
}

// Device bytes the allocating host path holds at its peak in one call, measured in a fresh
// process (bench/host-peak.js), where the addon's peak counter has seen nothing else.
function hostPeakDeviceBytes(c) {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'host-peak.js'), c.batch, c.channels, c.height, c.width, c.kind]
    .map(String), { encoding: 'utf8' });
  return Number(out.trim());
}

// The planar rows' other paths: the same call through the promises API (each call resolves after
// the device finished), the sync call waited for (what a promise call costs at best), and the
// allocating host path (Float32Arrays in, uploads and downloads included) against the bus.
async function hostSideTimes(c, shape, run, ceilings) {
  const { call, sync, out, grad, sets, opts, hx, hy, half } = run;
  const r = {};
  const asyncCall = c.kind === 'fwd'
    ? (i) => asyncApi.ssimInto(out, sets[i & 1].x, sets[i & 1].y, opts)
    : (i) => asyncApi.dssimWithGradientInto(out, grad, sets[i & 1].x, sets[i & 1].y, opts);
  r.promises_ms = await timeAsyncLoop(asyncCall, Math.min(run.calls, 200));
  r.sync_wait_ms = timeLoop((i) => { call(i); sync(); }, () => {}).median_ms;

  const hostX = { ...shape, data: hx }, hostY = { ...shape, data: hy };
  const hostOpts = c.gradInput ? { gradientDtype: 'input' } : undefined;
  const hostCall = c.kind === 'fwd' ? () => api.ssim(hostX, hostY) : () => api.dssimWithGradient(hostX, hostY, hostOpts);
  r.host_peak_device_bytes = half ? null : hostPeakDeviceBytes(c);  // host-peak.js measures float32 calls
  r.host_path_ms = hostPathMs(c, hostCall);
  const { up, down } = movedBytes(c);
  r.host_bus_bytes = up + down;
  r.host_path_GBps = r.host_bus_bytes / (r.host_path_ms * 1e6);
  // of pinned: the time the bus would take at the pinned ceilings (up, then down) over the time taken.
  if (ceilings.pinned_h2d_GBps > 0 && ceilings.pinned_d2h_GBps > 0) {
    r.host_bus_floor_ms = up / (ceilings.pinned_h2d_GBps * 1e6) + down / (ceilings.pinned_d2h_GBps * 1e6);
    r.host_path_of_pinned = r.host_bus_floor_ms / r.host_path_ms;
  }
  return r;
}

async function gpuBench(results) {
  const info = api.backendInfo();
  const device = info.cuda.devices[0];
  const ceilings = measureCeilings(0);
  results.device = device.name;
  // fused-ssim and the targets were measured on one machine: say which, so that a run on another
  // GPU does not pass for a like-for-like comparison.
  results.peers_device = peers.device;
  results.ceilings = { copy_TBps: ceilings.copyBytesPerSecond / 1e12, fp32_TFLOPs: ceilings.fp32FlopsPerSecond / 1e12,
    pinned_h2d_GBps: (ceilings.pinnedH2DBytesPerSecond || 0) / 1e9, pinned_d2h_GBps: (ceilings.pinnedD2HBytesPerSecond || 0) / 1e9 };
  console.log(`# ${device.name}: copy ${results.ceilings.copy_TBps.toFixed(2)} TB/s (read + write), fp32 FMA ${results.ceilings.fp32_TFLOPs.toFixed(1)} TFLOP/s, ` +
    `pinned H2D ${results.ceilings.pinned_h2d_GBps.toFixed(1)} GB/s, D2H ${results.ceilings.pinned_d2h_GBps.toFixed(1)} GB/s`);
  const sync = () => api.synchronize(0);

  for (const c of GPU_CASES.map(shapeOf)) {
    if (only.length && !only.includes(c.name)) continue;
    const half = c.dtype !== 'float32';
    const shape = { width: c.width, height: c.height, channels: c.channels, batch: c.batch, layout: c.layout, ...(half ? { dtype: c.dtype } : {}) };
    let hx = new Float32Array(c.n), hy = new Float32Array(c.n);
    const sets = [];
    const upload = (a) => (half ? api.DeviceArray.from(toHalf(a, c.dtype), { dtype: c.dtype }) : api.DeviceArray.from(a));
    for (let s = 0; s < 2; s++) {
      fillPair(hx, hy);
      sets.push({ x: { ...shape, data: upload(hx) }, y: { ...shape, data: upload(hy) } });
    }
    if (half) {
      hx = toHalf(hx, c.dtype);
      hy = toHalf(hy, c.dtype);
    }
    const out = api.DeviceArray.alloc('float32', c.batch);
    const gradDtype = c.gradInput ? c.dtype : 'float32';
    const grad = c.kind === 'fwdbwd' ? api.DeviceArray.alloc(gradDtype, c.n) : null;
    // Value rows get a value-only workspace (16 bytes per image): a forward call needs no more.
    const workspace = api.Workspace.for(shape, { gradient: c.kind === 'fwdbwd' });
    const opts = { workspace, ...(c.gradInput ? { gradientDtype: 'input' } : {}) };
    const call = c.kind === 'fwd'
      ? (i) => api.ssimInto(out, sets[i & 1].x, sets[i & 1].y, opts)
      : (i) => api.dssimWithGradientInto(out, grad, sets[i & 1].x, sets[i & 1].y, opts);
    const r = timeLoop(call, sync);
    r.of_planar = ofPlanar(results.cases, c, r.median_ms);
    if (c.layout === 'chw' && !deviceOnly) {
      const run = { call, sync, out, grad, sets, opts, hx, hy, half, calls: r.calls_per_rep };
      Object.assign(r, await hostSideTimes(c, shape, run, results.ceilings));
    }
    r.workspace_bytes = workspace.byteLength;
    r.workspace_bytes_per_element = workspace.byteLength / c.n;

    const { up, down } = movedBytes(c);
    const bytes = up + down;
    r.min_bytes_MB = bytes / 1e6;
    r.floor_bytes_ms = bytes / ceilings.copyBytesPerSecond * 1e3;
    r.floor_flops_ms = FLOPS_PER_ELEMENT[c.kind] * c.n / ceilings.fp32FlopsPerSecond * 1e3;
    r.floor_ms = Math.max(r.floor_bytes_ms, r.floor_flops_ms);
    r.fraction_of_floor = r.floor_ms / r.median_ms;
    const peer = peers.cases[c.name];
    if (peer) {
      r.fused_ssim_ms = peer.fused_ssim_ms;
      r.target_ms = peer.target_ms;
      r.speedup_vs_fused_ssim = peer.fused_ssim_ms / r.median_ms;
    }
    results.cases[c.name] = { shape: `${c.batch}x${c.channels}x${c.height}x${c.width}`, kind: c.kind, dtype: c.dtype, layout: c.layout, gradient_dtype: gradDtype, ...r };
    console.log(`${c.name.padEnd(28)} ${r.median_ms.toFixed(4)} ms  (floor ${r.floor_ms.toFixed(4)}, fused-ssim ${peer ? peer.fused_ssim_ms : '-'}` +
      `${r.of_planar ? `, ${r.of_planar.toFixed(3)} of planar` : ''})`);

    for (const s of sets) { s.x.data.dispose(); s.y.data.dispose(); }
    out.dispose(); if (grad) grad.dispose(); workspace.dispose();
  }
}

async function msssimBench(results) {
  const sync = () => api.synchronize(0);
  const peerCases = peers.msssim_cases || {};
  for (const c of MSSSIM_CASES.map(shapeOf)) {
    if (only.length && !only.includes(c.name)) continue;
    const grad = c.kind === 'ms_fwdbwd';
    const shape = { width: c.width, height: c.height, channels: c.channels, batch: c.batch, layout: c.layout };
    const hx = new Float32Array(c.n), hy = new Float32Array(c.n);
    const sets = [];
    for (let s = 0; s < 2; s++) {
      fillPair(hx, hy);
      sets.push({ x: { ...shape, data: api.DeviceArray.from(hx) }, y: { ...shape, data: api.DeviceArray.from(hy) } });
    }
    const out = api.DeviceArray.alloc('float32', c.batch);
    const g = grad ? api.DeviceArray.alloc('float32', c.n) : null;
    const workspace = api.Workspace.for(shape, { gradient: grad, msssim: true });
    const opts = { workspace };
    const call = grad
      ? (i) => api.msdssimWithGradientInto(out, g, sets[i & 1].x, sets[i & 1].y, opts)
      : (i) => api.msssimInto(out, sets[i & 1].x, sets[i & 1].y, opts);
    const r = timeLoop(call, sync);
    r.of_planar = ofPlanar(results.msssim_cases, c, r.median_ms);
    if (c.layout === 'chw' && !deviceOnly) {
      const asyncCall = grad
        ? (i) => asyncApi.msdssimWithGradientInto(out, g, sets[i & 1].x, sets[i & 1].y, opts)
        : (i) => asyncApi.msssimInto(out, sets[i & 1].x, sets[i & 1].y, opts);
      r.promises_ms = await timeAsyncLoop(asyncCall, Math.min(r.calls_per_rep, 200));
      const hostX = { ...shape, data: hx }, hostY = { ...shape, data: hy };
      r.host_path_ms = hostPathMs(c, grad ? () => api.msdssimWithGradient(hostX, hostY) : () => api.msssim(hostX, hostY));
    }
    r.workspace_bytes = workspace.byteLength;
    r.workspace_bytes_per_element = workspace.byteLength / c.n;
    const peer = peerCases[c.name];
    if (peer) {
      r.pytorch_msssim_ms = peer.pytorch_msssim_ms;
      r.target_ms = peer.target_ms;
      r.speedup_vs_pytorch_msssim = peer.pytorch_msssim_ms / r.median_ms;
    }
    results.msssim_cases[c.name] = { shape: `${c.batch}x${c.channels}x${c.height}x${c.width}`, kind: c.kind, layout: c.layout, ...r };
    console.log(`${c.name.padEnd(30)} ${r.median_ms.toFixed(4)} ms  (target ${peer ? peer.target_ms : '-'}, pytorch-msssim ${peer ? peer.pytorch_msssim_ms : '-'}` +
      `${r.of_planar ? `, ${r.of_planar.toFixed(3)} of planar` : ''})`);
    for (const s of sets) { s.x.data.dispose(); s.y.data.dispose(); }
    out.dispose(); if (g) g.dispose(); workspace.dispose();
  }
}

function msssimTable(results) {
  const rows = ['| case | B×C×H×W | cuda-ssim ms | pytorch-msssim ms (H200) | speed-up | target ms | promises ms | host path ms | workspace B/elem | hwc ÷ chw |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const [name, r] of Object.entries(results.msssim_cases)) {
    rows.push(`| ${name} | ${r.shape} | ${r.median_ms.toFixed(4)} | ${r.pytorch_msssim_ms ?? '-'} | ` +
      `${r.speedup_vs_pytorch_msssim ? r.speedup_vs_pytorch_msssim.toFixed(1) + '×' : '-'} | ${r.target_ms ?? '-'} | ` +
      `${r.promises_ms?.toFixed(4) ?? '-'} | ${r.host_path_ms?.toFixed(2) ?? '-'} | ${r.workspace_bytes_per_element.toFixed(2)} | ` +
      `${r.of_planar?.toFixed(3) ?? '-'} |`);
  }
  return rows.join('\n');
}

function toImageData(data, width, height, channels) {
  // ssim.js takes RGBA images and compares their luma; grey images get R = G = B.
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = data[p * channels + (channels === 1 ? 0 : k)] * 255;
    rgba[p * 4 + 3] = 255;
  }
  return { data: rgba, width, height };
}

function cpuBench(results) {
  let ssimJs = null;
  try { ssimJs = require('ssim.js'); } catch { console.log('ssim.js not installed (devDependency): skipping it'); }
  results.device = `${os.cpus()[0].model} x${os.cpus().length}`;
  console.log(`# CPU: ${results.device}`);
  for (const c of CPU_CASES.map(shapeOf)) {
    if (only.length && !only.includes(c.name)) continue;
    const shape = { width: c.width, height: c.height, channels: c.channels, batch: c.batch };
    const hx = new Float32Array(c.n), hy = new Float32Array(c.n);
    fillPair(hx, hy);
    const x = { ...shape, data: hx }, y = { ...shape, data: hy };
    const opts = { backend: 'cpu' };
    const call = c.kind === 'fwd' ? () => api.ssim(x, y, opts) : () => api.dssimWithGradient(x, y, opts);
    call();
    const times = [];
    for (let r = 0; r < 9; r++) { const t = now(); call(); times.push(now() - t); }
    const r = { median_ms: median(times), reps: times.length, all_ms: times };
    if (ssimJs) {
      // ssim.js has no gradient and no batch: it is timed on the forward value of each image.
      const plane = c.channels * c.height * c.width;
      const pairs = [];
      for (let b = 0; b < c.batch; b++) {
        pairs.push([toImageData(hx.subarray(b * plane), c.width, c.height, c.channels),
                    toImageData(hy.subarray(b * plane), c.width, c.height, c.channels)]);
      }
      // 'original': Wang's Gaussian SSIM at full resolution, the metric cuda-ssim computes (on luma);
      // 'default': ssim.js with no options (its 'weber' variant on images downsampled to ~256 px).
      for (const mode of ['original', 'default']) {
        const opt = mode === 'original' ? { ssim: 'original', downsample: false } : {};
        const t = [];
        for (let k = 0; k < 3; k++) {
          const t0 = now();
          for (const [a, b] of pairs) ssimJs.ssim(a, b, opt);
          t.push(now() - t0);
        }
        r[`ssimjs_${mode}_ms`] = median(t);
      }
    }
    results.cases[c.name] = { shape: `${c.batch}x${c.channels}x${c.height}x${c.width}`, kind: c.kind, ...r };
    console.log(`${c.name.padEnd(24)} ${r.median_ms.toFixed(2)} ms` +
      (ssimJs ? `  (ssim.js original ${r.ssimjs_original_ms.toFixed(0)} ms, default ${r.ssimjs_default_ms.toFixed(0)} ms)` : ''));
  }
}

function writeResults(results, name) {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${slug(name)}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 1) + '\n');
  return file;
}

function gpuTable(results) {
  const rows = ['| case | B×C×H×W | cuda-ssim ms | fused-ssim ms | speed-up | target ms | floor ms | of floor | sync + wait ms | promises ms | host path ms | host GB/s | of pinned H2D | workspace B/elem | hwc ÷ chw |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const [name, r] of Object.entries(results.cases)) {
    rows.push(`| ${name} | ${r.shape} | ${r.median_ms.toFixed(4)} | ${r.fused_ssim_ms ?? '-'} | ${r.speedup_vs_fused_ssim ? r.speedup_vs_fused_ssim.toFixed(2) + '×' : '-'} | ` +
      `${r.target_ms ?? '-'} | ${r.floor_ms.toFixed(4)} | ${(100 * r.fraction_of_floor).toFixed(0)}% | ${r.sync_wait_ms !== undefined ? r.sync_wait_ms.toFixed(4) : '-'} | ${r.promises_ms?.toFixed(4) ?? '-'} | ` +
      `${r.host_path_ms?.toFixed(2) ?? '-'} | ${r.host_path_GBps !== undefined ? r.host_path_GBps.toFixed(1) : '-'} | ` +
      `${r.host_path_of_pinned !== undefined ? (100 * r.host_path_of_pinned).toFixed(0) + '%' : '-'} | ${r.workspace_bytes_per_element.toFixed(r.kind === 'fwd' ? 6 : 2)} | ${r.of_planar?.toFixed(3) ?? '-'} |`);
  }
  return rows.join('\n');
}

function cpuTable(results) {
  const rows = ['| case | B×C×H×W | cuda-ssim CPU ms | ssim.js original, full size ms | ssim.js default ms |', '| --- | --- | --- | --- | --- |'];
  for (const [name, r] of Object.entries(results.cases)) {
    rows.push(`| ${name} | ${r.shape} | ${r.median_ms.toFixed(2)} | ${r.ssimjs_original_ms?.toFixed(0) ?? '-'} | ${r.ssimjs_default_ms?.toFixed(0) ?? '-'} |`);
  }
  return rows.join('\n');
}

async function main() {
  const meta = { date: new Date().toISOString(), node: process.version, version: api.version, protocol: 'median of 15 repetitions of N calls, device-synchronised, two alternating input sets' };
  const info = api.backendInfo();
  const wantGpu = !flag('--cpu');
  const wantCpu = !flag('--gpu');
  const tables = [];
  if (wantGpu) {
    if (!info.cuda.available) {
      console.log(`GPU cases skipped: ${info.cuda.reason}`);
    } else {
      const results = { ...meta, cases: {}, msssim_cases: {} };
      await gpuBench(results);
      await msssimBench(results);
      results.file = writeResults(results, results.device);
      const peerNote = results.peers_device === results.device ? '' : `\n\nfused-ssim and the targets: measured on ${results.peers_device} (bench/peers.json), not on this GPU.`;
      tables.push(`GPU: ${results.device} (copy ${results.ceilings.copy_TBps.toFixed(2)} TB/s, fp32 ${results.ceilings.fp32_TFLOPs.toFixed(1)} TFLOP/s)\n\n${gpuTable(results)}${peerNote}`);
      if (Object.keys(results.msssim_cases).length) tables.push(`MS-SSIM (5 scales), ${results.device}\n\n${msssimTable(results)}`);
    }
  }
  if (wantCpu) {
    const results = { ...meta, cases: {} };
    cpuBench(results);
    writeResults(results, `cpu-${results.device}`);
    tables.push(`CPU: ${results.device}\n\n${cpuTable(results)}`);
  }
  console.log(`\n${tables.join('\n\n')}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
