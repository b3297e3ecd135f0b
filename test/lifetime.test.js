'use strict';
// Issue 11 ("no wrong answers, no crashes"): what a caller can do to the memory of a call while it
// runs, and arrays that are not what they say. Every case that once crashed the process (a
// segfault after an ArrayBuffer was transferred under a promise call, an abort when a worker
// thread was terminated with one in flight) runs in a child process: a regression fails the test
// with the child's signal and output instead of ending the test run.
//
// Promise calls own their host memory: inputs are copied when the call is made, outputs are
// computed into native memory and written to the caller's arrays when it settles (if those were
// detached meanwhile: ERR_SSIM_DETACHED and nothing is written).

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair } = require('./helpers/images');
const { assertClose, assertRelL2, assertAllFinite, expectThrow, expectReject, poisoned, toArray } = require('./helpers/check');
const { runChild, expectClean } = require('./helpers/child');
const { valueTol, GRAD_TOL } = require('./helpers/cases');
const ref = require('./reference');

// Shared by the child scripts: the package, a seeded image pair, and a RESULT line.
const PRELUDE = `
'use strict';
const root = process.env.SSIM_PKG_ROOT;
const api = require(root);
const P = require(root + '/dist/promises.js');
let seed = Number(process.env.CHILD_SEED) >>> 0;
function rand() { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 4294967296; }
function image(w, h, c, sab) {
  const n = w * h * c;
  const data = new Float32Array(sab ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) data[i] = 0.5 + 0.3 * Math.sin(i * 0.01 + seed % 7) + 0.2 * rand();
  return { data, width: w, height: h, channels: c };
}
function copy(img) { return { ...img, data: Float32Array.from(img.data) }; }
function relL2(a, b) { let n = 0, d = 0; for (let i = 0; i < a.length; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2; } return Math.sqrt(n / d); }
function report(obj) { console.log('RESULT ' + JSON.stringify(obj)); }
function codeOf(e) { return e && typeof e === 'object' ? e.code || String(e) : String(e); }
function churn() { for (let i = 0; i < 6; i++) { global.gc(); new Float32Array(1 << 22).fill(7); } }
`;

function child(ctx, body, opts) {
  const seed = testRng(ctx).u32();
  return runChild(PRELUDE + body, { ...opts, env: { CHILD_SEED: String(seed), ...(opts && opts.env) } });
}

describe('lifetime: memory that goes away under a promise call (child processes)', function () {
  it('an input ArrayBuffer transferred (structuredClone) and collected while the call runs: correct result, no crash', function () {
    const r = expectClean(child(this, `
      (async () => {
        const x = image(1024, 768, 3), y = image(1024, 768, 3);
        const want = api.ssimWithGradient(copy(x), copy(y), { backend: 'cpu' });
        const p = P.ssimWithGradient(x, y, { backend: 'cpu' });
        const q = P.ssim(copy(x), y, { backend: 'cpu' });
        structuredClone(x.data.buffer, { transfer: [x.data.buffer] }).constructor; // detached here, freed by the GC
        structuredClone(y.data.buffer, { transfer: [y.data.buffer] });
        churn();
        const got = await p;
        await q;
        report({ detached: x.data.length === 0, dv: Math.abs(got.value - want.value), rel: relL2(got.gradient, want.gradient), finite: got.gradient.every(Number.isFinite) });
      })();
    `), 'transfer');
    assert.ok(r.detached, 'the transfer detached x.data');
    assert.ok(r.finite, 'gradient finite');
    assert.ok(r.dv <= 1e-7, `value differs from the sync one by ${r.dv}`);
    assert.ok(r.rel <= 1e-6, `gradient differs from the sync one: rel L2 ${r.rel}`);
  });

  it('an input ArrayBuffer posted to a worker that overwrites it and exits: correct result, no crash', function () {
    const r = expectClean(child(this, `
      const { Worker } = require('worker_threads');
      (async () => {
        const x = image(1024, 512, 3), y = image(1024, 512, 3);
        const want = api.ssimGradient(copy(x), copy(y), { backend: 'cpu' });
        const w = new Worker('const { parentPort } = require("worker_threads"); parentPort.postMessage("ready"); parentPort.once("message", (b) => { new Float32Array(b).fill(-1e30); process.exit(0); });', { eval: true });
        await new Promise((res) => w.once('message', res));
        const p = P.ssimGradient(x, y, { backend: 'cpu' });
        w.postMessage(x.data.buffer, [x.data.buffer]);
        await new Promise((res) => w.once('exit', res));
        churn();
        const got = await p;
        report({ rel: relL2(got, want), finite: got.every(Number.isFinite) });
      })();
    `), 'postMessage');
    assert.ok(r.finite, 'gradient finite');
    assert.ok(r.rel <= 1e-6, `gradient differs from the sync one: rel L2 ${r.rel}`);
  });

  it('inputs changed after the call was made do not change its result (they were copied)', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const { x, y } = makePair(rng, { width: rng.int(40, 90), height: rng.int(40, 90), channels: rng.int(1, 3), dtype: rng.pick(['float32', 'uint8']) });
    const opts = { backend: 'cpu' };
    const want = api.ssimWithGradient(x, y, opts);
    const pending = p.ssimWithGradient(x, y, opts);
    x.data.fill(0);
    y.data.reverse();
    const got = await pending;
    assertClose(got.value, want.value, 0, 'value');
    assertRelL2(got.gradient, want.gradient, 0, 'gradient');
  });

  it('an output transferred while the call runs: ERR_SSIM_DETACHED, the new owner\'s memory untouched; other outputs not written', function () {
    const r = expectClean(child(this, `
      (async () => {
        const x = image(1024, 512, 3), y = image(1024, 512, 3);
        const out = new Float32Array(1).fill(NaN), grad = new Float32Array(x.data.length).fill(NaN);
        const p = P.ssimWithGradientInto(out, grad, x, y, { backend: 'cpu' });
        const moved = new Float32Array(structuredClone(grad.buffer, { transfer: [grad.buffer] }));
        moved.fill(42);
        let code = 'resolved';
        try { await p; } catch (e) { code = codeOf(e); }
        const m = new Float32Array(1 << 16);
        const map = P.ssimMapInto(m, { data: x.data.subarray(0, 1 << 16), width: 256, height: 256 }, { data: y.data.subarray(0, 1 << 16), width: 256, height: 256 }, { backend: 'cpu' });
        structuredClone(m.buffer, { transfer: [m.buffer] });
        let mapCode = 'resolved';
        try { await map; } catch (e) { mapCode = codeOf(e); }
        report({ code, mapCode, untouched: moved.every((v) => v === 42), outUnwritten: Number.isNaN(out[0]) });
      })();
    `), 'output transfer');
    assert.strictEqual(r.code, 'ERR_SSIM_DETACHED');
    assert.strictEqual(r.mapCode, 'ERR_SSIM_DETACHED');
    assert.ok(r.untouched, 'the call wrote into memory that belongs to the new owner');
    assert.ok(r.outUnwritten, 'out was written although the call rejected');
  });

  it('a resizable ArrayBuffer or growable SharedArrayBuffer is refused up front (ERR_SSIM_INVALID_ARGUMENT); shrinking it after the call was made is harmless', function () {
    const r = expectClean(child(this, `
      (async () => {
        const codes = {};
        const x = image(512, 512, 3), y = image(512, 512, 3);
        const rab = new ArrayBuffer(x.data.byteLength, { maxByteLength: x.data.byteLength * 2 });
        const xr = { ...x, data: new Float32Array(rab) };
        xr.data.set(x.data);
        try { api.ssim(xr, y); codes.sync = 'returned'; } catch (e) { codes.sync = codeOf(e); }
        const p = P.ssimGradient(xr, y, { backend: 'cpu' });
        rab.resize(0);
        try { await p; codes.async = 'resolved'; } catch (e) { codes.async = codeOf(e); }
        const fixed = new Float32Array(new ArrayBuffer(x.data.byteLength * 2, { maxByteLength: x.data.byteLength * 4 }), 0, x.data.length);
        try { api.ssimGradientInto(fixed, x, y); codes.out = 'returned'; } catch (e) { codes.out = codeOf(e); }
        const gsab = new SharedArrayBuffer(y.data.byteLength, { maxByteLength: y.data.byteLength * 2 });
        try { await P.ssim(x, { ...y, data: new Float32Array(gsab) }); codes.growable = 'resolved'; } catch (e) { codes.growable = codeOf(e); }
        report(codes);
      })();
    `), 'resizable');
    assert.deepStrictEqual(r, { sync: 'ERR_SSIM_INVALID_ARGUMENT', async: 'ERR_SSIM_INVALID_ARGUMENT', out: 'ERR_SSIM_INVALID_ARGUMENT', growable: 'ERR_SSIM_INVALID_ARGUMENT' });
  });

  it('terminating a worker thread with promise calls in flight ends only the worker', function () {
    const r = expectClean(child(this, `
      const { Worker } = require('worker_threads');
      const w = new Worker(\`
        const P = require(process.env.SSIM_PKG_ROOT + '/dist/promises.js');
        const n = 1024 * 768 * 3, a = new Float32Array(n), b = new Float32Array(n);
        for (let i = 0; i < n; i++) { a[i] = (i % 251) / 251; b[i] = (i % 241) / 241; }
        const img = (d) => ({ data: d, width: 1024, height: 768, channels: 3 });
        for (let i = 0; i < 8; i++) P.ssimWithGradient(img(a), img(b), { backend: 'cpu' });
        P.ssimMap(img(a), img(b), { backend: 'cpu' });
        P.ssimInto(new Float32Array(1), img(a), img(b), { backend: 'cpu' });
        // Alive until terminated: on a many-core host the calls can all finish within the 20 ms
        // before terminate(), and a worker that exits on its own resolves terminate() with 0.
        setInterval(() => {}, 1000);
        require('worker_threads').parentPort.postMessage('queued');
      \`, { eval: true });
      w.once('message', () => setTimeout(() => w.terminate().then((code) => {
        // the main thread still computes
        const x = image(64, 64, 1), y = image(64, 64, 1);
        report({ workerExit: code, value: api.ssim(x, y, { backend: 'cpu' }) });
      }), 20));
    `), 'worker terminate');
    assert.strictEqual(r.workerExit, 1, 'terminate() resolves to exit code 1');
    assert.ok(Number.isFinite(r.value), 'the main thread computes after the worker ended');
  });

  it('a promise call whose x.data is detached inside an options getter rejects with ERR_SSIM_DETACHED', function () {
    const r = expectClean(child(this, `
      (async () => {
        const codes = {};
        for (const mode of ['sync', 'async']) {
          const x = image(64, 48, 2), y = image(64, 48, 2);
          const opts = { backend: 'cpu', get sigma() { structuredClone(x.data.buffer, { transfer: [x.data.buffer] }); return 1.5; } };
          try { await (mode === 'sync' ? api.ssimGradient(x, y, opts) : P.ssimGradient(x, y, opts)); codes[mode] = 'returned'; } catch (e) { codes[mode] = codeOf(e); }
        }
        report(codes);
      })();
    `), 'getter detach');
    assert.deepStrictEqual(r, { sync: 'ERR_SSIM_DETACHED', async: 'ERR_SSIM_DETACHED' });
  });
});

describe('lifetime: arrays that are not what they say', function () {
  const opts = { backend: 'cpu' };

  function sharedCopy(a) {
    const s = new a.constructor(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  }

  it('SharedArrayBuffer-backed x, y, out, grad and map: values and gradients as the reference (sync and promises)', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const spec = { width: rng.int(9, 40), height: rng.int(9, 40), channels: rng.int(1, 3), dtype: rng.pick(['float32', 'float64', 'uint8', 'uint16']), layout: rng.pick(['hwc', 'chw']) };
    const { x, y } = makePair(rng, spec);
    const xs = { ...x, data: sharedCopy(x.data) };
    const ys = { ...y, data: sharedCopy(y.data) };
    const sRef = ref.ssimRef(x, y, opts);
    const gRef = ref.ssimGradientRef(x, y, opts);
    const tol = valueTol(x, opts);
    const n = x.data.length;
    const poisonedShared = (len) => { const a = new Float32Array(new SharedArrayBuffer(len * 4)); a.fill(NaN); return a; };
    for (const mode of ['sync', 'async']) {
      const f = mode === 'sync' ? api : p;
      assertClose(await f.ssim(xs, ys, opts), sRef, tol, `${mode} ssim`);
      const out = poisonedShared(1);
      const grad = poisonedShared(n);
      await f.ssimWithGradientInto(out, grad, xs, ys, opts);
      assertAllFinite(grad, `${mode} grad`);
      assertClose(out, sRef, tol, `${mode} out`);
      assertRelL2(grad, gRef, GRAD_TOL, `${mode} grad`);
      const map = poisonedShared(spec.width * spec.height);
      await f.ssimMapInto(map, xs, ys, opts);
      assertAllFinite(map, `${mode} map`);
      const want = api.ssimMap(x, y, opts);
      assertClose(map, want, 0, `${mode} map (SharedArrayBuffer) = map`);
    }
  });

  it('an output that shares memory with x but lies about its buffer is refused (ERR_SSIM_INVALID_ARGUMENT), sync and promises', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const { x, y } = makePair(rng, { width: 20, height: 16, channels: 2 });
    const n = x.data.length;
    const want = toArray(x.data);
    const other = new ArrayBuffer(n * 4);
    const liar = (view) => Object.defineProperty(view, 'buffer', { get() { return other; } });
    const lying = () => {
      const g = liar(new Float32Array(x.data.buffer, x.data.byteOffset, n));
      Object.defineProperty(g, 'byteOffset', { value: 0 });
      return g;
    };
    const expected = { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /share memory/ };
    expectThrow(() => api.ssimGradientInto(lying(), x, y, opts), expected, 'grad = x.data');
    await expectReject(() => p.dssimGradientInto(lying(), x, y, opts), expected, 'async grad = x.data');
    expectThrow(() => api.ssimInto(liar(new Float32Array(y.data.buffer, y.data.byteOffset + 4 * 7, 1)), x, y, opts), expected, 'out inside y.data');
    expectThrow(() => api.ssimMapInto(liar(new Float32Array(x.data.buffer, x.data.byteOffset, 320)), x, y, opts), expected, 'map inside x.data');
    const grad = poisoned(n);
    expectThrow(() => api.ssimWithGradientInto(liar(grad.subarray(5, 6)), grad, x, y, opts), expected, 'out inside grad');
    assert.deepStrictEqual(toArray(x.data), want, 'x.data unchanged');
    // two SharedArrayBuffer objects over one block of memory (structuredClone shares it)
    const xs = { ...x, data: sharedCopy(x.data) };
    const alias = new Float32Array(structuredClone(xs.data.buffer));
    assert.notStrictEqual(alias.buffer, xs.data.buffer);
    expectThrow(() => api.ssimGradientInto(alias, xs, y, opts), expected, 'grad over the same shared memory as x.data');
  });

  it('a typed array whose length, byteLength or byteOffset lies is read by its real size (correct values)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: rng.int(12, 30), height: rng.int(12, 30), channels: 3 });
    const n = x.data.length;
    const sRef = ref.ssimRef(x, y, opts);
    const gRef = ref.ssimGradientRef(x, y, opts);
    const tol = valueTol(x, opts);
    class Liar extends Float32Array {
      get length() { return 7; }
      get byteLength() { return 28; }
      get byteOffset() { return 4; }
    }
    const own = new Float32Array(x.data);
    Object.defineProperty(own, 'length', { value: n / 3 });
    Object.defineProperty(own, 'byteLength', { value: 4 });
    assertClose(api.ssim({ ...x, data: new Liar(x.data), channels: undefined }, y, opts), sRef, tol, 'subclass');
    assertClose(api.ssim({ ...x, data: own, channels: undefined }, y, opts), sRef, tol, 'own length property');
    const grad = new Liar(n).fill(NaN);
    api.ssimGradientInto(grad, x, y, opts);
    assertRelL2(Float32Array.from(Float32Array.prototype.values.call(grad)), gRef, GRAD_TOL, 'grad (subclass)');
    // an array that claims the right length but is short is refused, not read past its end
    const short = new Float32Array(n / 3);
    Object.defineProperty(short, 'length', { value: n });
    expectThrow(() => api.ssim({ ...x, data: short }, y, opts), { code: 'ERR_SSIM_SHAPE', type: RangeError, message: /x\.data/ }, 'short array claiming the full length');
    const shortOut = new Float32Array(n - 1);
    Object.defineProperty(shortOut, 'length', { value: n });
    expectThrow(() => api.ssimGradientInto(shortOut, x, y, opts), { code: 'ERR_SSIM_OUTPUT_SIZE', type: RangeError, message: /grad/ }, 'short grad claiming the full length');
  });

  it('detached arrays and DataViews as x.data, y.data, out, grad, map: coded errors (ERR_SSIM_DETACHED, ERR_SSIM_DTYPE)', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const { x, y } = makePair(rng, { width: 12, height: 10, channels: 2 });
    const detach = (a) => { structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
    const DET = { code: 'ERR_SSIM_DETACHED', type: Error, message: /x\.data/ };
    expectThrow(() => api.ssim({ ...x, data: detach(x.data.slice()) }, y, opts), DET, 'detached x.data');
    await expectReject(() => p.ssim({ ...x, data: detach(x.data.slice()) }, y, opts), DET, 'async detached x.data');
    expectThrow(() => api.ssim(x, { ...y, data: detach(y.data.slice()) }, opts), { ...DET, message: /y\.data/ }, 'detached y.data');
    expectThrow(() => api.ssimInto(detach(new Float32Array(1)), x, y, opts), { ...DET, message: /\bout\b/ }, 'detached out');
    expectThrow(() => api.ssimGradientInto(detach(new Float32Array(x.data.length)), x, y, opts), { ...DET, message: /\bgrad\b/ }, 'detached grad');
    expectThrow(() => api.ssimMapInto(detach(new Float32Array(120)), x, y, opts), { ...DET, message: /\bmap\b/ }, 'detached map');
    const dv = () => { const b = new ArrayBuffer(8); const v = new DataView(b); detach(new Uint8Array(b)); return v; };
    expectThrow(() => api.ssimInto(dv(), x, y, opts), { code: 'ERR_SSIM_DTYPE', type: TypeError, message: /\bout\b.*DataView/ }, 'detached DataView out');
    expectThrow(() => api.ssim({ ...x, data: dv() }, y, opts), { code: 'ERR_SSIM_DTYPE', type: TypeError, message: /x\.data.*DataView/ }, 'detached DataView x.data');
    await expectReject(() => p.ssimGradientInto(dv(), x, y, opts), { code: 'ERR_SSIM_DTYPE', type: TypeError, message: /\bgrad\b/ }, 'async detached DataView grad');
  });

  it('a Proxy of a Workspace, an object made from Workspace.prototype or DeviceArray.prototype: coded errors', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const { x, y } = makePair(rng, { width: 12, height: 10, channels: 2 });
    const ws = api.Workspace.for({ width: 12, height: 10, channels: 2 }, { backend: 'cpu' });
    const WS = { code: 'ERR_SSIM_WORKSPACE', type: TypeError, message: /opts\.workspace/ };
    expectThrow(() => api.ssim(x, y, { ...opts, workspace: new Proxy(ws, {}) }), WS, 'Proxy(Workspace)');
    await expectReject(() => p.ssimGradient(x, y, { ...opts, workspace: new Proxy(ws, {}) }), WS, 'async Proxy(Workspace)');
    expectThrow(() => api.ssim(x, y, { ...opts, workspace: Object.create(api.Workspace.prototype) }), WS, 'Object.create(Workspace.prototype)');
    const fake = Object.create(api.DeviceArray.prototype);
    expectThrow(() => api.ssim({ ...x, data: fake }, y, opts), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /x\.data/ }, 'fake DeviceArray x.data');
    expectThrow(() => api.ssimInto(fake, x, y, opts), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /\bout\b/ }, 'fake DeviceArray out');
    expectThrow(() => api.ssimMapInto(new Proxy(fake, {}), x, y, opts), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /\bmap\b/ }, 'Proxy of a fake DeviceArray as map');
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    expectThrow(() => api.ssim(revoked.proxy, y, opts), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /\bx\b/ }, 'revoked Proxy as x');
    expectThrow(() => api.ssim(x, y, revoked.proxy), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /opts/ }, 'revoked Proxy as opts');
    expectThrow(() => api.ssimInto(revoked.proxy, x, y, opts), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError, message: /\bout\b/ }, 'revoked Proxy as out');
    // the fields calls are checked against cannot be changed
    assert.ok(Object.isFrozen(ws), 'Workspace instances are frozen');
    assert.throws(() => { 'use strict'; ws.elements = 1e12; }, TypeError);
    assert.strictEqual(ws.elements, 240);
    ws.dispose();
    assert.ok(ws.disposed);
  });
});
