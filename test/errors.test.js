'use strict';
// Every error code of docs/API.md: err.code, the error class, and that the message names the
// argument. GPU-only cases skip visibly (pending) without a usable CUDA device; the
// ERR_SSIM_CUDA_UNAVAILABLE cases skip visibly when CUDA is usable.

const assert = require('assert');
const path = require('path');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair } = require('./helpers/images');
const { expectThrow, poisoned } = require('./helpers/check');

const gpu = pkg.cudaAvailable();
const T = TypeError;
const R = RangeError;
const E = Error;

const code = {
  ARG: 'ERR_SSIM_INVALID_ARGUMENT',
  DTYPE: 'ERR_SSIM_DTYPE',
  SHAPE: 'ERR_SSIM_SHAPE',
  LAYOUT: 'ERR_SSIM_LAYOUT',
  SMALL: 'ERR_SSIM_TOO_SMALL',
  OPTION: 'ERR_SSIM_OPTION',
  OUT: 'ERR_SSIM_OUTPUT_SIZE',
  WS: 'ERR_SSIM_WORKSPACE',
  DISPOSED: 'ERR_SSIM_DISPOSED',
  BACKEND: 'ERR_SSIM_BACKEND',
  UNAVAILABLE: 'ERR_SSIM_CUDA_UNAVAILABLE',
  CUDA: 'ERR_SSIM_CUDA',
  INTERNAL: 'ERR_SSIM_INTERNAL',
};

// A fresh valid pair (12x10, 2 channels, float32) for each case.
function pair(rng, spec = {}) {
  return makePair(rng, { width: 12, height: 10, channels: 2, dtype: 'float32', ...spec });
}

function withData(img, data) {
  return { ...img, data };
}

// [title, (api, rng) => void (the throwing call), expected]
const hostCases = [
  // ERR_SSIM_INVALID_ARGUMENT
  ['x is null', (a, r) => a.ssim(null, pair(r).y), { code: code.ARG, type: T, message: /\bx\b/ }],
  ['x is a number', (a, r) => a.ssimGradient(42, pair(r).y), { code: code.ARG, type: T, message: /\bx\b/ }],
  ['y is a string', (a, r) => a.dssim(pair(r).x, 'image'), { code: code.ARG, type: T, message: /\by\b/ }],
  ['y is undefined', (a, r) => a.ssimWithGradient(pair(r).x), { code: code.ARG, type: T, message: /\by\b/ }],
  ['options is a number', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, 5); }, { code: code.ARG, type: T, message: /opt/i }],
  ['options is a string', (a, r) => { const { x, y } = pair(r); a.dssimGradient(x, y, 'valid'); }, { code: code.ARG, type: T, message: /opt/i }],
  ['out is null (ssimInto)', (a, r) => { const { x, y } = pair(r); a.ssimInto(null, x, y); }, { code: code.ARG, type: T, message: /\bout\b/ }],
  ['out is a number (dssimWithGradientInto)', (a, r) => { const { x, y } = pair(r); a.dssimWithGradientInto(1, poisoned(x.data.length), x, y); }, { code: code.ARG, type: T, message: /\bout\b/ }],
  ['grad is a string (ssimGradientInto)', (a, r) => { const { x, y } = pair(r); a.ssimGradientInto('grad', x, y); }, { code: code.ARG, type: T, message: /\bgrad\b/ }],
  ['grad is undefined (ssimWithGradientInto)', (a, r) => { const { x, y } = pair(r); a.ssimWithGradientInto(poisoned(1), undefined, x, y); }, { code: code.ARG, type: T, message: /\bgrad\b/ }],

  // ERR_SSIM_DTYPE
  ['x.data is an Int16Array', (a, r) => { const { x, y } = pair(r); a.ssim(withData(x, new Int16Array(x.data.length).fill(7)), withData(y, new Int16Array(y.data.length).fill(3))); }, { code: code.DTYPE, type: T, message: /\bx\b/ }],
  ['x.data is a plain Array', (a, r) => { const { x, y } = pair(r); a.ssim(withData(x, Array.from(x.data)), withData(y, Array.from(y.data))); }, { code: code.DTYPE, type: T, message: /\bx\b/ }],
  ['x.data is an Int32Array', (a, r) => { const { x, y } = pair(r); a.ssimGradient(withData(x, new Int32Array(x.data.length).fill(9)), y); }, { code: code.DTYPE, type: T, message: /\bx\b/ }],
  ['y.data is a plain Array', (a, r) => { const { x, y } = pair(r); a.ssim(x, withData(y, Array.from(y.data))); }, { code: code.DTYPE, type: T, message: /\by\b/ }],
  ['x Float32Array, y Float64Array', (a, r) => { const { x, y } = pair(r); a.ssim(x, withData(y, Float64Array.from(y.data))); }, { code: code.DTYPE, type: T, message: /\by\b/ }],
  ['x Uint8Array, y Uint16Array', (a, r) => { const { x, y } = pair(r, { dtype: 'uint8' }); a.dssim(x, withData(y, Uint16Array.from(y.data))); }, { code: code.DTYPE, type: T, message: /\by\b/ }],
  ['out is a Float64Array', (a, r) => { const { x, y } = pair(r); a.ssimInto(new Float64Array(1), x, y); }, { code: code.DTYPE, type: T, message: /\bout\b/ }],
  ['grad is a Float64Array', (a, r) => { const { x, y } = pair(r); a.ssimGradientInto(new Float64Array(x.data.length), x, y); }, { code: code.DTYPE, type: T, message: /\bgrad\b/ }],
  ['grad is a Uint8Array (dssimWithGradientInto)', (a, r) => { const { x, y } = pair(r); a.dssimWithGradientInto(poisoned(1), new Uint8Array(x.data.length), x, y); }, { code: code.DTYPE, type: T, message: /\bgrad\b/ }],

  // ERR_SSIM_SHAPE
  ['x.width 0', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, width: 0 }, y); }, { code: code.SHAPE, type: R, message: /x\.width/ }],
  ['x.width negative', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, width: -12 }, y); }, { code: code.SHAPE, type: R, message: /x\.width/ }],
  ['x.width fractional', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, width: 12.5 }, y); }, { code: code.SHAPE, type: R, message: /x\.width/ }],
  ['x.width NaN', (a, r) => { const { x, y } = pair(r); a.ssimGradient({ ...x, width: NaN }, y); }, { code: code.SHAPE, type: R, message: /x\.width/ }],
  ['x.height 0', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, height: 0 }, y); }, { code: code.SHAPE, type: R, message: /x\.height/ }],
  ['x.height negative', (a, r) => { const { x, y } = pair(r); a.dssim({ ...x, height: -1 }, y); }, { code: code.SHAPE, type: R, message: /x\.height/ }],
  ['y.height fractional', (a, r) => { const { x, y } = pair(r); a.ssim(x, { ...y, height: 9.5 }); }, { code: code.SHAPE, type: R, message: /y\.height/ }],
  ['x.channels 0', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, channels: 0 }, y); }, { code: code.SHAPE, type: R, message: /x\.channels/ }],
  ['x.channels fractional', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, channels: 1.5 }, y); }, { code: code.SHAPE, type: R, message: /x\.channels/ }],
  ['x.batch 0', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, batch: 0 }, { ...y, batch: 0 }); }, { code: code.SHAPE, type: R, message: /x\.batch/ }],
  ['x.batch negative', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, batch: -2 }, { ...y, batch: -2 }); }, { code: code.SHAPE, type: R, message: /x\.batch/ }],
  ['x.batch fractional', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, batch: 0.5 }, { ...y, batch: 0.5 }); }, { code: code.SHAPE, type: R, message: /x\.batch/ }],
  ['x.data length does not match width*height*channels', (a, r) => { const { x, y } = pair(r); a.ssim(withData(x, x.data.subarray(1)), y); }, { code: code.SHAPE, type: R, message: /\bx\b/ }],
  ['x.data length does not match width*height*channels*batch', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, batch: 3 }, { ...y, batch: 3 }); }, { code: code.SHAPE, type: R, message: /\bx\b/ }],
  ['channels omitted and data.length / (width*height) not an integer', (a, r) => { const d = new Float32Array(10).fill(0.5); d[3] = 0.1; a.ssim({ data: d, width: 3, height: 3 }, { data: d.slice(), width: 3, height: 3 }); }, { code: code.SHAPE, type: R, message: /\bx\b/ }],
  ['x and y widths differ', (a, r) => { const { x } = pair(r); const { y } = pair(r, { width: 10, height: 12 }); a.ssim(x, y); }, { code: code.SHAPE, type: R, message: /width|height/ }],
  ['x and y channels differ', (a, r) => { const { x } = pair(r); const { y } = pair(r, { channels: 3 }); a.ssim(x, y); }, { code: code.SHAPE, type: R, message: /channels/ }],
  ['x and y batches differ', (a, r) => { const { x } = pair(r, { batch: 1 }); const { y } = pair(r, { batch: 2 }); a.ssimGradient(x, y); }, { code: code.SHAPE, type: R, message: /batch/ }],
  ['batch given for x only', (a, r) => { const { x } = pair(r, { batch: 2 }); const { y } = pair(r); a.ssim(x, { ...y, data: new Float32Array(x.data.length).fill(0.3) }); }, { code: code.SHAPE, type: R, message: /\by\b|batch|channels/ }],

  // ERR_SSIM_LAYOUT
  ["layout 'nhwc'", (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, layout: 'nhwc' }, { ...y, layout: 'nhwc' }); }, { code: code.LAYOUT, type: R, message: /layout/ }],
  ["layout 'HWC' (case matters)", (a, r) => { const { x, y } = pair(r); a.ssimGradient({ ...x, layout: 'HWC' }, y); }, { code: code.LAYOUT, type: R, message: /layout/ }],
  ['x hwc, y chw', (a, r) => { const { x, y } = pair(r); a.ssim({ ...x, layout: 'hwc' }, { ...y, layout: 'chw' }); }, { code: code.LAYOUT, type: R, message: /layout/ }],

  // ERR_SSIM_TOO_SMALL
  ["'valid', width 10 < window 11", (a, r) => { const { x, y } = pair(r, { width: 10, height: 20 }); a.ssim(x, y, { padding: 'valid' }); }, { code: code.SMALL, type: R, message: /width|window/i }],
  ["'valid', height 6 < window 7", (a, r) => { const { x, y } = pair(r, { width: 30, height: 6 }); a.ssimGradient(x, y, { padding: 'valid', windowSize: 7 }); }, { code: code.SMALL, type: R, message: /height|window/i }],
  ["'valid', 1x1 image", (a, r) => { const { x, y } = pair(r, { width: 1, height: 1 }); a.dssim(x, y, { padding: 'valid', windowSize: 7 }); }, { code: code.SMALL, type: R, message: /width|height|window/i }],

  // ERR_SSIM_OPTION
  ['sigma NaN', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { sigma: NaN }); }, { code: code.OPTION, type: R, message: /sigma/ }],
  ['sigma 0', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { sigma: 0 }); }, { code: code.OPTION, type: R, message: /sigma/ }],
  ['sigma negative', (a, r) => { const { x, y } = pair(r); a.ssimGradient(x, y, { sigma: -1.5 }); }, { code: code.OPTION, type: R, message: /sigma/ }],
  ['sigma Infinity', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { sigma: Infinity }); }, { code: code.OPTION, type: R, message: /sigma/ }],
  ['sigma a string', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { sigma: '1.5' }); }, { code: code.OPTION, type: T, message: /sigma/ }],
  ['windowSize 8 (even)', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { windowSize: 8 }); }, { code: code.OPTION, type: R, message: /windowSize/ }],
  ['windowSize 13 (unsupported)', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { windowSize: 13 }); }, { code: code.OPTION, type: R, message: /windowSize/ }],
  ['windowSize 5 (unsupported)', (a, r) => { const { x, y } = pair(r); a.dssim(x, y, { windowSize: 5 }); }, { code: code.OPTION, type: R, message: /windowSize/ }],
  ['windowSize 9.5', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { windowSize: 9.5 }); }, { code: code.OPTION, type: R, message: /windowSize/ }],
  ["windowSize '11' (a string)", (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { windowSize: '11' }); }, { code: code.OPTION, type: T, message: /windowSize/ }],
  ["k1 '0.01' (a string)", (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { k1: '0.01' }); }, { code: code.OPTION, type: T, message: /k1/ }],
  ['k1 0', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { k1: 0 }); }, { code: code.OPTION, type: R, message: /k1/ }],
  ['k1 negative', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { k1: -0.01 }); }, { code: code.OPTION, type: R, message: /k1/ }],
  ['k2 NaN', (a, r) => { const { x, y } = pair(r); a.ssimWithGradient(x, y, { k2: NaN }); }, { code: code.OPTION, type: R, message: /k2/ }],
  ['k2 null', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { k2: null }); }, { code: code.OPTION, type: T, message: /k2/ }],
  ['dataRange 0', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { dataRange: 0 }); }, { code: code.OPTION, type: R, message: /dataRange/ }],
  ['dataRange -Infinity', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { dataRange: -Infinity }); }, { code: code.OPTION, type: R, message: /dataRange/ }],
  ['dataRange 255 with uint8 data (integer dtypes are normalised)', (a, r) => { const { x, y } = pair(r, { dtype: 'uint8' }); a.ssim(x, y, { dataRange: 255 }); }, { code: code.OPTION, type: R, message: /dataRange/ }],
  ['dataRange 65535 with uint16 data', (a, r) => { const { x, y } = pair(r, { dtype: 'uint16' }); a.ssimGradient(x, y, { dataRange: 65535 }); }, { code: code.OPTION, type: R, message: /dataRange/ }],
  ["padding 'full'", (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { padding: 'full' }); }, { code: code.OPTION, type: R, message: /padding/ }],
  ['padding a number', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { padding: 1 }); }, { code: code.OPTION, type: T, message: /padding/ }],
  ["divideByTwo 'yes'", (a, r) => { const { x, y } = pair(r); a.dssim(x, y, { divideByTwo: 'yes' }); }, { code: code.OPTION, type: T, message: /divideByTwo/ }],
  ["backend 'gpu'", (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { backend: 'gpu' }); }, { code: code.OPTION, type: R, message: /backend/ }],
  ['backend a number', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { backend: 1 }); }, { code: code.OPTION, type: T, message: /backend/ }],
  ['device -1', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { device: -1 }); }, { code: code.OPTION, type: R, message: /device/ }],
  ['device 0.5', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { device: 0.5 }); }, { code: code.OPTION, type: R, message: /device/ }],
  ["device '0' (a string)", (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { device: '0' }); }, { code: code.OPTION, type: T, message: /device/ }],

  // ERR_SSIM_OUTPUT_SIZE
  ['out of length 2 without batch', (a, r) => { const { x, y } = pair(r); a.ssimInto(new Float32Array(2), x, y); }, { code: code.OUT, type: R, message: /\bout\b/ }],
  ['out of length 0', (a, r) => { const { x, y } = pair(r); a.dssimInto(new Float32Array(0), x, y); }, { code: code.OUT, type: R, message: /\bout\b/ }],
  ['out of length 2 for batch 3', (a, r) => { const { x, y } = pair(r, { batch: 3 }); a.ssimWithGradientInto(new Float32Array(2), poisoned(x.data.length), x, y); }, { code: code.OUT, type: R, message: /\bout\b/ }],
  ['grad one element short', (a, r) => { const { x, y } = pair(r); a.ssimGradientInto(new Float32Array(x.data.length - 1), x, y); }, { code: code.OUT, type: R, message: /\bgrad\b/ }],
  ['grad one element long', (a, r) => { const { x, y } = pair(r); a.dssimGradientInto(new Float32Array(x.data.length + 1), x, y); }, { code: code.OUT, type: R, message: /\bgrad\b/ }],
  ['grad of one image for a batch of 2', (a, r) => { const { x, y } = pair(r, { batch: 2 }); a.dssimWithGradientInto(new Float32Array(2), new Float32Array(x.data.length / 2), x, y); }, { code: code.OUT, type: R, message: /\bgrad\b/ }],

  // ERR_SSIM_WORKSPACE
  ['workspace is a plain object', (a, r) => { const { x, y } = pair(r); a.ssim(x, y, { workspace: { images: 10, elements: 1e6 } }); }, { code: code.WS, type: T, message: /workspace/i }],
  ['workspace is a number', (a, r) => { const { x, y } = pair(r); a.ssimGradient(x, y, { workspace: 1 }); }, { code: code.WS, type: T, message: /workspace/i }],
  ['workspace too small (elements)', (a, r) => {
    const { x, y } = pair(r);
    const ws = a.Workspace.for({ width: 6, height: 5, channels: 2, batch: 1 }, { backend: 'cpu' });
    try { a.ssimGradient(x, y, { workspace: ws, backend: 'cpu' }); } finally { ws.dispose(); }
  }, { code: code.WS, type: R, message: /workspace/i }],
  ['workspace too small (images)', (a, r) => {
    const { x, y } = pair(r, { width: 6, height: 5, channels: 1, batch: 2 });
    const ws = a.Workspace.for({ width: 12, height: 10, channels: 2, batch: 1 }, { backend: 'cpu' });
    try { a.ssim(x, y, { workspace: ws, backend: 'cpu' }); } finally { ws.dispose(); }
  }, { code: code.WS, type: R, message: /workspace/i }],
  ['workspace disposed', (a, r) => {
    const { x, y } = pair(r);
    const ws = a.Workspace.for({ width: 12, height: 10, channels: 2, batch: 1 }, { backend: 'cpu' });
    ws.dispose();
    a.ssim(x, y, { workspace: ws, backend: 'cpu' });
  }, { code: code.WS, type: [R, T], message: /workspace/i }],
];

describe('errors: host inputs (every backend)', function () {
  for (const [title, fn, expected] of hostCases) {
    it(`${expected.code}: ${title}`, function () {
      const rng = testRng(this);
      const api = pkg.api();
      expectThrow(() => fn(api, rng), expected, title);
    });
  }

  it('every one of the 12 functions validates (x.width 0 -> ERR_SSIM_SHAPE)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const bad = { ...x, width: 0 };
    const n = x.data.length;
    const calls = {
      ssim: () => api.ssim(bad, y),
      dssim: () => api.dssim(bad, y),
      ssimGradient: () => api.ssimGradient(bad, y),
      dssimGradient: () => api.dssimGradient(bad, y),
      ssimWithGradient: () => api.ssimWithGradient(bad, y),
      dssimWithGradient: () => api.dssimWithGradient(bad, y),
      ssimInto: () => api.ssimInto(poisoned(1), bad, y),
      dssimInto: () => api.dssimInto(poisoned(1), bad, y),
      ssimGradientInto: () => api.ssimGradientInto(poisoned(n), bad, y),
      dssimGradientInto: () => api.dssimGradientInto(poisoned(n), bad, y),
      ssimWithGradientInto: () => api.ssimWithGradientInto(poisoned(1), poisoned(n), bad, y),
      dssimWithGradientInto: () => api.dssimWithGradientInto(poisoned(1), poisoned(n), bad, y),
    };
    assert.deepStrictEqual(Object.keys(calls).sort(), [...pkg.FUNCTION_NAMES].sort());
    for (const [name, call] of Object.entries(calls)) expectThrow(call, { code: code.SHAPE, type: R, message: /x\.width/ }, name);
  });

  it('a call that fails validation does not write out, and the next call works', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const out = poisoned(1);
    expectThrow(() => api.ssimInto(out, x, y, { windowSize: 8 }), { code: code.OPTION, type: R, message: /windowSize/ }, 'windowSize 8');
    assert.ok(Number.isNaN(out[0]), 'out was written by a call that failed validation');
    api.ssimInto(out, x, y);
    assert.ok(Number.isFinite(out[0]) && Math.abs(out[0] - api.ssim(x, y)) < 1e-6);
  });
});

describe('errors: CUDA not usable (skipped when a GPU is usable)', function () {
  const info = pkg.tryBackendInfo();
  const reason = info && info.cuda && info.cuda.reason;
  const expected = { code: code.UNAVAILABLE, type: E, message: /./ };

  it("backend 'cuda' -> ERR_SSIM_CUDA_UNAVAILABLE, message has the reason", function () {
    if (gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const err = expectThrow(() => api.ssim(x, y, { backend: 'cuda' }), expected, "backend 'cuda'");
    if (reason) assert.ok(err.message.includes(reason), `message "${err.message}" lacks the reason "${reason}"`);
    expectThrow(() => api.ssimWithGradientInto(poisoned(1), poisoned(x.data.length), x, y, { backend: 'cuda' }), expected, "backend 'cuda' (Into)");
  });

  it('DeviceArray.from / DeviceArray.alloc / Workspace.for(cuda) -> ERR_SSIM_CUDA_UNAVAILABLE', function () {
    if (gpu) this.skip();
    const api = pkg.api();
    expectThrow(() => api.DeviceArray.from(new Float32Array([0.25, 0.5])), expected, 'DeviceArray.from');
    expectThrow(() => api.DeviceArray.alloc('float32', 16), expected, 'DeviceArray.alloc');
    expectThrow(() => api.Workspace.for({ width: 8, height: 8, channels: 1, batch: 1 }, { backend: 'cuda' }), expected, 'Workspace.for cuda');
  });
});

describe('errors: device arrays (skipped without a usable GPU)', function () {
  const keep = [];
  after(function () {
    for (const d of keep.splice(0)) d.dispose();
  });
  function dev(api, data) {
    const d = api.DeviceArray.from(data);
    keep.push(d);
    return d;
  }

  it('ERR_SSIM_DISPOSED: a disposed DeviceArray as x, y, out, grad; copyFrom/toHost after dispose', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const dx = dev(api, x.data);
    const dy = dev(api, y.data);
    const dead = api.DeviceArray.from(x.data);
    dead.dispose();
    assert.strictEqual(dead.disposed, true);
    const e = { code: code.DISPOSED, type: E };
    expectThrow(() => api.ssim({ ...x, data: dead }, { ...y, data: dy }), e, 'x disposed');
    expectThrow(() => api.ssimGradient({ ...x, data: dx }, { ...y, data: dead }), e, 'y disposed');
    const out = api.DeviceArray.alloc('float32', 1);
    out.dispose();
    expectThrow(() => api.ssimInto(out, { ...x, data: dx }, { ...y, data: dy }), e, 'out disposed');
    const grad = api.DeviceArray.alloc('float32', x.data.length);
    grad.dispose();
    expectThrow(() => api.ssimGradientInto(grad, { ...x, data: dx }, { ...y, data: dy }), e, 'grad disposed');
    expectThrow(() => dead.toHost(), e, 'toHost');
    expectThrow(() => dead.copyFrom(x.data), e, 'copyFrom');
  });

  it('ERR_SSIM_BACKEND: device arrays on the CPU backend; host and device arrays mixed', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const dx = { ...x, data: dev(api, x.data) };
    const dy = { ...y, data: dev(api, y.data) };
    const e = { code: code.BACKEND, type: E };
    expectThrow(() => api.ssim(dx, dy, { backend: 'cpu' }), e, "device arrays, backend 'cpu'");
    expectThrow(() => api.ssim(dx, y), e, 'device x, host y');
    expectThrow(() => api.ssimGradient(x, dy), e, 'host x, device y');
    expectThrow(() => api.ssimInto(dev(api, new Float32Array(1)), x, y, { backend: 'cpu' }), e, "device out, backend 'cpu'");
  });

  it('ERR_SSIM_BACKEND: arrays on different devices (needs 2 GPUs)', function () {
    const info = pkg.tryBackendInfo();
    if (!gpu || info.cuda.devices.length < 2) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const d0 = api.DeviceArray.from(x.data, { device: 0 });
    const d1 = api.DeviceArray.from(y.data, { device: 1 });
    keep.push(d0, d1);
    expectThrow(() => api.ssim({ ...x, data: d0 }, { ...y, data: d1 }), { code: code.BACKEND, type: E }, 'devices 0 and 1');
  });

  it('ERR_SSIM_DTYPE / ERR_SSIM_OUTPUT_SIZE: device out/grad of the wrong dtype or length; x and y dtypes differ', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const dx = { ...x, data: dev(api, x.data) };
    const dy = { ...y, data: dev(api, y.data) };
    expectThrow(() => api.ssimInto(dev(api, new Float64Array(1)), dx, dy), { code: code.DTYPE, type: T, message: /\bout\b/ }, 'float64 out');
    expectThrow(() => api.ssimGradientInto(dev(api, new Uint16Array(x.data.length)), dx, dy), { code: code.DTYPE, type: T, message: /\bgrad\b/ }, 'uint16 grad');
    expectThrow(() => api.ssimInto(dev(api, new Float32Array(2)), dx, dy), { code: code.OUT, type: R, message: /\bout\b/ }, 'out of length 2');
    expectThrow(() => api.ssimGradientInto(dev(api, new Float32Array(x.data.length - 2)), dx, dy), { code: code.OUT, type: R, message: /\bgrad\b/ }, 'short grad');
    expectThrow(() => api.ssim(dx, { ...y, data: dev(api, Float64Array.from(y.data)) }), { code: code.DTYPE, type: T, message: /\by\b/ }, 'x float32, y float64 on the device');
  });

  it('ERR_SSIM_WORKSPACE: a CPU workspace on the CUDA backend, a CUDA workspace on the CPU backend', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const shape = { width: 12, height: 10, channels: 2, batch: 1 };
    const cpuWs = api.Workspace.for(shape, { backend: 'cpu' });
    const cudaWs = api.Workspace.for(shape, { backend: 'cuda' });
    try {
      assert.strictEqual(cpuWs.backend, 'cpu');
      assert.strictEqual(cudaWs.backend, 'cuda');
      expectThrow(() => api.ssim(x, y, { backend: 'cuda', workspace: cpuWs }), { code: code.WS, message: /workspace/i }, 'cpu workspace on cuda');
      expectThrow(() => api.ssim(x, y, { backend: 'cpu', workspace: cudaWs }), { code: code.WS, message: /workspace/i }, 'cuda workspace on cpu');
    } finally {
      cpuWs.dispose();
      cudaWs.dispose();
    }
  });

  it('ERR_SSIM_CUDA: an allocation no device can satisfy (4 TiB); message names the CUDA error', function () {
    if (!gpu) this.skip();
    const api = pkg.api();
    const err = expectThrow(() => api.DeviceArray.alloc('uint8', 2 ** 42), { code: code.CUDA, type: E, message: /cuda/i }, 'alloc 4 TiB');
    assert.match(err.message, /cudaError\w+/, 'message names the CUDA error');
    // the failure must not stick to the device: the next CUDA call works (a failed cudaMalloc
    // leaves its error in cudaGetLastError() until someone reads it)
    const rng = testRng(this);
    const { x, y } = pair(rng);
    const v = api.ssim(x, y, { backend: 'cuda' });
    assert.ok(Math.abs(v - api.ssim(x, y, { backend: 'cpu' })) < 1e-5, `cuda ${v} after the failed allocation`);
  });
});

describe('errors: the native binding checks sizes itself', function () {
  it('ERR_SSIM_INTERNAL: a job whose x buffer is shorter than its shape (binding called directly)', function () {
    let native;
    try {
      native = require('node-gyp-build')(pkg.root);
    } catch (e) {
      assert.fail(`the native module could not be loaded through node-gyp-build: ${e.message}`);
    }
    const n = 16 * 16;
    const job = {
      backend: 'cpu', device: 0,
      x: new Float32Array(n - 7).fill(0.5), y: new Float32Array(n).fill(0.25),
      dtype: 'float32', batch: 1, channels: 1, height: 16, width: 16, layout: 'hwc',
      windowSize: 11, sigma: 1.5, c1: 1e-4, c2: 9e-4, inputScale: 1, valid: false,
      valueOffset: 0, valueScale: 1, gradFactor: 1, gradDtype: 'float32',
      out: new Float32Array(1), grad: null, workspace: null, workspaceImages: 0, workspaceElements: 0, stream: null,
    };
    // the addon's arguments as lib/ makes them (binding/job_args.h)
    const { nativeJobArgs } = require(path.join(pkg.root, 'dist', 'native.js'));
    const call = (j) => native.compute(...nativeJobArgs(j));
    // a well-formed job computes what the API does for the same images and (default) options
    const rng = testRng(this);
    const x = Float32Array.from({ length: n }, () => rng.next());
    const y = x.map((v) => Math.min(1, Math.max(0, v + 0.2 * (rng.next() - 0.5))));
    const out = poisoned(1);
    call({ ...job, x, y, out });
    const img = (data) => ({ data, width: 16, height: 16, channels: 1 });
    const expected = pkg.api().ssim(img(x), img(y), { backend: 'cpu' });
    assert.ok(Math.abs(out[0] - expected) < 1e-6 && expected < 0.99, `the well-formed job gives ${out[0]}, the API ${expected}`);
    expectThrow(() => call(job), { code: code.INTERNAL, type: E }, 'short x');
    expectThrow(() => call({ ...job, x: new Float32Array(n), out: null, grad: new Float32Array(n - 1) }), { code: code.INTERNAL, type: E }, 'short grad');
    expectThrow(() => call({ ...job, x: new Float32Array(n), dtype: 'int8' }), { code: code.INTERNAL, type: E, message: /job\.dtype/ }, 'unknown dtype');
    expectThrow(() => native.compute(job), { code: code.INTERNAL, type: E, message: /arguments/ }, 'a job object alone (the old interface)');
    // a DeviceBuffer is known by the type tag its constructor sets, not by its prototype
    const fake = Object.create(native.DeviceBuffer.prototype);
    expectThrow(() => call({ ...job, x: fake, y: fake }), { code: code.INTERNAL, type: E, message: /x\.data is neither a typed array nor a DeviceBuffer/ }, 'a fake DeviceBuffer');
  });
});

describe('errors: still alive', function () {
  it('a valid call after all error cases works', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = pair(rng);
    const v = api.ssim(x, y);
    assert.ok(Number.isFinite(v) && v <= 1 && v > -1);
  });
});
