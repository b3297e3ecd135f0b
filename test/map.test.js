'use strict';
// ssimMap / ssimMapInto (and the promise versions) against the float64 reference's per-plane maps
// (test/reference.js ssimMapsRef, averaged over channels here): every dtype, both layouts,
// batches, windows 7/9/11, 'same' and 'valid'; the map's mean is the SSIM value; errors. The CUDA
// map kernel is compared with the CPU map where a GPU is usable (skipped visibly otherwise).

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair } = require('./helpers/images');
const { maxAbsDiff, expectThrow, expectReject } = require('./helpers/check');
const ref = require('./reference');

// Per pixel, float32 against float64: a pixel's SSIM has no averaging to damp the float32
// cancellation in E[x^2] - E[x]^2 (rounding of ~6e-8 * E[x^2] over a denominator that can be as
// small as C2 = 9e-4), so the worst pixel gets 1.5e-4. The mean absolute difference is dominated
// by the few flattest windows of a small image: over 300 random draws of the cases below its
// median was 1.4e-6 and its worst 9.8e-6 (33x21, one channel); it must stay below 2e-5.
// The CPU and CUDA maps are both float32 with different summation orders, so each is held to
// the float64 reference, not to the other.
const MAP_TOL = 1.5e-4;
const MAP_MEAN_TOL = 2e-5;

function assertMapClose(map, expected, what) {
  assert.strictEqual(map.length, expected.length, `${what}: length`);
  const d = maxAbsDiff(map, expected);
  assert.ok(d <= MAP_TOL, `${what}: max |map - reference| = ${d}`);
  let meanAbs = 0;
  for (let i = 0; i < map.length; i++) meanAbs += Math.abs(map[i] - expected[i]) / map.length;
  assert.ok(meanAbs <= MAP_MEAN_TOL, `${what}: mean |map - reference| = ${meanAbs}`);
}

// The reference map: mean over channels of each plane's map, batch maps one after the other.
function refMap(x, y, opts) {
  const s = ref.shapeOf(x);
  const planes = ref.ssimMapsRef(x, y, opts);
  const n = planes[0].map.length;
  const out = new Float64Array(s.batch * n);
  for (let b = 0; b < s.batch; b++) {
    for (let c = 0; c < s.channels; c++) {
      const { map } = planes[b * s.channels + c];
      for (let i = 0; i < n; i++) out[b * n + i] += map[i] / s.channels;
    }
  }
  return { map: out, width: planes[0].region.x1 - planes[0].region.x0, height: planes[0].region.y1 - planes[0].region.y0 };
}

const CASES = [
  { spec: { width: 33, height: 21, channels: 1 }, opts: {} },
  { spec: { width: 40, height: 27, channels: 3, dtype: 'uint8' }, opts: { padding: 'valid' } },
  { spec: { width: 19, height: 31, channels: 4, dtype: 'uint16', layout: 'chw', batch: 3 }, opts: { windowSize: 7 } },
  { spec: { width: 25, height: 25, channels: 2, dtype: 'float64', batch: 2 }, opts: { windowSize: 9, padding: 'valid', sigma: 2 } },
  { spec: { width: 70, height: 45, channels: 3, dtype: 'uint8c' }, opts: { k1: 0.02, k2: 0.05 } },
  { spec: { width: 5, height: 3, channels: 1 }, opts: { windowSize: 11 } },
  { spec: { width: 120, height: 80, channels: 3, dtype: 'float32', range: [0, 255], batch: 2 }, opts: { dataRange: 255 } },
];

describe('ssimMap: per-pixel SSIM map (channel-averaged) against the float64 reference', function () {
  for (const c of CASES) {
    const title = `${Object.entries(c.spec).map(([k, v]) => `${k}=${v}`).join(' ')} ${JSON.stringify(c.opts)}`;
    it(`cpu: ${title}`, function () {
      const api = pkg.api();
      const { x, y } = makePair(testRng(this), c.spec);
      const opts = { ...c.opts, backend: 'cpu' };
      const expected = refMap(x, y, c.opts);
      const map = api.ssimMap(x, y, opts);
      assert.ok(map instanceof Float32Array, 'host inputs give a Float32Array');
      const batch = c.spec.batch || 1;
      assert.strictEqual(map.length, batch * expected.width * expected.height, 'length = batch * map pixels');
      assertMapClose(map, expected.map, 'cpu');
      // the mean of each map is the image's SSIM
      const values = api.ssim({ ...x, batch }, { ...y, batch }, opts);
      const n = expected.width * expected.height;
      for (let b = 0; b < batch; b++) {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += map[b * n + i];
        mean /= n;
        assert.ok(Math.abs(mean - values[b]) <= 2e-6, `image ${b}: map mean ${mean} vs ssim ${values[b]}`);
      }
      const into = new Float32Array(map.length).fill(NaN);
      assert.strictEqual(api.ssimMapInto(into, x, y, opts), into);
      assert.deepStrictEqual(into, map, 'ssimMapInto writes the same map');
    });
  }

  it('ssim(x, x) map is all ones; promises versions give the same maps', async function () {
    const api = pkg.api();
    const promises = pkg.promises();
    const { x, y } = makePair(testRng(this), { width: 31, height: 17, channels: 3, dtype: 'uint8' });
    const same = api.ssimMap(x, x, { backend: 'cpu' });
    for (const v of same) assert.ok(Math.abs(v - 1) <= 1e-6, `map of x against itself: ${v}`);
    const sync = api.ssimMap(x, y, { backend: 'cpu' });
    const async = await promises.ssimMap(x, y, { backend: 'cpu' });
    assert.deepStrictEqual(async, sync);
    const into = new Float32Array(sync.length);
    assert.strictEqual(await promises.ssimMapInto(into, x, y, { backend: 'cpu' }), into);
    assert.deepStrictEqual(into, sync);
  });

  it('errors: wrong map length / type, overlap, bad options, shape mismatch (codes as the other functions)', async function () {
    const api = pkg.api();
    const promises = pkg.promises();
    const { x, y } = makePair(testRng(this), { width: 20, height: 12, channels: 3 });
    expectThrow(() => api.ssimMapInto(new Float32Array(20 * 12 * 3), x, y), { code: 'ERR_SSIM_OUTPUT_SIZE', type: RangeError, message: /map/ });
    expectThrow(() => api.ssimMapInto(new Float32Array(10 * 2), x, y, { padding: 'valid', windowSize: 7 }), { code: 'ERR_SSIM_OUTPUT_SIZE', message: /6 \* 14/ });
    expectThrow(() => api.ssimMapInto(new Float64Array(240), x, y), { code: 'ERR_SSIM_DTYPE', type: TypeError });
    expectThrow(() => api.ssimMapInto([], x, y), { code: 'ERR_SSIM_DTYPE' });
    const shared = new Float32Array(20 * 12 * 3);
    expectThrow(() => api.ssimMapInto(shared.subarray(0, 240), { ...x, data: shared }, y), { code: 'ERR_SSIM_INVALID_ARGUMENT', message: /overlap/ });
    expectThrow(() => api.ssimMap(x, y, { windowSize: 8 }), { code: 'ERR_SSIM_OPTION', message: /windowSize/ });
    expectThrow(() => api.ssimMap(x, { ...y, width: 10 }), { code: 'ERR_SSIM_SHAPE' });
    expectThrow(() => api.ssimMap(x, y, { padding: 'valid', windowSize: 11, backend: 'cpu' }) && api.ssimMap({ ...x, data: x.data.subarray(0, 8 * 8 * 3), width: 8, height: 8 }, { ...y, data: y.data.subarray(0, 8 * 8 * 3), width: 8, height: 8 }, { padding: 'valid' }), { code: 'ERR_SSIM_TOO_SMALL' });
    await expectReject(() => promises.ssimMap(x, y, { sigma: -1 }), { code: 'ERR_SSIM_OPTION' });
  });
});

const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);

describe(`ssimMap on CUDA${gpu ? '' : ' (skipped: CUDA not available)'}`, function () {
  beforeEach(function () {
    if (!gpu) this.skip();
  });

  it('host inputs, backend cuda: the float64 reference map, and its mean is the CUDA ssim value', function () {
    const api = pkg.api();
    for (const spec of [{ width: 67, height: 41, channels: 3, dtype: 'uint8', batch: 3 }, { width: 300, height: 200, channels: 1, layout: 'chw', batch: 1 }]) {
      for (const padding of ['same', 'valid']) {
        const { x, y } = makePair(testRng(this), spec);
        const what = `${JSON.stringify(spec)} ${padding}`;
        const expected = refMap(x, y, { padding });
        const map = api.ssimMap(x, y, { backend: 'cuda', padding });
        assert.ok(map instanceof Float32Array, `${what}: host inputs give a Float32Array`);
        assertMapClose(map, expected.map, what);
        const values = api.ssim(x, y, { backend: 'cuda', padding });
        const n = expected.width * expected.height;
        for (let b = 0; b < spec.batch; b++) {
          let mean = 0;
          for (let i = 0; i < n; i++) mean += map[b * n + i] / n;
          assert.ok(Math.abs(mean - values[b]) <= 2e-6, `${what} image ${b}: map mean ${mean} vs ssim ${values[b]}`);
        }
      }
    }
  });

  it('device inputs give a float32 DeviceArray; ssimMapInto writes a poisoned DeviceArray', function () {
    const api = pkg.api();
    const { x, y } = makePair(testRng(this), { width: 64, height: 48, channels: 3, batch: 2 });
    const expected = refMap(x, y, {}).map;
    const dx = api.DeviceArray.from(x.data);
    const dy = api.DeviceArray.from(y.data);
    try {
      const map = api.ssimMap({ ...x, data: dx }, { ...y, data: dy });
      assert.ok(map instanceof api.DeviceArray && map.dtype === 'float32' && map.length === 2 * 64 * 48);
      assertMapClose(map.toHost(), expected, 'ssimMap');
      const out = api.DeviceArray.from(new Float32Array(map.length).fill(NaN));
      assert.strictEqual(api.ssimMapInto(out, { ...x, data: dx }, { ...y, data: dy }), out);
      assert.deepStrictEqual(out.toHost(), map.toHost(), 'ssimMapInto writes the same map');
      map.dispose();
      out.dispose();
    } finally {
      dx.dispose();
      dy.dispose();
    }
  });
});
