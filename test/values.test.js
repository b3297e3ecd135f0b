'use strict';
// SSIM / DSSIM values of the package (default backend: CUDA when usable, else CPU) against the
// float64 reference: random shapes (1x1, strips, 3000x7, odd sizes), every dtype, both layouts,
// channels 1-5, batches, windows 7/9/11, non-default sigma / k1 / k2 / dataRange, 'same' and
// 'valid'. |value - reference| <= 1e-5 (+ a float32 allowance for maps of few pixels, see
// helpers/cases.js valueTol); dssim = 1 - ssim and (1 - ssim) / 2.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { valueCases, build, checkValues, valueTol } = require('./helpers/cases');
const ref = require('./reference');
const { assertClose } = require('./helpers/check');

describe('values: ssim / dssim against the float64 reference (|diff| <= 1e-5 + 6e-5/sqrt(map size))', function () {
  for (const c of valueCases()) {
    it(c.title, function () {
      const rng = testRng(this);
      checkValues(pkg.api(), build(rng, c));
    });
  }

  it('values are not trivially 0 or 1 in these tests (the generator spreads SSIM)', function () {
    const rng = testRng(this);
    const seen = [];
    for (let i = 0; i < 12; i++) {
      const t = build(rng, { make: () => ({ spec: { width: 24, height: 24, mode: 'structured' }, opts: {} }) });
      const v = pkg.api().ssim(t.x, t.y);
      assertClose(v, ref.ssimRef(t.x, t.y), valueTol(t.x), `ssim ${t.desc}`);
      seen.push(v);
    }
    assert.ok(seen.some((v) => Math.abs(v) > 0.2) && seen.every((v) => v < 0.999), `values ${seen}`);
  });

  it('no batch key gives a number; batch: 1 gives Float32Array(1) with the same value', function () {
    const rng = testRng(this);
    const t = build(rng, { make: () => ({ spec: { width: 20, height: 17, channels: 3 }, opts: {} }) });
    const api = pkg.api();
    const v = api.ssim(t.x, t.y);
    assert.strictEqual(typeof v, 'number');
    const vb = api.ssim({ ...t.x, batch: 1 }, { ...t.y, batch: 1 });
    assert.ok(vb instanceof Float32Array && vb.length === 1, `batch 1 gives ${vb}`);
    assertClose(vb, [v], 1e-7, 'batch: 1');
  });
});
